// Copying events out of untrusted messages.
//
// Cap'n Proto's own copy (setWithCaveats, newOrphanCopy) follows pointers without charging the
// reader's traversal limit, so a small message whose events all point at one large text would
// be copied once per event: a 2 MB frame becomes gigabytes. This copy reads every field through
// the reader's accessors, which charge the limit, so an amplified message fails with a
// kj::Exception (call it inside guard_capnp) after at most the limit's worth of reading.
#pragma once

#include "schema/event.capnp.h"

namespace rollcall {

// Deep-copies `from` into `to` (a freshly initialized Event). A union discriminant this build
// does not know is kept as it is (its payload cannot be read), so validation can name it.
void copy_event_checked(schema::Event::Reader from, schema::Event::Builder to);

}  // namespace rollcall
