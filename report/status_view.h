// What `rollcall status` prints: a node's state (cli/status_query.h) with how the node itself
// was reached, rendered as text tables or as one JSON object. No I/O but the stream written.
//
// Ownership: plain values; one thread.
#pragma once

#include <functional>
#include <ostream>
#include <string>

#include "report/node_state.h"
#include "engine/types.h"

namespace rollcall::cli {

// How the running node was asked, and whether it answered.
struct NodeContact {
  std::string address;  // HOST:PORT asked; "" when none is known
  bool reachable = false;
  bool refused = false;  // nothing accepted the connection: no node runs there
  std::string problem;   // why there is no answer: the error, or why no address is known
};

struct StatusView {
  NodeState state;
  // `state` holds the node's own answer: parents, children, heads and alerts are known.
  bool live = false;
  NodeContact node;
  // The time ages are measured against: the node's clock when it answered, else this host's.
  Timestamp now;
  // A unit's name from the data dir's map; "" when unknown (no data dir, or not in the map).
  std::function<std::string(const std::string&)> name_of;
};

// A node's listen address as a client on its host dials it: a wildcard (0.0.0.0, [::]) becomes
// the loopback address of its family.
std::string dialable_address(std::string address);

// Lag of the node behind its current parent: the sum over origins of the events it holds that
// the parent does not.
uint64_t parent_lag_events(const NodeState& state);

// "2026-11-25 12:30:00" (UTC); "-" for 0 (never, unknown).
std::string when(Timestamp t);
// "45s", "12m", "3h 05m", "2d 04h": how long before `now`; "-" for 0.
std::string age(Timestamp t, Timestamp now);
// "never" or "12m ago".
std::string ago(Timestamp t, Timestamp now);
// The ISO-8601 text as a JSON string, or null for 0.
std::string iso_or_null(Timestamp t);
// The newest event held of any origin: how current the node's data is.
Timestamp data_as_of(const NodeState& s);

// Header, node line, then the parents, children, origins and alerts sections.
void print_status_text(const StatusView& view, std::ostream& out);
// One JSON object (see `rollcall status --help`) and a newline.
void print_status_json(const StatusView& view, std::ostream& out);

}  // namespace rollcall::cli
