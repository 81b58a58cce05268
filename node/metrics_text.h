// The node's metrics in the Prometheus text exposition format (version 0.0.4): what the node's
// status says (the same NodeStatus `rollcall status` shows, so the two never disagree), the
// counters and histograms it keeps (NodeMetrics) and its storage figures. Names follow
// Prometheus conventions: the `rollcall_` prefix, base units (seconds, bytes), `_total` for
// counters. docs/metrics.txt lists every family; a test keeps the two equal.
//
// No I/O and no state: any thread may call it.
#pragma once

#include <string>

#include "engine/event_log.h"
#include "engine/types.h"
#include "node/node_metrics.h"
#include "schema/wire.capnp.h"

namespace rollcall {

std::string prometheus_text(wire::NodeStatus::Reader status, const NodeMetrics& metrics,
                            const StorageFigures& storage);

}  // namespace rollcall
