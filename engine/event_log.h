// EventLog: a node's durable log of events on RocksDB, with the watermarks and member state
// that must change atomically with it. engine/FORMAT.md describes the on-disk format.
//
// Writes: one writer. Every call that changes the log (submit, ingest) builds exactly one
// RocksDB WriteBatch holding the events, their index entries, the watermark moves and the
// member state changes, and syncs it before returning: whatever a call reports as accepted
// is durable. A failed write (other than a refusal for disk space, checked before writing)
// fail-stops the log: every later write is refused as unavailable until a restart. Several
// clients' submits are meant to be gathered by the caller into one submit() call (group
// commit): validation sees the earlier events of the same call.
//
// Reads: on the writer, or on a reader opened beside a running writer (a RocksDB secondary
// instance that never takes the writer's lock); refresh() makes newer writes visible. On the
// writer, last_lsn(), read(), find(), chain_hash_at(), watermarks(), child_incarnation(),
// tally() and in_transit() may also be called from another thread while the writer thread
// writes (replication does; the HTTP status page reads tallies): they read RocksDB only, and
// last_lsn() moves after the write is complete.
//
// Projections (engine/projection.h): tallies, the member registry, transfer pairing and
// retraction marks change in the same WriteBatch as the events they come from.
//
// The map: the seed map (`--units`, stored in the data dir) folded with the map events the log
// holds (engine/map_change.h). map() is the current one, published anew after each write that
// changes it; any thread may call map() and keep what it returns.
//
// Ownership: owns its Store. Not thread-safe (but for map() and the reads named above): the
// writer thread (or one reader) calls it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "engine/event_validator.h"
#include "engine/logged_event.h"
#include "engine/map_change.h"
#include "engine/member_rules.h"
#include "engine/period.h"
#include "engine/request_index.h"
#include "engine/status.h"
#include "engine/types.h"
#include "engine/unit_map.h"
#include "schema/event.capnp.h"

namespace rocksdb {
class Env;
class WriteBatch;
}

namespace rollcall {

class Store;
class SpaceGuard;
class RollupPaths;

struct LogOptions {
  std::string dir;
  // The node's unit. A new data dir is stamped with it; an existing one must match.
  UnitCode unit;
  // Refuse appends while the data dir's file system has less free space than this.
  uint64_t min_free_bytes = 256ull << 20;
  // Refuse appends while the data dir holds more than this (0: no cap).
  uint64_t max_dir_bytes = 0;
  // Open even when the projections are stale or half rebuilt: only for rebuild_projections().
  bool for_rebuild = false;
  // Sync every write before it returns (C5). Only a simulation that never loses power and
  // closes the log to model a crash may turn it off, for speed.
  bool synced_writes = true;
  // How long submitted request ids are remembered (engine/request_index.h).
  RequestWindow requests{};
  // Events a rebuild, or a verify by this writer, replays into one batch of projection changes
  // (one bulk load): bounds their memory. (A reader's verify uses the default.) Tests make it
  // small, to replay a short log in many loads.
  size_t replay_chunk = 100000;
  // For tests only: the RocksDB Env the writer's database runs on (null: rocksdb::Env::Default()),
  // e.g. tests/support/power_loss_env.h, which drops unsynced writes at a simulated power loss.
  // Not owned; it must outlive the log. Readers and scratch databases always use the default.
  rocksdb::Env* env = nullptr;
};

// The fate of one submitted event.
struct SubmitOutcome {
  std::optional<OriginSeq> accepted;
  bool repeated = false;  // answered from an earlier identical request (requestId)
  std::optional<Rejection> rejected;
};

struct Watermark {
  UnitCode origin;
  uint64_t seq = 0;           // highest seq held with no gap below it
  uint64_t chain_hash = 0;    // chained content hash of events 1..seq
  Timestamp newest_recorded_at;
};

// The data dir's size and disk, and the RocksDB figures that predict write stalls.
struct StorageFigures {
  uint64_t dir_bytes = 0;       // every file under the data dir
  std::optional<uint64_t> free_bytes;  // on its file system
  uint64_t min_free_bytes = 0;  // the reserve appends keep free
  uint64_t max_dir_bytes = 0;   // the cap on dir_bytes (0: none)
  uint64_t pending_compaction_bytes = 0;
  uint64_t running_compactions = 0;
  uint64_t memtable_bytes = 0;
  bool write_stopped = false;
  bool write_delayed = false;
  uint64_t stall_micros = 0;    // writes held back by RocksDB since open
};

struct IngestReport {
  size_t applied = 0;
  size_t duplicates = 0;
};

// One difference `verify_projections` found: the stored projection against a recomputation.
struct ProjectionDifference {
  std::string what;        // e.g. "tally 01 2024-03 members.active", "member 00028-000001"
  std::string stored;      // "absent" when the node lacks it
  std::string recomputed;  // "absent" when the recomputation lacks it
};

struct VerifyReport {
  uint64_t events = 0;      // events replayed
  uint64_t keys = 0;        // projection keys compared
  uint64_t differences = 0; // all of them; `first` holds at most kMaxListed
  std::vector<ProjectionDifference> first;
  static constexpr size_t kMaxListed = 100;
};

// Progress of a long replay: events done of total.
using ReplayProgress = std::function<void(uint64_t done, uint64_t total)>;

// A fork found on a replication link: the peer holds another history of `origin` than this
// node from `first_seq` on. Kept in the data dir until an operator resolves it.
struct ForkRecord {
  UnitCode origin;
  UnitCode peer;           // the parent or child unit on the other end of the link
  uint64_t first_seq = 0;  // the first seq whose events differ (0: not known)
  Timestamp seen_at;
};

// What `tail` keeps; unset fields match everything.
struct LogFilter {
  std::optional<UnitCode> unit;
  // Instead of `unit`: events of any of these units (a unit and its subtree).
  std::optional<std::set<std::string>> units;
  std::optional<UnitCode> origin;
  std::optional<std::string> kind;    // JSON name, e.g. "memberAdmitted"
  std::optional<std::string> member;  // events about this memberId (transfers included)
  // Effective dates, both inclusive, as `YYYY-MM-DD` (which sorts as the dates do).
  std::optional<std::string> from_date, to_date;

  bool matches(schema::Event::Reader event) const;
};

class EventLog {
 public:
  static constexpr uint32_t kFormatVersion = 1;

  static Result<std::unique_ptr<EventLog>> open_writer(const LogOptions& options,
                                                       const UnitMap& map);
  static Result<std::unique_ptr<EventLog>> open_reader(const std::string& dir);
  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  // --- writer ---

  // Validates each event (content, subtree, domain rules, retraction targets) and appends the
  // accepted ones, numbered origin = this node's unit, seq = next, recordedAt = `now`, in one
  // synced write. Returns one outcome per event, in order. An event whose (unit, requestId) the
  // node remembers is not appended again: with the same content it is answered with the
  // original id (`repeated`), with other content it is rejected as a conflict.
  std::vector<SubmitOutcome> submit(std::span<const schema::Event::Reader> events, Timestamp now);

  // Appends events relayed from a child, all or nothing: an event already held (same
  // origin:seq and same content) is skipped; a seq beyond the origin's watermark + 1 is a gap
  // (kProtocol); the same origin:seq with other content is a fork (kConflict).
  Result<IngestReport> ingest(std::span<const schema::Event::Reader> events);

  // Ingests several children's batches, each all or nothing as ingest() does, in one synced
  // write when every batch is accepted (group commit: fan-in from many children costs one sync
  // per write, not per batch); when one is refused, each batch is ingested on its own, so the
  // others are appended and the refused one gets its own error. One result per batch, in order.
  std::vector<Result<IngestReport>> ingest_each(std::span<const std::span<const schema::Event::Reader>> batches);

  // --- reads (writer or reader) ---

  // Reader: see what the writer has written since. No-op on the writer.
  Status refresh();

  const UnitCode& unit() const { return unit_; }
  const std::string& incarnation() const { return incarnation_; }  // 16 raw bytes
  // LSN of the newest event held (0: empty).
  Lsn last_lsn() const { return Lsn{next_lsn_.load(std::memory_order_acquire) - 1}; }
  // Next seq this node will give its own events.
  uint64_t next_own_seq() const;

  // Events with LSN >= from, oldest first, at most max_events.
  Result<std::vector<LoggedEvent>> read(Lsn from, size_t max_events) const;
  Result<std::optional<LoggedEvent>> find(const OriginSeq& id) const;
  // The chain hash of id.origin's events 1..id.seq (0 for seq 0); nullopt when not held.
  Result<std::optional<uint64_t>> chain_hash_at(const OriginSeq& id) const;
  // The newest n events matching the filter, oldest first.
  Result<std::vector<LoggedEvent>> tail(size_t n, const LogFilter& filter) const;
  Result<std::vector<Watermark>> watermarks() const;

  // --- projections (writer or reader) ---

  // Ok when the projections are complete and of this rollcall's version; else kIncompatible
  // naming `rollcall rebuild` (a rebuild was interrupted, or an older rollcall kept them).
  Status projections_current() const;
  // The map this data dir was seeded with (its `--units`).
  Result<UnitMap> seed_map() const;
  // The current map (any thread). Null on a reader of a data dir that holds no map yet.
  std::shared_ptr<const UnitMap> map() const;
  // The map as it was at the end of `date` (YYYY-MM-DD): the seed with the map events dated
  // up to it.
  Result<UnitMap> map_as_of(std::string_view date) const;
  // Every map event held, in fold order, each with why it did not apply where it falls ("" when
  // it applied).
  struct FoldedChange {
    MapChange change;
    std::string skipped;
  };
  Result<std::vector<FoldedChange>> map_changes() const;
  // Every dated metric of `unit` summed over `range` under `map`: its own events and those of
  // every unit whose roll-up chain in `map` holds it (for `tally --map-as-of`; reads the own
  // rows of the whole subtree, so slower than tally()).
  Result<std::map<std::string, int64_t>> tally_under(const UnitMap& map, const UnitCode& unit,
                                                     const DateRange& range) const;
  // Every dated metric of `unit` (the sum over its subtree) with a non-zero sum over `range`.
  Result<std::map<std::string, int64_t>> tally(const UnitCode& unit, const DateRange& range) const;
  // members.inTransit of `unit`: transfers within its subtree of which this node holds one half.
  Result<int64_t> in_transit(const UnitCode& unit) const;
  Result<std::optional<MemberRecord>> member(std::string_view member_id) const;
  // The members whose current unit is `unit`, by member id.
  Result<std::vector<std::pair<std::string, MemberRecord>>> members_of(const UnitCode& unit) const;
  // A hash of every projection key and value (FNV-1a over the families in order): equal for two
  // logs whose projections are byte-identical, e.g. two nodes holding the same events.
  Result<uint64_t> projection_digest() const;
  // Recomputes every projection from the log into a scratch database under `scratch_parent`
  // and compares it with the stored projections, key by key.
  Result<VerifyReport> verify_projections(const std::string& scratch_parent,
                                          const ReplayProgress& progress) const;

  // Writer: drops every projection and replays the whole log into them. An interrupted rebuild
  // leaves the data dir marked, and a writer will not open it until a rebuild completes.
  Result<uint64_t> rebuild_projections(const ReplayProgress& progress);

  // The request ids this node remembers (a scan of them: for tests, benchmarks and status of
  // small nodes).
  Result<uint64_t> remembered_requests() const;
  // Bytes on disk per column family ("log", "requests", ...): SST files, after flush() all of it.
  Result<std::map<std::string, uint64_t>> family_bytes() const;
  // Writer: writes every memtable to SST files (what a synced write made durable in the WAL).
  Status flush();
  // Writer: a consistent copy of the data dir as it is now, in `dir` (which must not exist):
  // a backup, to be restored as a data dir of the same unit and incarnation.
  Status checkpoint(const std::string& dir);

  // The log incarnation this node last recorded for a child unit (nullopt: never seen).
  Result<std::optional<std::string>> child_incarnation(const UnitCode& child) const;
  // Writer: records a child's incarnation (a synced write).
  Status record_child_incarnation(const UnitCode& child, const std::string& incarnation);

  // Writer: records a fork (a synced write); the same origin and peer again replaces the record.
  Status record_fork(const ForkRecord& fork);
  // Every fork recorded, by origin and peer.
  Result<std::vector<ForkRecord>> forks() const;

  // Writer: how many times the write-ahead log was fsynced since open (every acknowledged
  // write syncs it at least once).
  uint64_t wal_syncs() const;
  // What predicts storage trouble, for /metrics: measured now (walks the data dir), any thread.
  StorageFigures storage_figures() const;

 private:
  class WriteSet;

  explicit EventLog(std::unique_ptr<Store> store);
  Status load_meta(bool writer, const LogOptions* options);
  Status load_positions();
  Result<std::shared_ptr<const LogBatchView>> load_batch(Lsn first_lsn) const;
  Status load_projection_meta(const UnitMap& map, bool for_rebuild);
  // Adds the write that marks the projections complete and of this rollcall's version.
  void stamp_projection_version(rocksdb::WriteBatch& batch) const;
  // Stages a numbered event's projection in the write.
  Status project(WriteSet& ws, schema::Event::Reader event) const;
  // Stages a child's batch in the write (ingest's checks), counting it in `report`.
  Status stage_ingest(WriteSet& ws, std::span<const schema::Event::Reader> events, IngestReport& report) const;
  // Replays the log's events [1, last] into `batch`es over `target`, writing each.
  Result<uint64_t> replay_projections(Store& target, RollupPaths& paths, const ReplayProgress& progress) const;
  // The event `id` as this write sees it: staged earlier in the write, or committed (then
  // `stored` keeps its batch alive for the returned reader). nullopt when not held.
  Result<std::optional<schema::Event::Reader>> held_event(const WriteSet& ws, const OriginSeq& id,
                                                          std::optional<LoggedEvent>& stored) const;
  std::optional<Rejection> check_retraction(WriteSet& ws, schema::Event::Reader e) const;
  // A submitted map event (scope checked by the validator) against the map this write builds:
  // it must come after every map event held in the fold's order and apply.
  std::optional<Rejection> check_map_change(WriteSet& ws, schema::Event::Reader e, uint64_t seq) const;
  // Loads the map from the stored seed and map events (open, refresh).
  Status load_map();
  void publish_map(std::shared_ptr<const UnitMap> map);
  // The member rules of a submitted member event that will get `id` (nullopt: none broken).
  std::optional<Rejection> check_member_event(WriteSet& ws, schema::Event::Reader e, const OriginSeq& id) const;
  // A submitted event's requestId against those remembered: the original's id for a repeat, a
  // rejection for the same request with other content, or neither (then `forgotten` is the
  // stored entry the new event replaces, if any).
  struct RepeatCheck {
    std::optional<OriginSeq> original;
    std::optional<Rejection> rejection;
    std::optional<RememberedRequest> forgotten;
  };
  Result<RepeatCheck> check_repeat(WriteSet& ws, schema::Event::Reader e, uint64_t own_head, Timestamp now) const;
  // Stages the request ids of this node's own events taken back from a parent.
  Status remember_taken_back(WriteSet& ws, schema::Event::Reader e) const;
  Status commit(WriteSet& ws);
  Status check_writable() const;

  std::unique_ptr<Store> store_;
  mutable BatchCache batches_;  // the batches decoded last (load_batch)
  std::optional<EventValidator> validator_;
  std::unique_ptr<RollupPaths> paths_;  // writer: how events roll up under the map
  std::shared_ptr<const UnitMap> seed_;
  mutable std::mutex map_mutex_;
  std::shared_ptr<const UnitMap> map_;  // guarded by map_mutex_
  std::string last_map_key_;            // writer: the last map_events key, in fold order
  std::unique_ptr<SpaceGuard> space_;
  std::unique_ptr<RequestIndex> requests_;  // writer: the request ids it remembers
  UnitCode unit_;
  std::string incarnation_;
  std::atomic<uint64_t> next_lsn_{1};  // written by the writer; read by any thread
  std::map<UnitCode, Watermark> watermarks_;  // writer: cache of the watermarks CF
  bool synced_writes_ = true;
  size_t replay_chunk_ = 100000;
  std::string write_failure_;  // set when a synced write failed: the log is fail-stopped
};

}  // namespace rollcall
