// The node's metrics in the Prometheus text exposition format (version 0.0.4), rendered from
// the same NodeStatus that `rollcall status` shows, so the two never disagree. Names follow
// Prometheus conventions: the `rollcall_` prefix, base units (seconds), `_total` for counters.
//
// No I/O and no state: any thread may call it.
#pragma once

#include <string>

#include "engine/types.h"
#include "schema/wire.capnp.h"

namespace rollcall {

std::string prometheus_text(wire::NodeStatus::Reader status);

}  // namespace rollcall
