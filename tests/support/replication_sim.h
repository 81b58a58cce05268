// A deterministic, seeded, in-process simulator of a tree of nodes replicating with the engine's
// state machines (engine/replication.h): the "driver" that node/ implements with Asio, with
// virtual time, in-memory links and injected faults instead of sockets, timers and processes.
//
// - Nodes are real EventLogs in SimDirs (unsynced writes: the simulation never loses power,
//   and a crash closes the log, so every acknowledged write survives it as after kill -9). A
//   SimDir is on a RAM file system when there is one with room (what RocksDB syncs there costs
//   nothing, and there is nothing a sync could save in a run that never loses power).
// - add_node() starts each node from a copy of a data dir freshly created for its unit once per
//   process (creating one stamps the whole national map into it: the dearest open by far);
//   recreate() creates a new one each time, since a new incarnation is what it is about.
// - Virtual time in microseconds; one event queue ordered by (time, sequence number); every
//   random draw comes from one std::mt19937_64 seeded by the seed. No wall clock, no threads.
// - A connection pairs an UplinkSession at the child with a DownlinkSession at the parent (made
//   when the child's hello arrives, as the node does) and two directional frame queues with a
//   random per-frame latency. Frames are the Outbox's bytes, decoded by a FrameDecoder at the
//   receiving end.
// - Faults: drop, duplicate or reorder a frame; cut a connection; crash a node (kill -9: its
//   sessions and queued writer jobs are gone, its log is reopened from the same dir after a
//   restart delay); isolate a node for a while (its links are cut and it refuses connections);
//   back a node's data dir up, and later restore it from that older snapshot.
//   TCP would never drop, duplicate or reorder inside one connection: the machines must stay
//   safe anyway (a protocol error or an ack timeout closes the session, a new one resumes).
// - The driver contract (what node/ must do with an Outbox): send the frames in order; queue
//   each IngestJob on the node's single writer (FIFO across its sessions), run it after a
//   random delay with EventLog::ingest, then hand the result to the session that made it (if it
//   still exists); after a write that added events (ingest applied > 0, or a submit) call
//   on_log_grew on the node's streaming uplink; record_incarnation goes to the log; alerts are
//   collected; close tears the connection down after the frames (the peer sees the close after
//   them, like a TCP FIN). Arriving bytes go to on_bytes, whole frames to on_frame. Sessions
//   tick every 100 ms of virtual time. An uplink's IngestJobs (its own events taken back from a
//   parent) go to the child's writer and are answered with UplinkSession::on_ingested.
// - Submits after a start wait until a parent's watermarks showed it holds no more of the
//   node's own origin than the log (own_origin_checked), or for at most 3 s without an answer
//   (after a restore() they wait for the answer however long it takes: the operator who restored
//   a backup keeps clients away until a parent answered, since a restore while every parent
//   stays away is a fork, a case tested on its own);
//   once a parent showed more, they wait until a session has taken those events back, across
//   reconnects (recovering() is per session).
// - Parents: a child tries its parents in order of preference, backs off 50..500 ms (jittered)
//   after a failure, and while on a less preferred parent probes the preferred ones about every
//   second, closing the current connection to switch back when one is up.
//
// Ownership: the UnitMap must outlive the simulator; the simulator owns the nodes' dirs, logs,
// sessions and connections. One thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "engine/event_log.h"
#include "engine/frame_codec.h"
#include "engine/replication.h"
#include "engine/types.h"
#include "engine/unit_map.h"
#include "tests/support/test_dirs.h"

namespace rollcall::testing {

// A fresh directory for the simulation's data dirs, removed with everything in it on
// destruction: under $ROLLCALL_SIM_DIR when set, else under /dev/shm when it is a RAM file system
// with at least 2 GiB free, else under the system temp dir (as TempDir).
class SimDir {
 public:
  SimDir();
  ~SimDir();
  SimDir(const SimDir&) = delete;
  SimDir& operator=(const SimDir&) = delete;

  const std::string& path() const { return path_; }
  // Where SimDirs go (chosen once per process).
  static const std::string& root();

 private:
  std::string path_;
};

// The simulator's one source of randomness.
class SimRandom {
 public:
  explicit SimRandom(uint64_t seed) : engine_(seed) {}
  std::mt19937_64& engine() { return engine_; }
  // Uniform in [lo, hi], both included.
  int64_t between(int64_t lo, int64_t hi);
  // Uniform in [0, 1).
  double unit();
  bool chance(double p) { return p > 0 && unit() < p; }

 private:
  std::mt19937_64 engine_;
};

struct SimFaults {
  double drop = 0;           // per frame: lost
  double duplicate = 0;      // per frame: delivered twice
  double reorder = 0;        // per frame: held back and delivered after the next frame its way
  double cut = 0;            // per frame: the connection is cut as it is sent (the frame is lost)
  double crash_per_s = 0;    // per node and virtual second: kill -9, restart from the same dir
  double isolate_per_s = 0;  // per node and virtual second: unreachable for 0.3..3 s
  double backup_per_s = 0;   // per node and virtual second: an operator's backup of its data dir
  // Per node and virtual second: the data dir is restored from its latest backup (an older
  // snapshot, same incarnation), when every parent holds every event of the node's own origin
  // and no restore is pending in its subtree (else events could be lost for good or left only
  // where the node does not ask: a restore then can be a fork, tested on its own).
  double restore_per_s = 0;

  bool any() const;
  // Rates for one seed: each fault is off for about one seed in four.
  static SimFaults draw(SimRandom& random);
  std::string describe() const;
};

struct SimOptions {
  ReplicationOptions replication;
  SimFaults faults;
  int64_t tick_us = 100'000;
  int64_t min_latency_us = 100, max_latency_us = 20'000;  // per frame, one way
  int64_t max_write_delay_us = 5'000;                     // before a writer job runs
  int64_t backoff_min_us = 50'000, backoff_max_us = 500'000;
  int64_t probe_interval_us = 1'000'000;
  int64_t restart_min_us = 50'000, restart_max_us = 1'000'000;  // after a crash
  int64_t submit_gate_us = 3'000'000;  // after a start, submits wait this long at most for a parent

  // Small timeouts so that faults resolve quickly; window and batch size drawn per seed.
  static SimOptions draw(SimRandom& random);
  std::string describe() const;
};

struct SimAlert {
  int64_t at_us = 0;
  UnitCode node;
  std::string text;
};

struct SimStats {
  uint64_t frames = 0, dropped = 0, duplicated = 0, reordered = 0, cuts = 0, crashes = 0,
           isolations = 0, backups = 0, restores = 0, connections = 0, refused = 0, switches_back = 0, closes = 0, ingests = 0,
           submits = 0;
  std::string describe() const;
};

class ReplicationSim {
 public:
  // Virtual time starts here: 2025-01-01T00:00:00Z.
  static constexpr int64_t kStartUs = 1'735'689'600'000'000;

  // Draws the options from the seed's generator; change options() before start() to override.
  ReplicationSim(const UnitMap& map, uint64_t seed);
  ~ReplicationSim();
  ReplicationSim(const ReplicationSim&) = delete;
  ReplicationSim& operator=(const ReplicationSim&) = delete;

  uint64_t seed() const { return seed_; }
  SimRandom& random() { return random_; }
  SimOptions& options() { return options_; }
  const UnitMap& map() const { return map_; }

  // A node of `unit` in a fresh data dir, with its parents in order of preference.
  void add_node(const UnitCode& unit, std::vector<UnitCode> parents = {});
  // Client submits at `unit`: the lines, in order, in chunks of 1..5 at random times in
  // [now + from_us, now + to_us]. A node that is down takes them when it is back.
  void schedule_submits(const UnitCode& unit, const std::vector<std::string>& lines,
                        int64_t from_us, int64_t to_us);
  // Starts the ticks and every node's uplink. Call once, after adding the nodes.
  void start();
  // Runs the queued events for `duration_us` of virtual time.
  void run_for(int64_t duration_us);
  // Turns every fault off, ends isolations and runs until quiescent (true) or for at most
  // `cap_us` (false). The faults of options() resume afterwards.
  bool heal(int64_t cap_us);
  // Quiescent: every node up, every child streaming to its preferred parent with nothing in
  // flight and nothing the parent lacks, no writer job and no submit left. Else why not.
  std::optional<std::string> not_quiescent() const;

  // kill -9 now; the node restarts from its dir after a random delay.
  void crash(const UnitCode& unit);
  // The node's data dir is lost: it stops and restarts at once in a new, empty dir (a new log
  // incarnation), as after an operator re-created it.
  void recreate(const UnitCode& unit);
  // The node is unreachable for a while: its links are cut and it refuses connections.
  void isolate(const UnitCode& unit, int64_t duration_us);
  // An operator's backup of the node's data dir as it is now (a consistent snapshot), replacing
  // the node's previous one.
  void backup(const UnitCode& unit);
  // The node stops and restarts at once from a copy of its latest backup: an older snapshot of
  // the same data dir (same incarnation), as after a disk restored from last week's backup.
  // Its clients' submits then wait until a parent answered (`clients_wait_for_parent`), or at
  // most the usual 3 s. False when it has no backup.
  bool restore(const UnitCode& unit, bool clients_wait_for_parent = true);
  // Whether every parent of the node holds every event of its own origin that it holds. A node
  // takes its events back from the first parent that answers after a restore; a less preferred
  // parent holding more than that one (the node was on it while the preferred was away) is not
  // asked, so a restore then can fork (docs/protocol.md, "Restores"): random restores avoid it.
  bool own_events_held_by_every_parent(const UnitCode& unit) const;
  // Whether a node of the unit's subtree (itself included) was restored and has not yet heard
  // from a parent how much of its own origin it holds. Restoring a parent then could lose the
  // events that node must take back (they would be left only further up): the random restores
  // follow the operator's rule of one restore at a time along a path (docs/protocol.md).
  bool restore_pending_within(const UnitCode& unit) const;

  int64_t now_us() const { return now_; }
  std::vector<UnitCode> units() const;
  // The node's current log (invalid after a crash or re-creation; null while it is down).
  EventLog* log(const UnitCode& unit);
  const std::vector<UnitCode>& parents(const UnitCode& unit) const;
  size_t accepted(const UnitCode& unit) const;
  // Every submitted line refused, and every driver failure (a log that would not reopen...).
  const std::vector<std::string>& rejections() const { return rejections_; }
  const std::vector<std::string>& failures() const { return failures_; }
  const std::vector<SimAlert>& alerts() const { return alerts_; }
  const SimStats& stats() const { return stats_; }
  // One line per node and connection: what the sessions are doing, for failure messages.
  std::string describe() const;

 private:
  struct Node;
  struct Connection;
  enum Side { kChild = 0, kParent = 1 };  // also the direction towards that side

  // --- event loop (replication_sim.cpp) ---
  void at(int64_t time_us, std::function<void()> fn);
  void run_until(int64_t end_us, bool stop_when_quiescent);
  void tick();
  void inject_node_faults(Node& node);
  Node& node(const UnitCode& unit);
  const Node& node(const UnitCode& unit) const;
  bool reachable(const Node& node) const;
  int64_t latency();

  // --- nodes: submits, writer, crashes, parent choice (replication_sim_node.cpp) ---
  // A copy of the unit's data dir as created (once per process and unit) in `dir` + "/data".
  void copy_fresh_data_dir(const UnitCode& unit, const std::string& dir);
  void open_log(Node& node);
  void submit_next(Node& node);
  void queue_ingest(Node& node, uint64_t connection, Side side, IngestJob job);
  bool submits_may_go(Node& node);
  void run_writer(Node& node, uint64_t epoch);
  void log_grew(Node& node);
  void stop_node(Node& node);
  void restart_later(Node& node, int64_t delay_us);
  void isolate(Node& node, int64_t duration_us);
  void attempt_uplink_later(Node& node, size_t rank, int64_t delay_us);
  void attempt_uplink(Node& node, size_t rank);
  void probe_preferred(Node& node);

  // --- connections and frames (replication_sim_link.cpp) ---
  void connect(Node& child, Node& parent, size_t rank);
  void send(Connection& c, Side to, std::vector<uint8_t> bytes);
  void schedule_delivery(Connection& c, Side to, std::vector<uint8_t> bytes, int64_t arrival_us);
  void deliver(uint64_t connection, Side to, const std::vector<uint8_t>& bytes);
  void on_parent_frame(Connection& c, Frame& frame);
  void apply(Connection& c, Side side, Outbox& out);
  // The side's session ends and its peer sees the close after the frames already sent.
  void close_side(Connection& c, Side side, const std::string& why);
  void receive_close(uint64_t connection, Side to);
  // Both sides end at once (a cut, a crash, an isolation).
  void cut(uint64_t connection);
  void uplink_ended(Connection& c);
  Connection* connection(uint64_t id);

  const UnitMap& map_;
  uint64_t seed_;
  SimRandom random_;
  SimOptions options_;
  bool started_ = false;
  bool faults_on_ = true;
  bool ticked_ = false;  // the event just run was a tick
  int64_t now_ = kStartUs;
  uint64_t next_sequence_ = 0;
  uint64_t next_connection_ = 1;
  std::map<std::pair<int64_t, uint64_t>, std::function<void()>> queue_;
  std::map<UnitCode, std::unique_ptr<Node>> nodes_;
  std::map<uint64_t, std::unique_ptr<Connection>> connections_;
  std::vector<SimAlert> alerts_;
  std::vector<std::string> rejections_;
  std::vector<std::string> failures_;
  SimStats stats_;
};

// The simulator's parts, here so that its .cpp files share them; not for tests.
struct ReplicationSim::Node {
  UnitCode unit;
  std::vector<UnitCode> parents;  // in order of preference
  std::unique_ptr<SimDir> dir;    // replaced by recreate() and restore()
  std::unique_ptr<SimDir> backup;  // the latest backup(), in backup->path() + "/data"
  std::unique_ptr<EventLog> log;  // null while down after a crash
  uint64_t epoch = 0;             // bumped by each crash: scheduled work of an older one is void
  int64_t isolated_until_us = 0;
  // The writer: one FIFO of ingest jobs across the node's sessions (a parent's of its
  // children's batches, a child's of its own events taken back from a parent).
  struct WriterJob {
    uint64_t connection = 0;
    Side side = kParent;  // the session that made the job: answered with its on_ingested
    IngestJob job;
  };
  std::deque<WriterJob> writer;
  bool writer_scheduled = false;
  // Submits wait until a parent's watermarks showed it holds no more of the node's own origin
  // than its log (and while the node takes its events back), or until the gate passes without
  // an answer: a parent that stays away does not stop the node.
  bool own_checked = false;
  int64_t submit_gate_us = 0;  // no time limit while `restored`
  bool restored = false;       // restored from a backup, and no parent has answered since
  // A parent showed it holds more of the node's own origin: submits wait until a session has
  // taken those events back (across reconnects, not only while one session is recovering).
  bool must_recover = false;
  // The uplink: the current connection (0: none) and whether an attempt is scheduled.
  uint64_t uplink = 0;
  bool attempt_pending = false;
  int64_t next_probe_us = 0;
  // Client submits waiting for their time (or for the node to be back), in order.
  std::deque<std::vector<std::string>> submits;
  size_t accepted = 0;

  bool up() const { return log != nullptr; }
};

struct ReplicationSim::Connection {
  uint64_t id = 0;
  UnitCode child, parent;
  size_t rank = 0;  // the parent's place in the child's list
  std::unique_ptr<UplinkSession> up;
  std::unique_ptr<DownlinkSession> down;  // made when the child's hello arrives
  bool open[2] = {true, true};            // per side: not yet closed there
  FrameDecoder decoder[2];                // per receiving side
  int64_t last_arrival_us[2] = {0, 0};    // per direction: frames arrive in order unless reordered
  std::optional<std::vector<uint8_t>> held[2];  // a frame held back to be reordered
};

}  // namespace rollcall::testing
