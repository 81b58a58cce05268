// What `rollcall status` shows of a node, and asking a running node for it: the wire's
// StatusRequest -> NodeStatus exchange (schema/wire.capnp), copied into plain values.
//
// One deadline covers the whole exchange (connect, hellos, answer), so a node that
// accepts the connection and then says nothing (stopped with SIGSTOP, hung, or another program
// on a stale address) costs the operator at most the timeout; NodeClient, made for submits,
// waits for answers without one. (A host name is resolved by the system resolver, whose own
// timeout can outlast ours; the addresses nodes write and operators give are mostly numeric.)
//
// Ownership: plain values; ask_node_status runs on the caller's thread and keeps nothing.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/status.h"
#include "engine/types.h"
#include "net/client_credentials.h"

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

// Connects to HOST:PORT, exchanges hellos as a client and asks for the node's status.
// Errors: kInvalidInput for a malformed address; kUnavailable when nothing accepts the
// connection (refused, unreachable, unresolvable, or the timeout passed while connecting);
// kBusy when the connection was accepted but no answer came within the timeout; kPeerGone
// when the node closed the connection; kIncompatible for another protocol version; kProtocol
// when it answered with an error (e.g. a node too old to know StatusRequest) or something else.
// With TLS credentials (by default the environment's, net/client_credentials.h).
Result<NodeState> ask_node_status(const std::string& host_port, std::chrono::milliseconds timeout,
                                  const ClientCredentials& credentials = ClientCredentials::from_env());

}  // namespace rollcall::cli
