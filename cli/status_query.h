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

#include "report/node_state.h"
#include "net/client_credentials.h"

namespace rollcall::cli {

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
