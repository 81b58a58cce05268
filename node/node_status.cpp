#include "node/node_status.h"

#include <map>

#include "node/node_log.h"

namespace rollcall {

void fill_node_status(wire::NodeStatus::Builder status, const EventLog& log, const Server& server,
                      const Uplink* uplink, const Alerts& alerts, Timestamp now) {
  status.setUnit(log.unit().str());
  status.setIncarnation(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(log.incarnation().data()),
                                            log.incarnation().size()));
  status.setNow(now.micros);
  status.setLastLsn(log.last_lsn().value);

  if (uplink) uplink->fill_status(status.initParents(static_cast<unsigned>(uplink->parent_count())));
  server.fill_children(status.initChildren(static_cast<unsigned>(server.child_count())));

  // Every origin held here or reported by a child.
  struct Row {
    uint64_t seq = 0;
    Timestamp newest;
    OriginHead head;
    uint64_t parent_seq = 0;
  };
  std::map<UnitCode, Row> rows;
  auto marks = log.watermarks();
  if (marks.ok()) {
    for (const auto& w : *marks) {
      rows[w.origin].seq = w.seq;
      rows[w.origin].newest = w.newest_recorded_at;
    }
  } else {
    node_log()->error("status: reading watermarks: {}", marks.error().message());
  }
  for (const auto& [origin, head] : server.child_heads()) rows[origin].head = head;
  if (uplink)
    for (const auto& [origin, seq] : uplink->parent_seqs()) rows[origin].parent_seq = seq;
  auto origins = status.initOrigins(static_cast<unsigned>(rows.size()));
  unsigned i = 0;
  for (const auto& [origin, row] : rows) {
    auto out = origins[i++];
    out.setOrigin(origin.str());
    out.setSeq(row.seq);
    out.setNewestRecordedAt(row.newest.micros);
    out.setHeadSeq(row.head.seq);
    out.setHeadRecordedAt(row.head.newest_recorded_at.micros);
    out.setParentSeq(row.parent_seq);
  }

  auto forks = log.forks();
  if (!forks.ok()) node_log()->error("status: reading fork records: {}", forks.error().message());
  const auto recorded = forks.ok() ? std::move(forks).value() : std::vector<ForkRecord>{};
  auto fork_list = status.initForks(static_cast<unsigned>(recorded.size()));
  for (unsigned f = 0; f < recorded.size(); ++f) {
    fork_list[f].setOrigin(recorded[f].origin.str());
    fork_list[f].setPeer(recorded[f].peer.str());
    fork_list[f].setFirstSeq(recorded[f].first_seq);
    fork_list[f].setSeenAt(recorded[f].seen_at.micros);
  }

  const auto& kept = alerts.newest();
  auto list = status.initAlerts(static_cast<unsigned>(kept.size()));
  for (unsigned a = 0; a < kept.size(); ++a) {
    list[a].setAt(kept[a].at.micros);
    list[a].setMessage(kept[a].message);
  }
}

}  // namespace rollcall
