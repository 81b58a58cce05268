// Uplink: the node's side of replication towards its parents (DESIGN.md "Replication" 4, 5).
// Drives the engine's UplinkSession over Asio TCP and chooses the parent:
//   - the parents are tried in order of preference; the first whose session reaches streaming
//     is used;
//   - after a failure the next is tried at once; after a whole round fails, the next round waits
//     a jittered backoff that grows to at most `max_backoff`, so a link that returns is used
//     again within a second;
//   - while a less preferred parent is used, the preferred ones are probed every
//     `probe_interval`; when one answers, the node moves back to it;
//   - a parent that refused the node's events as a fork is retried only every `fork_retry`.
// It also keeps the writer's submit gate (DESIGN.md "Identity and storage"): at start, submits
// wait until a parent said how much of this node's own origin it holds (at most
// `startup_wait`); while the node takes its own events back from a parent that holds more
// (a re-created or restored data dir), submits are refused.
// Dedup by origin:seq at the parents makes every switch safe: a new session resumes from the
// parent's watermarks.
//
// Threads: the io_context's thread. wake() may be called from any thread (the writer's).
// Ownership: borrows the EventLog and Alerts, which outlive it (the map is the log's current one).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <asio.hpp>

#include "engine/protocol.h"
#include "engine/replication.h"
#include "node/alerts.h"
#include "node/commit_queue.h"
#include "node/node_metrics.h"
#include "net/channel.h"
#include "schema/wire.capnp.h"

namespace rollcall {

struct UplinkOptions {
  ReplicationOptions replication;
  std::chrono::milliseconds connect_timeout{500};
  std::chrono::milliseconds min_backoff{50};
  std::chrono::milliseconds max_backoff{400};
  std::chrono::milliseconds probe_interval{2000};
  std::chrono::milliseconds fork_retry{60000};
  std::chrono::milliseconds tick{100};
  std::chrono::milliseconds startup_wait{3000};
  FrameLimits frame_limits;
  std::shared_ptr<asio::ssl::context> tls;  // null: plain TCP (net/tls.h)
};

class Uplink {
 public:
  Uplink(asio::io_context& io, const EventLog& log, std::vector<HostPort> parents,
         UplinkOptions options, Alerts& alerts, CommitQueue& queue, NodeMetrics& metrics);
  ~Uplink();

  void start();
  // Closes every connection; nothing more is sent.
  void stop();
  // The log has new events. Thread-safe.
  void wake();

  size_t parent_count() const { return parents_.size(); }
  // The parents' part of the node's status.
  void fill_status(capnp::List<wire::ParentLinkStatus>::Builder parents) const;
  // Per origin, how much the parent in use holds; while none streams, what the last one that
  // streamed held when its session ended (empty before any did).
  std::map<UnitCode, uint64_t> parent_seqs() const;

 private:
  class Connection;
  struct Parent {
    HostPort address;
    std::string unit;  // from its latest hello
    std::string last_error;
    Timestamp connected_since;
    Timestamp last_ack_at;
    uint64_t events_acked = 0;  // by sessions that ended
    std::chrono::steady_clock::time_point retry_not_before{};
  };

  void tick();
  void schedule_tick();
  // Starts a connection to parents_[rank] as the active or the probing one.
  void attempt(size_t rank, bool probe);
  void on_streaming(Connection* connection);
  void on_closed(Connection* connection, const std::string& reason, bool fork);
  std::chrono::milliseconds backoff();
  // Opens or closes the writer's submit gate after a session's state changed.
  void update_gate(const Connection& connection);
  // Some parent said it holds more of this node's own origin than the log holds now.
  bool own_seq_held_above_log() const;

  asio::io_context& io_;
  const EventLog& log_;
  std::vector<Parent> parents_;
  UplinkOptions options_;
  Alerts& alerts_;
  CommitQueue& queue_;
  NodeMetrics& metrics_;
  asio::steady_timer tick_timer_;
  asio::steady_timer startup_timer_;
  std::shared_ptr<Connection> active_;  // the session in use (or being set up)
  std::map<UnitCode, uint64_t> last_parent_seqs_;  // of the last streaming session that ended
  std::shared_ptr<Connection> probe_;   // a try of a more preferred parent
  size_t next_rank_ = 0;                // the parent the next attempt goes to
  size_t probe_rank_ = 0;               // turns over the more preferred parents
  uint64_t own_seq_seen_ = 0;           // the most of this node's own origin a parent said it holds
  int failed_rounds_ = 0;
  std::chrono::steady_clock::time_point next_attempt_{};
  std::chrono::steady_clock::time_point next_probe_{};
  std::mt19937_64 random_;
  std::atomic<bool> wake_pending_{false};
  bool stopped_ = false;
};

}  // namespace rollcall
