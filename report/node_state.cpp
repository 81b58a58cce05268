#include "report/node_state.h"

#include <algorithm>
#include <map>

#include "engine/replication.h"

namespace rollcall::cli {
namespace {

Timestamp at(int64_t micros) {
  return Timestamp{micros};
}
std::string bytes_of(capnp::Data::Reader data) {
  return std::string(data.asChars().begin(), data.size());
}

}  // namespace

NodeState node_state_of(wire::NodeStatus::Reader s) {
  NodeState out;
  out.unit = s.getUnit().cStr();
  out.incarnation = bytes_of(s.getIncarnation());
  out.now = at(s.getNow());
  out.last_lsn = Lsn{s.getLastLsn()};
  for (auto p : s.getParents())
    out.parents.push_back({p.getAddress().cStr(), p.getRank(), p.getUnit().cStr(), p.getConnected(),
                           at(p.getConnectedSince()), at(p.getLastAckAt()), p.getLastError().cStr(),
                           p.getEventsAcked(), p.getTakingBackFrom(), p.getTakingBackNext(),
                           p.getTakingBackTo()});
  for (auto c : s.getChildren())
    out.children.push_back({c.getUnit().cStr(), c.getAddress().cStr(), bytes_of(c.getIncarnation()),
                            at(c.getConnectedSince()), at(c.getLastMessageAt()),
                            c.getEventsApplied(), c.getEventsDuplicate(), c.getListenAddress().cStr()});
  for (auto o : s.getOrigins())
    out.origins.push_back({o.getOrigin().cStr(), o.getSeq(), at(o.getNewestRecordedAt()),
                           o.getHeadSeq(), at(o.getHeadRecordedAt()), o.getParentSeq(),
                           std::nullopt});
  for (auto a : s.getAlerts()) out.alerts.push_back({at(a.getAt()), a.getMessage().cStr()});
  for (auto f : s.getForks())
    out.forks.push_back({f.getOrigin().cStr(), f.getPeer().cStr(), f.getFirstSeq(), at(f.getSeenAt())});
  return out;
}


Result<NodeState> held_state_of(const EventLog& log) {
  NodeState s;
  s.unit = log.unit().str();
  s.incarnation = log.incarnation();
  s.last_lsn = log.last_lsn();
  auto marks = log.watermarks();
  if (!marks.ok()) return marks.error();
  for (const Watermark& w : *marks) {
    OriginState o;
    o.origin = w.origin.str();
    o.seq = w.seq;
    o.newest_recorded_at = w.newest_recorded_at;
    o.chain_hash = w.chain_hash;
    s.origins.push_back(std::move(o));
  }
  auto forks = log.forks();
  if (!forks.ok()) return forks.error();
  for (const ForkRecord& f : *forks) s.forks.push_back({f.origin.str(), f.peer.str(), f.first_seq, f.seen_at});
  return s;
}

// The node's address from DIR/rollcalld.address (one line, HOST:PORT); nullopt when there is
// no such file. A wildcard listen address is asked on loopback.
NodeState merge_held(const NodeState& dir, NodeState node) {
  node.last_lsn = std::max(node.last_lsn, dir.last_lsn);
  if (node.forks.empty()) node.forks = dir.forks;  // an older node does not send them
  if (node.incarnation.empty()) node.incarnation = dir.incarnation;
  std::map<std::string, size_t> index;  // origin -> position in node.origins
  for (size_t i = 0; i < node.origins.size(); ++i) index.emplace(node.origins[i].origin, i);
  for (const OriginState& held : dir.origins) {
    auto it = index.find(held.origin);
    if (it == index.end())
      node.origins.push_back(held);
    else if (node.origins[it->second].seq == held.seq)
      node.origins[it->second].chain_hash = held.chain_hash;
  }
  return node;
}

void sort_for_display(NodeState& s) {
  std::sort(s.parents.begin(), s.parents.end(),
            [](const auto& a, const auto& b) { return a.rank < b.rank; });
  std::sort(s.children.begin(), s.children.end(),
            [](const auto& a, const auto& b) { return a.unit < b.unit; });
  std::sort(s.origins.begin(), s.origins.end(),
            [](const auto& a, const auto& b) { return a.origin < b.origin; });
}

// Asks the node at `address` for its status and puts its answer in `view`: over the data dir's
// part when `from_dir`, provided it is that data dir's node.
}  // namespace rollcall::cli
