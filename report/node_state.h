// A node's state as operators see it (`rollcall status`, the node's /api/status): plain values
// copied from the wire's NodeStatus (schema/wire.capnp) and from what the node's log holds.
// Shared by the CLI, which asks a node over the wire, and the node, which answers its HTTP
// listener from its own status.
//
// Ownership: plain values; one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/event_log.h"
#include "engine/status.h"
#include "engine/types.h"
#include "schema/wire.capnp.h"

namespace rollcall::cli {

// One configured parent of the node, as its uplink sees it.
struct ParentLinkState {
  std::string address;  // HOST:PORT as configured
  uint32_t rank = 0;    // 0: most preferred
  std::string unit;     // from the parent's hello; "" until it answered once
  bool connected = false;
  Timestamp connected_since;  // 0: not connected
  Timestamp last_ack_at;      // 0: never since the node started
  std::string last_error;
  uint64_t events_acked = 0;
  // While the node takes its own events back from this parent: seqs from..to, next to take.
  uint64_t taking_back_from = 0, taking_back_next = 0, taking_back_to = 0;
};

// One child node connected now.
struct ChildLinkState {
  std::string unit;
  std::string address;
  std::string incarnation;  // raw bytes
  Timestamp connected_since;
  Timestamp last_message_at;
  uint64_t events_applied = 0;
  uint64_t events_duplicate = 0;
  std::string listen_address;  // where it serves clients, as it said; "" when not said
};

// How much of one origin the node holds, and how much exists below and above it.
struct OriginState {
  std::string origin;
  uint64_t seq = 0;              // the node's watermark
  Timestamp newest_recorded_at;  // "data as of"; 0: nothing held
  uint64_t head_seq = 0;         // as the children last reported it; 0: not reported
  Timestamp head_recorded_at;
  uint64_t parent_seq = 0;             // held by the current parent
  std::optional<uint64_t> chain_hash;  // from the data dir, at `seq`
};

// A fork recorded in the data dir: `peer` holds another history of `origin` from `first_seq`.
struct ForkState {
  std::string origin;
  std::string peer;
  uint64_t first_seq = 0;  // 0: not known
  Timestamp seen_at;
};

struct AlertState {
  Timestamp at;
  std::string message;
};

// A node's state: from its data dir (unit, incarnation, last LSN, origins) and, when the node
// answered, from the node itself (everything, and the only source of links and alerts).
struct NodeState {
  std::string unit;
  std::string incarnation;  // raw bytes
  Timestamp now;            // the node's clock; 0 when it did not answer
  Lsn last_lsn;
  std::vector<ParentLinkState> parents;
  std::vector<ChildLinkState> children;
  std::vector<OriginState> origins;
  std::vector<AlertState> alerts;
  std::vector<ForkState> forks;  // from the data dir, or the node's answer
};

// A copy of a node's answer.
NodeState node_state_of(wire::NodeStatus::Reader status);

// What `log` holds: unit, incarnation, last LSN, every origin's watermark (with its chain hash)
// and the recorded forks. On a writer, safe from any thread (it reads RocksDB only).
Result<NodeState> held_state_of(const EventLog& log);

// The node's answer with what its log holds added: origins the answer lacks, chain hashes where
// both say the same seq, and the forks and incarnation an older node does not send.
NodeState merge_held(const NodeState& held, NodeState node);

// Parents by rank, children and origins by unit code.
void sort_for_display(NodeState& state);

}  // namespace rollcall::cli
