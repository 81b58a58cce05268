// The answer to a client's status request: what only the running node knows (its links, its
// children, the heads they report, its alerts) with its watermarks, in one NodeStatus.
#pragma once

#include "engine/event_log.h"
#include "node/alerts.h"
#include "node/server.h"
#include "node/uplink.h"
#include "schema/wire.capnp.h"

namespace rollcall {

// `uplink` is null for a node without parents. Runs on the io_context's thread.
void fill_node_status(wire::NodeStatus::Builder status, const EventLog& log, const Server& server,
                      const Uplink* uplink, const Alerts& alerts, Timestamp now);

}  // namespace rollcall
