// The simulator's nodes (replication_sim.h): their logs, client submits, the single writer,
// crashes, re-creations, isolations and the choice of parent.
#include <capnp/message.h>

#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/event_json.h"
#include "tests/support/replication_sim.h"

namespace rollcall::testing {
namespace {

const EventJson& event_json() {
  static const EventJson json;
  return json;
}

}  // namespace

void ReplicationSim::copy_fresh_data_dir(const UnitCode& unit, const std::string& dir) {
  // Per map and unit, a data dir created by open_writer and closed untouched.
  static std::map<std::pair<const UnitMap*, UnitCode>, std::unique_ptr<SimDir>> fresh;
  auto& made = fresh[{&map_, unit}];
  if (!made) {
    auto created = std::make_unique<SimDir>();
    LogOptions options;
    options.dir = created->path() + "/data";
    options.unit = unit;
    options.min_free_bytes = 0;
    options.synced_writes = false;
    auto log = EventLog::open_writer(options, map_);
    if (!log.ok()) {
      failures_.push_back("node " + unit.str() + ": creating its log: " + log.error().message());
      return;  // open_log then creates it in place
    }
    made = std::move(created);
  }
  std::error_code ec;
  std::filesystem::copy(made->path() + "/data", dir + "/data", std::filesystem::copy_options::recursive, ec);
  if (ec) failures_.push_back("node " + unit.str() + ": copying a fresh data dir: " + ec.message());
}

void ReplicationSim::open_log(Node& n) {
  LogOptions options;
  options.dir = n.dir->path() + "/data";
  options.unit = n.unit;
  options.min_free_bytes = 0;
  options.synced_writes = false;  // a crash closes the log: every write it acknowledged survives
  auto log = EventLog::open_writer(options, map_);
  if (!log.ok()) {
    failures_.push_back("node " + n.unit.str() + ": opening its log: " + log.error().message());
    return;  // it stays down, and heal() says so
  }
  n.log = std::move(*log);
  n.own_checked = n.must_recover = false;  // a start: submits wait for a parent's word
  n.submit_gate_us = n.restored ? std::numeric_limits<int64_t>::max() : now_ + options_.submit_gate_us;
}

void ReplicationSim::schedule_submits(const UnitCode& unit, const std::vector<std::string>& lines,
                                      int64_t from_us, int64_t to_us) {
  Node& n = node(unit);
  std::vector<int64_t> times;
  for (size_t i = 0; i < lines.size();) {
    const size_t size = std::min(lines.size() - i, static_cast<size_t>(random_.between(1, 5)));
    n.submits.emplace_back(lines.begin() + static_cast<std::ptrdiff_t>(i),
                           lines.begin() + static_cast<std::ptrdiff_t>(i + size));
    times.push_back(now_ + random_.between(from_us, to_us));
    i += size;
  }
  // Each event submits the oldest chunk waiting, so chunks go in order whatever the times.
  for (int64_t time : times) at(time, [this, &n] { submit_next(n); });
}

void ReplicationSim::submit_next(Node& n) {
  if (n.submits.empty()) return;
  if (!submits_may_go(n)) {  // the client retries later
    at(now_ + 100'000, [this, &n] { submit_next(n); });
    return;
  }
  const std::vector<std::string> lines = std::move(n.submits.front());
  n.submits.pop_front();
  std::vector<std::unique_ptr<capnp::MallocMessageBuilder>> messages;
  std::vector<schema::Event::Reader> events;
  std::vector<const std::string*> parsed_lines;
  for (const std::string& line : lines) {
    auto& message = messages.emplace_back(std::make_unique<capnp::MallocMessageBuilder>());
    auto parsed = event_json().parse(line, message->initRoot<schema::Event>());
    if (!parsed.ok()) {
      rejections_.push_back("node " + n.unit.str() +
                            ": unparsable line: " + parsed.error().message() + ": " + line);
      continue;
    }
    events.push_back(message->getRoot<schema::Event>().asReader());
    parsed_lines.push_back(&line);
  }
  ++stats_.submits;
  const auto outcomes = n.log->submit(events, Timestamp{now_});
  size_t accepted = 0;
  for (size_t i = 0; i < outcomes.size(); ++i) {
    if (outcomes[i].accepted) {
      ++accepted;
    } else {
      rejections_.push_back("node " + n.unit.str() + ": refused: " +
                            (outcomes[i].rejected ? outcomes[i].rejected->message : "?") + ": " +
                            *parsed_lines[i]);
    }
  }
  n.accepted += accepted;
  if (accepted > 0) log_grew(n);
}

bool ReplicationSim::submits_may_go(Node& n) {
  if (!n.up()) return false;
  if (n.parents.empty()) return true;
  if (n.must_recover) return false;  // refused until the node's own events are back
  return n.own_checked || now_ >= n.submit_gate_us;
}

void ReplicationSim::queue_ingest(Node& n, uint64_t connection, Side side, IngestJob job) {
  n.writer.push_back(Node::WriterJob{connection, side, std::move(job)});
  if (n.writer_scheduled) return;
  n.writer_scheduled = true;
  const uint64_t epoch = n.epoch;
  at(now_ + random_.between(0, options_.max_write_delay_us),
     [this, &n, epoch] { run_writer(n, epoch); });
}

void ReplicationSim::run_writer(Node& n, uint64_t epoch) {
  if (n.epoch != epoch) return;  // crashed meanwhile: the queued jobs died with the process
  n.writer_scheduled = false;
  if (n.writer.empty()) return;
  Node::WriterJob done = std::move(n.writer.front());
  n.writer.pop_front();
  const IngestJob& job = done.job;
  ++stats_.ingests;
  const Result<IngestReport> result = n.log->ingest(job.events);
  if (!result.ok() && result.error().kind() != ErrorKind::kConflict &&
      result.error().kind() != ErrorKind::kProtocol)
    failures_.push_back("node " + n.unit.str() + ": ingest failed: " + result.error().message());
  if (Connection* c = connection(done.connection);
      c != nullptr && (done.side == kParent ? !!c->down : !!c->up)) {
    Outbox out;
    if (done.side == kParent)
      c->down->on_ingested(result, Timestamp{now_}, out);
    else
      c->up->on_ingested(result, Timestamp{now_}, out);
    apply(*c, done.side, out);
  }
  if (result.ok() && result->applied > 0) log_grew(n);
  if (!n.writer.empty() && !n.writer_scheduled) {
    n.writer_scheduled = true;
    at(now_ + random_.between(0, options_.max_write_delay_us),
       [this, &n, epoch] { run_writer(n, epoch); });
  }
}

void ReplicationSim::log_grew(Node& n) {
  Connection* c = connection(n.uplink);
  if (c == nullptr || !c->up || !c->up->streaming()) return;
  Outbox out;
  c->up->on_log_grew(Timestamp{now_}, out);
  apply(*c, kChild, out);
}

void ReplicationSim::stop_node(Node& n) {
  std::vector<uint64_t> ids;
  for (const auto& [id, c] : connections_)
    if (c->child == n.unit || c->parent == n.unit) ids.push_back(id);
  for (uint64_t id : ids) cut(id);  // the sessions borrow the log: before it closes
  ++n.epoch;
  n.attempt_pending = false;
  n.uplink = 0;
  n.writer.clear();
  n.writer_scheduled = false;
  n.log.reset();
}

void ReplicationSim::crash(const UnitCode& unit) {
  Node& n = node(unit);
  stop_node(n);
  restart_later(n, random_.between(options_.restart_min_us, options_.restart_max_us));
}

void ReplicationSim::restart_later(Node& n, int64_t delay_us) {
  const uint64_t epoch = n.epoch;
  at(now_ + delay_us, [this, &n, epoch] {
    if (n.epoch != epoch) return;
    open_log(n);
    if (n.up() && !n.parents.empty()) attempt_uplink_later(n, 0, 0);
  });
}

void ReplicationSim::recreate(const UnitCode& unit) {
  Node& n = node(unit);
  stop_node(n);
  n.dir = std::make_unique<SimDir>();  // the old dir and everything in it are gone
  open_log(n);
  if (n.up() && !n.parents.empty()) attempt_uplink_later(n, 0, 0);
}

void ReplicationSim::backup(const UnitCode& unit) {
  Node& n = node(unit);
  if (!n.up()) return;
  auto dir = std::make_unique<SimDir>();
  if (auto copied = n.log->checkpoint(dir->path() + "/data"); !copied.ok()) {
    failures_.push_back("node " + n.unit.str() + ": backup: " + copied.error().message());
    return;
  }
  ++stats_.backups;
  n.backup = std::move(dir);
}

bool ReplicationSim::restore(const UnitCode& unit, bool clients_wait_for_parent) {
  Node& n = node(unit);
  if (!n.backup) return false;
  ++stats_.restores;
  stop_node(n);
  n.dir = std::make_unique<SimDir>();
  std::error_code ec;
  std::filesystem::copy(n.backup->path() + "/data", n.dir->path() + "/data", std::filesystem::copy_options::recursive,
                        ec);
  if (ec) failures_.push_back("node " + n.unit.str() + ": restoring its backup: " + ec.message());
  n.restored = clients_wait_for_parent;
  open_log(n);
  if (n.up() && !n.parents.empty()) attempt_uplink_later(n, 0, 0);
  return true;
}

bool ReplicationSim::restore_pending_within(const UnitCode& unit) const {
  for (const auto& [code, n] : nodes_)
    if (n->restored && map_.in_subtree(code, unit)) return true;
  return false;
}

bool ReplicationSim::own_events_held_by_every_parent(const UnitCode& unit) const {
  const Node& n = node(unit);
  if (!n.up()) return false;
  const auto seq_at = [&](const EventLog& log) -> uint64_t {
    auto marks = log.watermarks();
    if (!marks.ok()) return 0;
    for (const Watermark& w : *marks)
      if (w.origin == unit) return w.seq;
    return 0;
  };
  const uint64_t own = seq_at(*n.log);
  for (const UnitCode& parent : n.parents) {
    const Node& p = node(parent);
    if (!p.up() || seq_at(*p.log) < own) return false;
  }
  return true;
}

void ReplicationSim::isolate(const UnitCode& unit, int64_t duration_us) {
  isolate(node(unit), duration_us);
}

void ReplicationSim::isolate(Node& n, int64_t duration_us) {
  ++stats_.isolations;
  n.isolated_until_us = now_ + duration_us;
  std::vector<uint64_t> ids;
  for (const auto& [id, c] : connections_)
    if (c->child == n.unit || c->parent == n.unit) ids.push_back(id);
  for (uint64_t id : ids) cut(id);
}

void ReplicationSim::attempt_uplink_later(Node& n, size_t rank, int64_t delay_us) {
  if (n.attempt_pending || n.parents.empty()) return;
  n.attempt_pending = true;
  const uint64_t epoch = n.epoch;
  at(now_ + delay_us, [this, &n, rank, epoch] {
    if (n.epoch != epoch) return;
    n.attempt_pending = false;
    attempt_uplink(n, rank);
  });
}

void ReplicationSim::attempt_uplink(Node& n, size_t rank) {
  if (!n.up() || n.uplink != 0) return;
  const int64_t backoff = random_.between(options_.backoff_min_us, options_.backoff_max_us);
  if (n.isolated_until_us > now_) {
    attempt_uplink_later(n, 0, n.isolated_until_us - now_ + backoff);
    return;
  }
  Node& parent = node(n.parents[rank]);
  if (!reachable(parent)) {  // refused: the next parent after a round trip, else back off
    ++stats_.refused;
    if (rank + 1 < n.parents.size())
      attempt_uplink_later(n, rank + 1, 2 * latency());
    else
      attempt_uplink_later(n, 0, backoff);
    return;
  }
  connect(n, parent, rank);
}

void ReplicationSim::probe_preferred(Node& n) {
  if (n.uplink == 0 || !n.up()) return;
  Connection* c = connection(n.uplink);
  if (c == nullptr || c->rank == 0 || now_ < n.next_probe_us) return;
  n.next_probe_us = now_ + random_.between(options_.probe_interval_us * 4 / 5,
                                           options_.probe_interval_us * 6 / 5);
  for (size_t rank = 0; rank < c->rank; ++rank) {
    if (!reachable(node(n.parents[rank]))) continue;
    ++stats_.switches_back;
    n.uplink = 0;  // detached first: closing it schedules no backoff
    close_side(*c, kChild, "switching back to preferred parent " + n.parents[rank].str());
    attempt_uplink_later(n, 0, 0);
    return;
  }
}

}  // namespace rollcall::testing
