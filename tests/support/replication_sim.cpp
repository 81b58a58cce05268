// The simulator's event loop, options, ticks and fault schedule (replication_sim.h). Nodes are in
// replication_sim_node.cpp, connections and frames in replication_sim_link.cpp.
#include "tests/support/replication_sim.h"

#include <sys/statvfs.h>
#include <sys/vfs.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <stdexcept>

namespace rollcall::testing {

// --- directories ---

namespace {

constexpr long kTmpfsMagic = 0x01021994;  // TMPFS_MAGIC of <linux/magic.h>

bool ram_fs_with_room(const char* dir) {
  struct statfs fs {};
  struct statvfs space {};
  if (statfs(dir, &fs) != 0 || static_cast<long>(fs.f_type) != kTmpfsMagic) return false;
  if (statvfs(dir, &space) != 0) return false;
  return static_cast<double>(space.f_bavail) * static_cast<double>(space.f_frsize) >= 2.0 * (1ull << 30);
}

}  // namespace

const std::string& SimDir::root() {
  static const std::string root = [] {
    if (const char* chosen = std::getenv("ROLLCALL_SIM_DIR"); chosen != nullptr && *chosen != '\0')
      return std::string(chosen);
    if (ram_fs_with_room("/dev/shm")) return std::string("/dev/shm");
    return std::filesystem::temp_directory_path().string();
  }();
  return root;
}

SimDir::SimDir() {
  std::string tmpl = root() + "/rollcall-sim-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed under " + root());
  path_ = tmpl;
}

SimDir::~SimDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

// --- randomness and options ---

int64_t SimRandom::between(int64_t lo, int64_t hi) {
  if (hi <= lo) return lo;
  const auto span = static_cast<uint64_t>(hi - lo) + 1;
  return lo + static_cast<int64_t>(engine_() % span);
}

double SimRandom::unit() {
  return static_cast<double>(engine_() >> 11) * 0x1.0p-53;
}

bool SimFaults::any() const {
  return drop > 0 || duplicate > 0 || reorder > 0 || cut > 0 || crash_per_s > 0 ||
         isolate_per_s > 0 || restore_per_s > 0;
}

SimFaults SimFaults::draw(SimRandom& random) {
  auto rate = [&](double max) { return random.chance(0.25) ? 0.0 : random.unit() * max; };
  SimFaults f;
  f.drop = rate(0.03);
  f.duplicate = rate(0.03);
  f.reorder = rate(0.03);
  f.cut = rate(0.005);
  f.crash_per_s = rate(0.1);
  f.isolate_per_s = rate(0.05);
  f.backup_per_s = rate(0.2);
  f.restore_per_s = f.backup_per_s > 0 ? rate(0.05) : 0.0;
  return f;
}

std::string SimFaults::describe() const {
  std::ostringstream text;
  text << "drop " << drop << ", duplicate " << duplicate << ", reorder " << reorder << ", cut "
       << cut << " per frame; crash " << crash_per_s << ", isolate " << isolate_per_s << ", backup "
       << backup_per_s << ", restore " << restore_per_s << " per node-second";
  return text.str();
}

SimOptions SimOptions::draw(SimRandom& random) {
  SimOptions o;
  o.replication.heartbeat_interval_us = 200'000;
  o.replication.idle_timeout_us = 1'000'000;
  o.replication.ack_timeout_us = 2'000'000;
  o.replication.window = static_cast<size_t>(random.between(1, 4));
  o.replication.max_batch_events = static_cast<size_t>(random.between(1, 50));
  // Now and then a byte bound that cuts batches short of the count bound.
  o.replication.max_batch_bytes =
      random.chance(0.3) ? static_cast<size_t>(random.between(300, 3000)) : 1u << 20;
  o.faults = SimFaults::draw(random);
  return o;
}

std::string SimOptions::describe() const {
  std::ostringstream text;
  text << "window " << replication.window << ", batches of at most " << replication.max_batch_events
       << " events and " << replication.max_batch_bytes << " bytes; faults: " << faults.describe();
  return text.str();
}

std::string SimStats::describe() const {
  std::ostringstream text;
  text << frames << " frames (" << dropped << " dropped, " << duplicated << " duplicated, "
       << reordered << " reordered), " << connections << " connections (" << refused << " refused, "
       << closes << " closed by a session, " << cuts << " cut, " << switches_back
       << " switches back), " << crashes << " crashes, " << isolations << " isolations, " << backups << " backups, " << restores
       << " restores, " << ingests
       << " ingests, " << submits << " submits";
  return text.str();
}

// --- the simulator ---

ReplicationSim::ReplicationSim(const UnitMap& map, uint64_t seed)
    : map_(map), seed_(seed), random_(seed), options_(SimOptions::draw(random_)) {}

ReplicationSim::~ReplicationSim() {
  // Sessions borrow the logs: end them first.
  connections_.clear();
  for (auto& [unit, n] : nodes_) n->writer.clear();
}

void ReplicationSim::add_node(const UnitCode& unit, std::vector<UnitCode> parents) {
  if (nodes_.count(unit) != 0) throw std::logic_error("node " + unit.str() + " added twice");
  auto n = std::make_unique<Node>();
  n->unit = unit;
  n->parents = std::move(parents);
  n->dir = std::make_unique<SimDir>();
  copy_fresh_data_dir(unit, n->dir->path());
  Node& added = *n;
  nodes_[unit] = std::move(n);
  open_log(added);
}

void ReplicationSim::start() {
  if (started_) return;
  started_ = true;
  at(now_ + options_.tick_us, [this] { tick(); });
  for (auto& [unit, n] : nodes_)
    if (!n->parents.empty())
      attempt_uplink_later(*n, 0, random_.between(0, options_.backoff_max_us));
}

void ReplicationSim::at(int64_t time_us, std::function<void()> fn) {
  queue_.emplace(std::make_pair(std::max(time_us, now_), next_sequence_++), std::move(fn));
}

void ReplicationSim::run_for(int64_t duration_us) {
  run_until(now_ + duration_us, false);
}

bool ReplicationSim::heal(int64_t cap_us) {
  faults_on_ = false;
  for (auto& [unit, n] : nodes_) n->isolated_until_us = 0;
  if (not_quiescent()) run_until(now_ + cap_us, true);
  faults_on_ = true;
  return !not_quiescent();
}

void ReplicationSim::run_until(int64_t end_us, bool stop_when_quiescent) {
  if (!started_) start();
  while (!queue_.empty() && queue_.begin()->first.first <= end_us) {
    auto first = queue_.begin();
    now_ = first->first.first;
    auto fn = std::move(first->second);
    queue_.erase(first);
    ticked_ = false;
    fn();
    // Checked after each tick (every 100 ms of virtual time): cheap enough, and what a tick does
    // (timeouts, probes) is part of what must have settled.
    if (stop_when_quiescent && ticked_ && !not_quiescent()) return;
  }
  now_ = std::max(now_, end_us);
}

void ReplicationSim::tick() {
  std::vector<uint64_t> ids;
  for (const auto& [id, c] : connections_) ids.push_back(id);
  for (uint64_t id : ids) {
    for (Side side : {kChild, kParent}) {
      Connection* c = connection(id);
      if (c == nullptr) break;
      Outbox out;
      if (side == kChild && c->up)
        c->up->on_tick(Timestamp{now_}, out);
      else if (side == kParent && c->down)
        c->down->on_tick(Timestamp{now_}, out);
      else
        continue;
      apply(*c, side, out);
    }
  }
  for (auto& [unit, n] : nodes_) {
    if (faults_on_) inject_node_faults(*n);
    probe_preferred(*n);
  }
  ticked_ = true;
  at(now_ + options_.tick_us, [this] { tick(); });
}

void ReplicationSim::inject_node_faults(Node& n) {
  const double per_tick = static_cast<double>(options_.tick_us) / 1e6;
  if (!n.up()) return;
  if (random_.chance(options_.faults.backup_per_s * per_tick)) backup(n.unit);
  if (random_.chance(options_.faults.crash_per_s * per_tick)) {
    ++stats_.crashes;
    crash(n.unit);
  } else if (n.backup && random_.chance(options_.faults.restore_per_s * per_tick) &&
             own_events_held_by_every_parent(n.unit) && !restore_pending_within(n.unit)) {
    restore(n.unit);
  } else if (n.isolated_until_us <= now_ &&
             random_.chance(options_.faults.isolate_per_s * per_tick)) {
    isolate(n, random_.between(300'000, 3'000'000));
  }
}

ReplicationSim::Node& ReplicationSim::node(const UnitCode& unit) {
  auto it = nodes_.find(unit);
  if (it == nodes_.end()) throw std::logic_error("no node " + unit.str());
  return *it->second;
}

const ReplicationSim::Node& ReplicationSim::node(const UnitCode& unit) const {
  auto it = nodes_.find(unit);
  if (it == nodes_.end()) throw std::logic_error("no node " + unit.str());
  return *it->second;
}

bool ReplicationSim::reachable(const Node& n) const {
  return n.up() && n.isolated_until_us <= now_;
}

int64_t ReplicationSim::latency() {
  return random_.between(options_.min_latency_us, options_.max_latency_us);
}

std::vector<UnitCode> ReplicationSim::units() const {
  std::vector<UnitCode> out;
  for (const auto& [unit, n] : nodes_) out.push_back(unit);
  return out;
}

EventLog* ReplicationSim::log(const UnitCode& unit) {
  return node(unit).log.get();
}

const std::vector<UnitCode>& ReplicationSim::parents(const UnitCode& unit) const {
  return node(unit).parents;
}

size_t ReplicationSim::accepted(const UnitCode& unit) const {
  return node(unit).accepted;
}

std::optional<std::string> ReplicationSim::not_quiescent() const {
  for (const auto& [unit, n] : nodes_) {
    const std::string name = "node " + unit.str() + ": ";
    if (!n->up()) return name + "down";
    if (!n->submits.empty()) return name + std::to_string(n->submits.size()) + " submits waiting";
    if (!n->writer.empty()) return name + std::to_string(n->writer.size()) + " writer jobs waiting";
    if (n->parents.empty()) continue;
    auto c = connections_.find(n->uplink);
    if (n->uplink == 0 || c == connections_.end() || !c->second->up) return name + "no uplink";
    const UplinkSession& up = *c->second->up;
    if (c->second->rank != 0)
      return name + "on parent " + c->second->parent.str() + ", not the preferred one";
    if (!up.streaming()) return name + "uplink not streaming";
    if (up.batches_in_flight() != 0)
      return name + std::to_string(up.batches_in_flight()) + " batches in flight";
    auto marks = n->log->watermarks();
    if (!marks.ok()) return name + marks.error().message();
    for (const Watermark& w : *marks) {
      auto held = up.parent_seqs().find(w.origin);
      const uint64_t parent = held == up.parent_seqs().end() ? 0 : held->second;
      if (parent < w.seq)
        return name + "parent " + c->second->parent.str() + " holds " + w.origin.str() + " up to " +
               std::to_string(parent) + " of " + std::to_string(w.seq);
    }
  }
  return std::nullopt;
}

std::string ReplicationSim::describe() const {
  std::ostringstream text;
  text << "virtual time +" << (now_ - kStartUs) / 1000 << " ms; " << options_.describe() << "\n"
       << stats_.describe() << "\n";
  for (const auto& [unit, n] : nodes_) {
    text << "node " << unit.str() << (n->up() ? "" : " (down)")
         << (n->isolated_until_us > now_ ? " (isolated)" : "") << ": last LSN "
         << (n->up() ? n->log->last_lsn().value : 0) << ", uplink " << n->uplink << ", writer "
         << n->writer.size() << ", submits waiting " << n->submits.size() << "\n";
  }
  for (const auto& [id, c] : connections_) {
    text << "connection " << id << " " << c->child.str() << " -> " << c->parent.str() << " (rank "
         << c->rank << "): child ";
    if (c->up)
      text << "state " << static_cast<int>(c->up->state()) << ", " << c->up->batches_in_flight()
           << " in flight, " << c->up->events_acked() << " acked";
    else
      text << "closed";
    text << "; parent ";
    if (c->down)
      text << "state " << static_cast<int>(c->down->state()) << ", " << c->down->ingests_in_flight()
           << " ingests";
    else
      text << (c->open[kParent] ? "awaiting hello" : "closed");
    text << "\n";
  }
  return text.str();
}

}  // namespace rollcall::testing
