#include "cli/status_tree.h"

#include <algorithm>
#include <set>

#include "report/json_out.h"
#include "report/status_view.h"

namespace rollcall::cli {
namespace {

void ask(TreeNode& node, std::chrono::milliseconds timeout, size_t max_nodes, StatusTree& tree,
         const ClientCredentials& credentials) {
  auto answer = ask_node_status(node.address, timeout, credentials);
  if (!answer.ok()) {
    node.problem = answer.error().message();
    return;
  }
  node.reachable = true;
  node.state = std::move(answer).value();
  ++tree.nodes_reached;
  for (const ChildLinkState& child : node.state.children) {
    TreeNode& below = node.children.emplace_back();
    below.unit = child.unit;
    below.address = child.listen_address;
    below.link = child;
    if (below.address.empty()) {
      below.problem = "it did not say where it serves clients";
    } else if (tree.nodes_reached >= max_nodes) {
      below.problem = "not asked: " + std::to_string(max_nodes) + " nodes asked already";
    } else {
      ask(below, timeout, max_nodes, tree, credentials);
    }
  }
}

void reached_units(const TreeNode& node, std::set<std::string>& out) {
  if (node.reachable || node.link) out.insert(node.unit);
  for (const TreeNode& child : node.children) reached_units(child, out);
}

const OriginState* origin_of(const NodeState& state, const std::string& unit) {
  for (const OriginState& o : state.origins)
    if (o.origin == unit) return &o;
  return nullptr;
}

// "12 events behind" from the node's own view (what its parent lacks), else from the parent's
// (what the child reported it has of its own origin and the parent does not).
std::string lag_text(const TreeNode& node, const NodeState* parent) {
  if (node.reachable && !node.state.parents.empty()) return std::to_string(parent_lag_events(node.state)) + " behind";
  if (parent) {
    if (const OriginState* o = origin_of(*parent, node.unit); o && o->head_seq > 0)
      return std::to_string(o->head_seq > o->seq ? o->head_seq - o->seq : 0) + " behind";
  }
  return "";
}

void print_node(const TreeNode& node, const NodeState* parent, const std::string& indent, bool last, bool top,
                const StatusTree& tree, const std::function<std::string(const std::string&)>& name_of,
                std::ostream& out) {
  const std::string name = name_of(node.unit);
  out << indent << (top ? "" : last ? "└─ " : "├─ ") << node.unit << (name.empty() ? "" : " " + name);
  if (node.link) out << ", connected since " << when(node.link->connected_since) << " UTC";
  const std::string lag = lag_text(node, parent);
  if (!lag.empty()) out << ", " << lag;
  // How current the node's own events are, as the top node holds them.
  if (const OriginState* o = origin_of(tree.top.state, node.unit); o && o->newest_recorded_at.micros != 0)
    out << ", data as of " << age(o->newest_recorded_at, tree.now) << " ago";
  if (node.reachable) {
    out << ", at " << node.address;
    if (!node.state.forks.empty()) out << ", FORKS " << node.state.forks.size();
    if (!node.state.alerts.empty()) out << ", alerts " << node.state.alerts.size();
  } else {
    out << " (not asked: " << node.problem << ")";
  }
  out << "\n";
  const std::string next = top ? "" : indent + (last ? "   " : "│  ");
  for (size_t i = 0; i < node.children.size(); ++i)
    print_node(node.children[i], node.reachable ? &node.state : nullptr, next, i + 1 == node.children.size(), false,
               tree, name_of, out);
}

std::string node_json(const TreeNode& node, const NodeState* parent, const StatusTree& tree,
                      const std::function<std::string(const std::string&)>& name_of) {
  std::string children;
  for (const TreeNode& child : node.children)
    children += (children.empty() ? "" : ",") + node_json(child, node.reachable ? &node.state : nullptr, tree, name_of);
  const OriginState* own = origin_of(tree.top.state, node.unit);
  uint64_t lag = 0;
  bool lag_known = false;
  if (node.reachable && !node.state.parents.empty()) {
    lag = parent_lag_events(node.state);
    lag_known = true;
  } else if (parent) {
    if (const OriginState* o = origin_of(*parent, node.unit); o && o->head_seq > 0) {
      lag = o->head_seq > o->seq ? o->head_seq - o->seq : 0;
      lag_known = true;
    }
  }
  const std::string name = name_of(node.unit);
  return JsonObject()
      .add("unit", node.unit)
      .raw("name", name.empty() ? "null" : json_string(name))
      .raw("address", node.address.empty() ? "null" : json_string(node.address))
      .add("reachable", node.reachable)
      .raw("error", node.reachable ? "null" : json_string(node.problem))
      .raw("connectedSince", node.link ? iso_or_null(node.link->connected_since) : "null")
      .raw("lagEvents", lag_known ? std::to_string(lag) : "null")
      .raw("dataAsOf", own ? iso_or_null(own->newest_recorded_at) : "null")
      .raw("forks", node.reachable ? std::to_string(node.state.forks.size()) : "null")
      .raw("alerts", node.reachable ? std::to_string(node.state.alerts.size()) : "null")
      .raw("children", "[" + children + "]")
      .str();
}

}  // namespace

StatusTree ask_status_tree(const std::string& address, std::chrono::milliseconds timeout, size_t max_nodes,
                           const ClientCredentials& credentials) {
  StatusTree tree;
  tree.top.address = address;
  ask(tree.top, timeout, max_nodes, tree, credentials);
  if (!tree.top.reachable) return tree;
  tree.top.unit = tree.top.state.unit;
  tree.now = tree.top.state.now;
  std::set<std::string> reached;
  reached_units(tree.top, reached);
  for (const OriginState& o : tree.top.state.origins)
    if (reached.count(o.origin) == 0) tree.unreached.push_back(o);
  return tree;
}

void print_status_tree(const StatusTree& tree, const std::function<std::string(const std::string&)>& name_of,
                       std::ostream& out) {
  print_node(tree.top, nullptr, "", true, true, tree, name_of, out);
  out << tree.nodes_reached << (tree.nodes_reached == 1 ? " node" : " nodes") << " answered\n";
  if (tree.unreached.empty()) {
    out << "every origin " << tree.top.unit << " holds is a node of this tree that is connected\n";
    return;
  }
  out << "\norigins " << tree.top.unit << " holds whose node is not connected to the tree now (stale first):\n";
  std::vector<OriginState> stale = tree.unreached;
  std::sort(stale.begin(), stale.end(), [](const auto& a, const auto& b) { return a.newest_recorded_at < b.newest_recorded_at; });
  for (const OriginState& o : stale) {
    const std::string name = name_of(o.origin);
    out << "   " << o.origin << (name.empty() ? "" : " " + name) << ": holds seq " << o.seq << ", data as of "
        << when(o.newest_recorded_at) << " UTC (" << age(o.newest_recorded_at, tree.now) << " ago)\n";
  }
}

void print_status_tree_json(const StatusTree& tree, const std::function<std::string(const std::string&)>& name_of,
                            std::ostream& out) {
  std::string unreached;
  for (const OriginState& o : tree.unreached)
    unreached += (unreached.empty() ? "" : ",") + JsonObject()
                                                       .add("origin", o.origin)
                                                       .add("seq", o.seq)
                                                       .raw("dataAsOf", iso_or_null(o.newest_recorded_at))
                                                       .str();
  out << JsonObject()
             .raw("now", iso_or_null(tree.now))
             .add("nodesReached", static_cast<uint64_t>(tree.nodes_reached))
             .raw("top", node_json(tree.top, nullptr, tree, name_of))
             .raw("unreached", "[" + unreached + "]")
             .str()
      << "\n";
}

}  // namespace rollcall::cli
