// Replication's protocol logic (DESIGN.md "Replication", docs/protocol.md), without I/O.
//
// A child node pushes its log up to a parent. Each side of one connection is a state machine:
// UplinkSession at the child, DownlinkSession at the parent. Frames and timer ticks go in;
// frames to send, ingests to write and alerts come out in an Outbox. The machines own no
// socket, no thread and no clock: node/ drives them with Asio, and tests/ drives them with a
// seeded simulator that drops, duplicates, reorders and cuts.
//
// The exchange:
//   child  -> hello (unit, protocol version, schema fingerprint, incarnation, role child)
//   parent -> hello, then watermarks: for every origin of the child's subtree, the seq it holds
//             with no gap below and the chain hash at that seq
//   child  -> eventBatch...: its log in LSN order from the first event the parent lacks, skipping
//             what the parent holds; at most `window` batches unacknowledged
//   parent -> ack {lsn} after the batch's synced write (events, watermarks, tallies together)
//   both   -> heartbeat every interval (the child's carries its head per origin)
// Where a chain hash differs (a fork: the same origin:seq with other content on each side), the
// child finds the first seq that differs by bisection, chainProbe {origin, seq} -> chainHash
// {hash}, a few round trips, then reports it (alert, fork record, error {fork, origin, seq}) and
// closes; the parent records the fork from that error too. Nothing is sent or merged.
// A child whose log holds less of its own origin than the parent (its data dir re-created or
// restored from an old backup) first takes those events back: fetch {origin, fromSeq} ->
// fetchedEvents {chainBefore, events}, one bounded batch at a time, each ingested before the
// next is asked; the node refuses submits meanwhile (a new event would take a seq the parent
// already holds) and streams as usual once its log has caught up.
// Resuming relies on watermarks only, so a new session after any cut, crash or parent switch
// starts where the parent is, and dedup by origin:seq makes a resend harmless.
//
// Ownership: a session borrows the EventLog, which must outlive it, and reads its current map. The log's read
// calls used here are safe beside its writer thread (engine/event_log.h). One thread per session.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <capnp/message.h>

#include "engine/event_log.h"
#include "engine/frame_codec.h"
#include "engine/types.h"
#include "engine/unit_map.h"
#include "schema/wire.capnp.h"

namespace rollcall {

// No accepted event comes near this (a JSON line is at most 64 KiB); a larger relayed one is refused
// so that it can never make a frame too large for the next link up.
inline constexpr size_t kMaxRelayedEventBytes = 256u << 10;

// A child's batch with more events than this is refused as a bad message (senders send at most
// ReplicationOptions::max_batch_events, which must not exceed it).
inline constexpr size_t kMaxBatchEventsAccepted = 10'000;

struct ReplicationOptions {
  size_t max_batch_events = 1000;     // a batch holds at most this many events (<= kMaxBatchEventsAccepted),
  size_t max_batch_bytes = 1u << 20;  // and at most this many encoded bytes (one event may exceed it)
  size_t window = 4;                  // batches sent and not yet acknowledged
  int64_t heartbeat_interval_us = 1'000'000;
  int64_t idle_timeout_us = 5'000'000;  // nothing heard from the peer this long: the link is dead
  // The oldest batch unacknowledged this long: the session is stuck (a lost frame, a parent that
  // cannot write); close it and resume from the watermarks in a new one.
  int64_t ack_timeout_us = 300'000'000;
  // A child's own HOST:PORT for clients, said in its hello (`rollcall status --tree`).
  std::string listen_address;
};

// A batch of a child's events for the parent's writer: ingest them all or none, then call
// DownlinkSession::on_ingested with the result.
struct IngestJob {
  std::shared_ptr<capnp::MallocMessageBuilder> owner;  // holds the events' memory
  std::vector<schema::Event::Reader> events;
  uint64_t ack_lsn = 0;  // the child's LSN the ack will name
  size_t bytes = 0;      // encoded size, for the node's in-flight budget
};

// What a state machine asks its driver to do, in order: send the frames, run the ingests, show
// the alerts, then close if asked.
struct Outbox {
  std::vector<std::vector<uint8_t>> frames;
  std::vector<IngestJob> ingests;
  std::vector<std::string> alerts;  // loud problems (forks, a re-created log): log and show in status
  // Parent: remember this child's incarnation (it is new or changed).
  std::optional<std::pair<UnitCode, std::string>> record_incarnation;
  // A fork was found on this link: record it (EventLog::record_fork) so that it shows until an
  // operator resolves it.
  std::optional<ForkRecord> fork;
  std::optional<std::string> close;  // close the connection after sending the frames: why
  // Child: per batch the parent acknowledged, microseconds from sending it to its ack (metrics).
  std::vector<int64_t> round_trips_us;

  void send(capnp::MessageBuilder& message) { frames.push_back(encode_frame(message)); }
  bool closing() const { return close.has_value(); }
};

// A head as a heartbeat reports it: how far an origin has got at the sender.
struct OriginHead {
  uint64_t seq = 0;
  Timestamp newest_recorded_at;
};

// The child's side of one connection to a parent.
class UplinkSession {
 public:
  enum class State { kHelloSent, kAwaitWatermarks, kRecovering, kStreaming, kLocatingFork, kClosed };

  UplinkSession(const EventLog& log, ReplicationOptions options);

  // Sends the hello. Call once, first.
  void start(Timestamp now, Outbox& out);
  // A frame from the parent.
  void on_frame(Frame& frame, Timestamp now, Outbox& out);
  // The log has new events (the node's writer committed).
  void on_log_grew(Timestamp now, Outbox& out);
  // Bytes arrived from the parent (maybe not a whole frame yet): the link is alive. On a slow
  // link a large frame takes longer than the idle timeout to arrive.
  void on_bytes(Timestamp now) { last_heard_ = now; }
  // Timer: heartbeats and dead-link detection. Call every fraction of the heartbeat interval.
  void on_tick(Timestamp now, Outbox& out);
  // The writer's result for the IngestJob of events taken back (kRecovering only).
  void on_ingested(const Result<IngestReport>& result, Timestamp now, Outbox& out);

  State state() const { return state_; }
  bool streaming() const { return state_ == State::kStreaming; }
  // Taking this node's own events back from the parent: the node must refuse submits.
  bool recovering() const { return state_ == State::kRecovering; }
  // The parent's watermarks showed it holds no more of this node's own origin than the log
  // (at once, or after taking the rest back): submits may go on.
  bool own_origin_checked() const { return own_checked_; }
  // Taking this node's own events back: seqs from..to, `next` the next to take.
  struct Recovery {
    uint64_t from = 0, next = 0, to = 0;
  };
  std::optional<Recovery> recovery() const {
    if (!recovering()) return std::nullopt;
    return Recovery{recover_from_, recover_next_, recover_to_};
  }
  const std::string& parent_unit() const { return parent_unit_; }
  // Per origin, the seq the parent is known to hold: from its watermarks, then its acks.
  const std::map<UnitCode, uint64_t>& parent_seqs() const { return acked_; }
  Timestamp streaming_since() const { return streaming_since_; }
  Timestamp last_ack_at() const { return last_ack_at_; }
  uint64_t events_acked() const { return events_acked_; }
  size_t batches_in_flight() const { return in_flight_.size(); }
  // Why the session ended (set with Outbox::close or by a parent's error).
  const std::string& close_reason() const { return close_reason_; }

 private:
  struct InFlight {
    uint64_t last_lsn = 0;
    size_t events = 0;
    Timestamp sent_at;
    std::vector<std::pair<UnitCode, uint64_t>> tops;  // highest seq per origin in the batch
  };

  void on_watermarks(wire::Watermarks::Reader marks, Timestamp now, Outbox& out);
  // Streams from the first event the parent lacks (acked_ holds what it has).
  void begin_streaming(Timestamp now, Outbox& out);
  // This log's chain hash at origin:seq is the parent's; else a fork: it locates where it begins
  // (kLocatingFork), then reports it and closes. False when they differ.
  bool same_history(const UnitCode& origin, uint64_t seq, uint64_t parent_hash, Timestamp now, Outbox& out);
  // Asks the parent's chain hash between the last seq known to agree and the first known to
  // differ, or reports the fork once they are adjacent.
  void probe_fork(Timestamp now, Outbox& out);
  void on_chain_hash(wire::ChainHash::Reader answer, Timestamp now, Outbox& out);
  // Reports the fork (alert, error, close) once located.
  void report_fork(Timestamp now, Outbox& out);
  // The fork's alert and record, with the range known; the alert's text.
  std::string fork_alert(Timestamp now, Outbox& out);
  void send_fetch(Timestamp now, Outbox& out);
  void on_fetched(wire::FetchedEvents::Reader fetched, Timestamp now, Outbox& out);
  void on_ack(uint64_t lsn, Timestamp now, Outbox& out);
  // Sends batches while the window has room and the log has events the parent lacks.
  void pump(Timestamp now, Outbox& out);
  void send_heartbeat(Timestamp now, Outbox& out);
  void fail(wire::ErrorCode code, const std::string& message, Outbox& out);
  void closed(const std::string& reason, Outbox& out);

  const EventLog& log_;
  ReplicationOptions options_;
  State state_ = State::kHelloSent;
  std::string parent_unit_;
  std::map<UnitCode, uint64_t> sent_;   // per origin: the highest seq sent or held by the parent
  std::map<UnitCode, uint64_t> acked_;  // per origin: the highest seq the parent holds
  uint64_t next_lsn_ = 0;               // the next of this log's LSNs to consider sending
  std::deque<InFlight> in_flight_;
  // Per origin of which the parent held more than this log when the session began: its seq and
  // chain hash, checked when the log reaches that seq (same_history), before relaying past it.
  std::map<UnitCode, std::pair<uint64_t, uint64_t>> unchecked_;
  Timestamp last_heard_, last_heartbeat_sent_, streaming_since_, last_ack_at_;
  uint64_t events_acked_ = 0;
  std::string close_reason_;
  bool own_checked_ = false;
  // Locating a fork: both logs hold the same events of `origin` up to `agree`, and differ at
  // `differ`; `probing` is the seq asked of the parent.
  struct ForkSearch {
    UnitCode origin;
    uint64_t agree = 0;
    uint64_t differ = 0;
    uint64_t probing = 0;
    Timestamp sent_at;  // of the probe: unanswered for the ack timeout, the search ends there
  };
  std::optional<ForkSearch> fork_search_;
  uint64_t recover_from_ = 0;  // the first own seq taken back
  uint64_t recover_next_ = 0;  // the next own seq to take back
  uint64_t recover_to_ = 0;    // the parent's watermark of this node's own origin
  size_t ingest_pending_ = 0;  // events handed to the writer and not yet answered
  Timestamp fetch_sent_at_;    // of the fetch awaiting its answer
};

// The parent's side of one connection from a child.
class DownlinkSession {
 public:
  enum class State { kAwaitHello, kStreaming, kClosed };

  // `self` is the parent's unit; `peer` names the connection in messages.
  DownlinkSession(const EventLog& log, UnitCode self, std::string peer,
                  ReplicationOptions options);

  // The child's hello (role child). `known_incarnation` is the incarnation this node recorded
  // for that unit before, if any (the driver reads it: EventLog::child_incarnation).
  void on_hello(wire::Hello::Reader hello, const std::optional<std::string>& known_incarnation,
                Timestamp now, Outbox& out);
  // Any later frame from the child.
  void on_frame(Frame& frame, Timestamp now, Outbox& out);
  // Bytes arrived from the child (maybe not a whole frame yet): the link is alive.
  void on_bytes(Timestamp now) { last_heard_ = now; }
  // The writer's result for the oldest ingest job not yet answered.
  void on_ingested(const Result<IngestReport>& result, Timestamp now, Outbox& out);
  void on_tick(Timestamp now, Outbox& out);

  State state() const { return state_; }
  const UnitCode& child() const { return child_; }
  const std::string& incarnation() const { return incarnation_; }
  const std::string& peer() const { return peer_; }
  // Where the child says it serves clients ("" when it did not say).
  const std::string& listen_address() const { return listen_address_; }
  size_t ingests_in_flight() const { return pending_acks_.size(); }
  Timestamp connected_since() const { return connected_since_; }
  Timestamp last_heard() const { return last_heard_; }
  uint64_t events_applied() const { return events_applied_; }
  uint64_t events_duplicate() const { return events_duplicate_; }
  // The child's heads from its latest heartbeat.
  const std::map<UnitCode, OriginHead>& heads() const { return heads_; }
  const std::string& close_reason() const { return close_reason_; }

 private:
  void on_batch(wire::EventBatch::Reader batch, Outbox& out);
  void on_fetch(wire::Fetch::Reader fetch, Outbox& out);
  void on_chain_probe(wire::ChainProbe::Reader probe, Outbox& out);
  void fail(wire::ErrorCode code, const std::string& message, Outbox& out);

  const EventLog& log_;
  UnitCode self_;
  std::string peer_;
  ReplicationOptions options_;
  State state_ = State::kAwaitHello;
  UnitCode child_;
  std::string incarnation_;
  std::string listen_address_;
  uint64_t last_batch_lsn_ = 0;         // the child's lastLsn of the newest batch taken
  std::deque<uint64_t> pending_acks_;   // ack LSNs of ingests handed out, oldest first
  std::map<UnitCode, OriginHead> heads_;
  Timestamp connected_since_, last_heard_, last_heartbeat_sent_;
  uint64_t events_applied_ = 0;
  uint64_t events_duplicate_ = 0;
  uint64_t chain_probes_ = 0;  // answered in this session
  static constexpr uint64_t kMaxChainProbes = 66;
  std::string close_reason_;
};

// Why relayed or imported events may not enter a node below `below`: an event's origin must be
// in that subtree and its unit in its origin's subtree (else a forged origin or a foreign
// unit), and what a map event changes in its origin's subtree. Judged on the node's map by
// every parent a unit has had (UnitMap::ever_in_subtree), so a child that relays under an
// older map than this node's is not refused; a unit that a map event earlier in the same
// batch registers counts as known. Call outside() for a batch's events in order.
class SubtreeCheck {
 public:
  SubtreeCheck(std::shared_ptr<const UnitMap> map, UnitCode below);
  // nullopt when the event may enter.
  std::optional<std::string> outside(schema::Event::Reader event);

 private:
  bool within(const UnitCode& code, const UnitCode& ancestor) const;

  std::shared_ptr<const UnitMap> map_;
  UnitCode below_;
  std::map<UnitCode, UnitCode> registered_;  // code -> parent, registered earlier in the batch
};

// The wire code a failed ingest is reported with.
wire::ErrorCode ingest_error_code(const Error& error);

// Hex of an incarnation id, for messages.
std::string incarnation_hex(const std::string& incarnation);

}  // namespace rollcall
