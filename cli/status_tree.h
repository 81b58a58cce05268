// `rollcall status --tree`: a node's whole subtree of nodes, each asked in turn. A node's status
// lists the child nodes connected to it with the address each serves clients on (their hello's
// listenAddress); those are asked next, and so on down. What a node cannot be asked (not
// connected, not reachable from here) is shown from its parent's side, and every origin the top
// node holds that no reached node accounts for is listed with how current its data is: the
// communes that are stale.
//
// Ownership: plain values; one thread (each ask blocks for at most the timeout).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "cli/status_query.h"

namespace rollcall::cli {

struct TreeNode {
  std::string unit;
  std::string address;  // where it was asked ("" when it did not say where it serves)
  bool reachable = false;
  std::string problem;  // why not, when not reachable
  NodeState state;      // its own answer, when reachable
  std::optional<ChildLinkState> link;  // how its parent sees it (none for the top)
  std::vector<TreeNode> children;
};

struct StatusTree {
  TreeNode top;
  Timestamp now;  // the top node's clock
  // Origins the top holds whose node was not reached (not connected, or not reachable from here).
  std::vector<OriginState> unreached;
  size_t nodes_reached = 0;
};

// Asks `address` and, recursively, the children each node reports (at most `max_nodes` in all).
// Every node is asked with the same credentials (a node and its children trust the same CA).
StatusTree ask_status_tree(const std::string& address, std::chrono::milliseconds timeout, size_t max_nodes = 500,
                           const ClientCredentials& credentials = ClientCredentials::from_env());

// An indented tree, a line per node, then the unreached origins. `name_of` gives unit names
// ("" when unknown).
void print_status_tree(const StatusTree& tree, const std::function<std::string(const std::string&)>& name_of,
                       std::ostream& out);
// One JSON object: the top node with nested children, and `unreached`.
void print_status_tree_json(const StatusTree& tree, const std::function<std::string(const std::string&)>& name_of,
                            std::ostream& out);

}  // namespace rollcall::cli
