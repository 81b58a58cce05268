// Human-readable renderings of events for the CLI's tables.
#pragma once

#include <string>

#include "schema/event.capnp.h"

namespace rollcall::cli {

// "memberId=00028-000001 fullName=Bùi Gia Thắng birthDate=1994-09-12": the payload's fields.
std::string payload_summary(schema::Event::Reader event);

}  // namespace rollcall::cli
