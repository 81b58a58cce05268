// The status page's HTML (node/web/status.html), generated into the build tree by
// cmake/embed_text.cmake. Constant data: any thread.
#pragma once

#include <string_view>

namespace rollcall {

std::string_view status_page_html();

}  // namespace rollcall
