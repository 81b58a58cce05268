// EventLog: opening, and the two write paths (submit, ingest). Reads are in event_log_read.cpp.
#include "engine/event_log.h"

#include <algorithm>
#include <random>
#include <unordered_map>

#include <capnp/message.h>
#include <capnp/serialize.h>

#include "engine/content_hash.h"
#include "engine/event_fields.h"
#include "engine/keys.h"
#include "engine/projection.h"
#include "engine/space_guard.h"
#include "engine/store.h"

namespace rollcall {

using Which = schema::Event::Which;

// Everything one write changes, staged in memory until commit().
class EventLog::WriteSet {
 public:
  WriteSet(const KeyValueReader& base, RollupPaths& paths) : projection(base, paths) {}

  capnp::MallocMessageBuilder arena;
  std::vector<capnp::Orphan<schema::Event>> events;
  std::vector<uint64_t> chains;  // the origin's chain hash after each event
  std::map<UnitCode, Watermark> watermarks;  // origins this write moves
  ProjectionBatch projection;                // tallies, members, transfers, retraction marks
  RequestWrites requests;                    // request ids of the events appended
  std::optional<Timestamp> now;              // a submit's clock: request ids expire against it
  // A submit's map events so far: the map they make and a validator on it, for the events
  // after them in the same write, and the last map_events key staged.
  std::shared_ptr<UnitMap> working_map;
  std::optional<EventValidator> working_validator;
  std::string last_map_key;

  Watermark& watermark(const std::map<UnitCode, Watermark>& committed, const UnitCode& origin) {
    auto it = watermarks.find(origin);
    if (it != watermarks.end()) return it->second;
    auto base = committed.find(origin);
    Watermark w = base != committed.end() ? base->second : Watermark{origin, 0, 0, {}};
    return watermarks.emplace(origin, w).first->second;
  }

  // Copies `event` into the write and returns the copy for numbering.
  schema::Event::Builder add(schema::Event::Reader event) {
    events.push_back(arena.getOrphanage().newOrphanCopy(event));
    return events.back().get();
  }

  // Seals the event just numbered: moves its origin's watermark and chain hash.
  void seal_last(const std::map<UnitCode, Watermark>& committed) {
    auto event = events.back().getReader();
    auto origin = UnitCode::trusted(text_view(event.getOrigin()));
    Watermark& w = watermark(committed, origin);
    w.seq = event.getSeq();
    w.chain_hash = chain_hash(w.chain_hash, event_content_hash(event));
    chains.push_back(w.chain_hash);
    w.newest_recorded_at = std::max(w.newest_recorded_at, Timestamp{event.getRecordedAt()});
  }
};

EventLog::EventLog(std::unique_ptr<Store> store) : store_(std::move(store)) {}

EventLog::~EventLog() = default;

Result<std::unique_ptr<EventLog>> EventLog::open_writer(const LogOptions& options,
                                                        const UnitMap& map) {
  if (!map.contains(options.unit))
    return invalid_input("unit " + options.unit.str() + " is not in the units file");
  // A rebuild works on an existing data dir; it never creates one.
  auto store = Store::open(options.dir, Store::Mode::kWriter, /*create=*/!options.for_rebuild,
                           options.env);
  if (!store.ok()) return store.error();
  auto log = std::unique_ptr<EventLog>(new EventLog(std::move(store).value()));
  ROLLCALL_TRY(log->load_meta(/*writer=*/true, &options));
  ROLLCALL_TRY(log->load_positions());
  ROLLCALL_TRY(log->load_projection_meta(map, options.for_rebuild));
  ROLLCALL_TRY(log->load_map());
  log->paths_ = std::make_unique<RollupPaths>(log->seed_, log->map(), options.unit);
  log->synced_writes_ = options.synced_writes;
  log->replay_chunk_ = std::max<size_t>(1, options.replay_chunk);
  log->space_ = std::make_unique<SpaceGuard>(options.dir, options.min_free_bytes, options.max_dir_bytes);
  log->requests_ = std::make_unique<RequestIndex>(options.requests);
  return log;
}

Result<std::unique_ptr<EventLog>> EventLog::open_reader(const std::string& dir) {
  auto store = Store::open(dir, Store::Mode::kReader, /*create=*/false);
  if (!store.ok()) return store.error();
  auto log = std::unique_ptr<EventLog>(new EventLog(std::move(store).value()));
  ROLLCALL_TRY(log->load_meta(/*writer=*/false, nullptr));
  ROLLCALL_TRY(log->load_positions());
  ROLLCALL_TRY(log->load_map());
  return log;
}

Status EventLog::load_map() {
  auto seed = seed_map();
  if (!seed.ok()) {
    if (seed.error().kind() == ErrorKind::kNotFound && store_->mode() == Store::Mode::kReader) return ok_status();
    return seed.error();
  }
  seed_ = std::make_shared<const UnitMap>(std::move(seed).value());
  auto folded = fold_map(*seed_, *store_);
  if (!folded.ok()) return folded.error();
  publish_map(std::make_shared<const UnitMap>(std::move(folded).value()));
  last_map_key_.clear();
  auto it = store_->iterator(Cf::kMapEvents);
  it->SeekToLast();
  if (it->Valid()) last_map_key_ = it->key().ToString();
  if (!it->status().ok()) return to_error(it->status(), "reading the map events");
  return ok_status();
}

void EventLog::publish_map(std::shared_ptr<const UnitMap> map) {
  {
    std::lock_guard lock(map_mutex_);
    map_ = map;
  }
  if (store_->mode() == Store::Mode::kWriter) validator_.emplace(*map, unit_);  // `map` keeps it alive
  if (paths_) paths_->set_map(std::move(map));
}

std::shared_ptr<const UnitMap> EventLog::map() const {
  std::lock_guard lock(map_mutex_);
  return map_;
}

Status EventLog::load_meta(bool writer, const LogOptions* options) {
  auto version = store_->get(Cf::kMeta, keys::kFormatVersionKey);
  if (!version.ok()) return version.error();
  if (!version->has_value()) {
    if (!writer)
      return Error(ErrorKind::kNotFound, "'" + store_->dir() + "' is not a rollcall data dir yet");
    // A new data dir: stamp it with the format version, the unit and a random incarnation.
    std::random_device random;
    std::string incarnation;
    for (int i = 0; i < 4; ++i) keys::put_be32(incarnation, random());
    std::string version_value;
    keys::put_be32(version_value, kFormatVersion);
    rocksdb::WriteBatch batch;
    batch.Put(store_->cf(Cf::kMeta), std::string(keys::kFormatVersionKey), version_value);
    batch.Put(store_->cf(Cf::kMeta), std::string(keys::kUnitKey), options->unit.str());
    batch.Put(store_->cf(Cf::kMeta), std::string(keys::kIncarnationKey), incarnation);
    ROLLCALL_TRY(store_->write(batch));
    unit_ = options->unit;
    incarnation_ = incarnation;
    return ok_status();
  }
  if ((*version)->size() != 4)
    return Error(ErrorKind::kCorruption, "format_version of '" + store_->dir() + "' is unreadable");
  const uint32_t found = keys::get_be32(**version);
  if (found != kFormatVersion)
    return Error(ErrorKind::kIncompatible, "data dir '" + store_->dir() + "' has format version " +
                                               std::to_string(found) + "; this rollcall reads " +
                                               std::to_string(kFormatVersion));
  auto unit = store_->get(Cf::kMeta, keys::kUnitKey);
  auto incarnation = store_->get(Cf::kMeta, keys::kIncarnationKey);
  if (!unit.ok()) return unit.error();
  if (!incarnation.ok()) return incarnation.error();
  if (!unit->has_value() || !incarnation->has_value())
    return Error(ErrorKind::kCorruption, "data dir '" + store_->dir() + "' lacks its unit or incarnation");
  unit_ = UnitCode::trusted(**unit);
  incarnation_ = **incarnation;
  if (writer && unit_ != options->unit)
    return invalid_input("data dir '" + store_->dir() + "' belongs to unit " + unit_.str() +
                         ", not " + options->unit.str());
  return ok_status();
}

Status EventLog::load_positions() {
  uint64_t next_lsn = 1;
  auto it = store_->iterator(Cf::kLog);
  it->SeekToLast();
  if (it->Valid()) {
    const auto key = it->key().ToStringView();
    if (key.size() != 8) return Error(ErrorKind::kCorruption, "log key of unexpected size");
    auto batch = LogBatchView::decode(Lsn{keys::get_be64(key)}, it->value().ToStringView());
    if (!batch.ok()) return batch.error();
    next_lsn = (*batch)->first_lsn().value + (*batch)->size();
  }
  if (!it->status().ok()) return to_error(it->status(), "reading the log");
  next_lsn_.store(next_lsn, std::memory_order_release);
  auto marks = watermarks();
  if (!marks.ok()) return marks.error();
  watermarks_.clear();
  for (auto& w : *marks) watermarks_.emplace(w.origin, w);
  return ok_status();
}

uint64_t EventLog::next_own_seq() const {
  auto it = watermarks_.find(unit_);
  return (it == watermarks_.end() ? 0 : it->second.seq) + 1;
}

Result<std::optional<schema::Event::Reader>> EventLog::held_event(const WriteSet& ws, const OriginSeq& id,
                                                                 std::optional<LoggedEvent>& stored) const {
  for (auto& orphan : ws.events) {
    auto staged = orphan.getReader();
    if (staged.getSeq() == id.seq && text_view(staged.getOrigin()) == id.origin.str())
      return std::optional<schema::Event::Reader>(staged);
  }
  auto found = find(id);
  if (!found.ok()) return found.error();
  if (!found->has_value()) return std::optional<schema::Event::Reader>();
  stored = **found;
  return std::optional<schema::Event::Reader>(stored->event());
}

Status EventLog::project(WriteSet& ws, schema::Event::Reader event) const {
  return ws.projection.apply(event, [&](const OriginSeq& id) -> Result<std::optional<HeldEvent>> {
    std::optional<LoggedEvent> stored;
    auto held = held_event(ws, id, stored);
    if (!held.ok()) return held.error();
    if (!held->has_value()) return std::optional<HeldEvent>();
    return std::optional<HeldEvent>(HeldEvent{**held, stored ? stored->batch : nullptr});
  });
}

std::optional<Rejection> EventLog::check_retraction(WriteSet& ws, schema::Event::Reader e) const {
  const auto ref_text = std::string(text_view(e.getEventRetracted().getRef()));
  auto ref = OriginSeq::parse(ref_text).value();  // the validator checked the syntax
  const auto conflict = [](std::string message) {
    return Rejection{wire::RejectCode::CONFLICT, std::move(message)};
  };
  auto done = ws.projection.retracted_by(ref_text);
  if (!done.ok()) return Rejection{wire::RejectCode::INTERNAL, done.error().message()};
  if (done->has_value()) return conflict("event " + ref_text + " is already retracted (by " + **done + ")");

  std::optional<LoggedEvent> stored;
  auto target = held_event(ws, ref, stored);
  if (!target.ok()) return Rejection{wire::RejectCode::INTERNAL, target.error().message()};
  if (!target->has_value()) return conflict("event " + ref_text + " does not exist");
  if ((*target)->which() == Which::EVENT_RETRACTED)
    return conflict("event " + ref_text + " is itself a retraction and cannot be retracted");
  if (is_map_event(**target))
    return conflict("event " + ref_text + " is a map change (" + std::string(event_kind_name(**target)) +
                    ") and cannot be retracted; submit the change that undoes it");
  if (auto member_id = event_member_id(**target)) {
    auto member = ws.projection.member(std::string(*member_id));
    if (!member.ok()) return Rejection{wire::RejectCode::INTERNAL, member.error().message()};
    if (!member->has_value()) return std::nullopt;
    if (auto kept = check_member_retraction(**member, ref); !kept.ok())
      return Rejection{wire::RejectCode::DOMAIN_RULE, "member " + std::string(*member_id) + ": " + kept.error().message()};
  }
  return std::nullopt;
}

std::optional<Rejection> EventLog::check_map_change(WriteSet& ws, schema::Event::Reader e, uint64_t seq) const {
  const std::string key = map_event_key(text_view(e.getEffectiveDate()), unit_.str(), seq);
  const std::string& last = ws.last_map_key.empty() ? last_map_key_ : ws.last_map_key;
  const std::string kind(event_kind_name(e));
  if (!last.empty() && key <= last)
    return Rejection{wire::RejectCode::INVALID,
                     kind + " dated " + std::string(text_view(e.getEffectiveDate())) +
                         ": this node holds a map change that folds after it (dated " + last.substr(0, last.find('\0')) +
                         ", origin " + last.substr(last.find('\0') + 1, last.size() - last.find('\0') - 10) +
                         "); map changes are issued in date order (date it a day later)"};
  auto change = map_change_of(e);
  if (!change.ok()) return Rejection{wire::RejectCode::INVALID, kind + ": " + change.error().message()};
  if (!ws.working_map) ws.working_map = std::make_shared<UnitMap>(*map());
  if (auto applied = ws.working_map->apply(*change); !applied.ok())
    return Rejection{wire::RejectCode::INVALID, applied.error().message()};
  ws.last_map_key = key;
  ws.working_validator.emplace(*ws.working_map, unit_);
  return std::nullopt;
}

std::optional<Rejection> EventLog::check_member_event(WriteSet& ws, schema::Event::Reader e, const OriginSeq& id) const {
  auto member_id = event_member_id(e);
  if (!member_id) return std::nullopt;
  auto member = ws.projection.member(std::string(*member_id));
  if (!member.ok()) return Rejection{wire::RejectCode::INTERNAL, member.error().message()};
  const auto state = *member ? std::optional<MemberState>((*member)->state) : std::nullopt;
  if (auto next = apply_member_event(state, e, /*strict=*/true); !next.ok())
    return Rejection{wire::RejectCode::DOMAIN_RULE, next.error().message()};
  if (*member) {
    if (auto in_order = check_member_chronology(**member, e, id); !in_order.ok())
      return Rejection{wire::RejectCode::DOMAIN_RULE, in_order.error().message()};
  }
  return std::nullopt;
}

Result<EventLog::RepeatCheck> EventLog::check_repeat(WriteSet& ws, schema::Event::Reader e, uint64_t own_head,
                                                     Timestamp now) const {
  RepeatCheck check;
  const std::string key = keys::request_key(text_view(e.getUnit()), text_view(e.getRequestId()));
  std::optional<RememberedRequest> earlier = ws.requests.staged(key);
  if (!earlier) {
    auto stored = RequestIndex::stored(*store_, key);
    if (!stored.ok()) return stored.error();
    if (*stored && !requests_->remembered(**stored, own_head, now)) {
      check.forgotten = *stored;
      return check;
    }
    earlier = *stored;
  }
  if (!earlier) return check;
  const OriginSeq original{unit_, earlier->seq};
  std::optional<LoggedEvent> kept;
  auto held = held_event(ws, original, kept);
  if (!held.ok()) return held.error();
  if (!held->has_value())
    return Error(ErrorKind::kCorruption, "requestId '" + std::string(text_view(e.getRequestId())) + "' names " +
                                             original.to_string() + ", which this log does not hold");
  if (submitted_content_hash(**held) == submitted_content_hash(e)) {
    check.original = original;
  } else {
    check.rejection = Rejection{wire::RejectCode::CONFLICT,
                                "requestId '" + std::string(text_view(e.getRequestId())) + "' of unit " +
                                    std::string(text_view(e.getUnit())) + " was already used for event " +
                                    original.to_string() + " with other content"};
  }
  return check;
}

Status EventLog::remember_taken_back(WriteSet& ws, schema::Event::Reader e) const {
  if (e.getRequestId().size() == 0 || text_view(e.getOrigin()) != unit_.str()) return ok_status();
  const std::string key = keys::request_key(text_view(e.getUnit()), text_view(e.getRequestId()));
  const RememberedRequest request{e.getSeq(), Timestamp{e.getRecordedAt()}};
  if (auto staged = ws.requests.staged(key)) {
    if (staged->seq < request.seq) ws.requests.stage(key, request, std::nullopt);
    return ok_status();
  }
  auto stored = RequestIndex::stored(*store_, key);
  if (!stored.ok()) return stored.error();
  if (!*stored || (*stored)->seq < request.seq) ws.requests.stage(key, request, *stored);
  return ok_status();
}

Status EventLog::check_writable() const {
  if (write_failure_.empty()) return ok_status();
  return Error(ErrorKind::kUnavailable,
               "the log stopped taking writes after a storage error (" + write_failure_ +
                   "); restart rollcalld once the cause is fixed");
}

std::vector<SubmitOutcome> EventLog::submit(std::span<const schema::Event::Reader> events,
                                            Timestamp now) {
  std::vector<SubmitOutcome> outcomes(events.size());
  if (auto writable = check_writable(); !writable.ok()) {
    for (auto& o : outcomes) o.rejected = Rejection{wire::RejectCode::UNAVAILABLE, writable.error().message()};
    return outcomes;
  }
  WriteSet ws(*store_, *paths_);
  ws.now = now;
  uint64_t next_seq = next_own_seq();
  const uint64_t head_before = next_seq - 1;  // the request window of the whole write
  for (size_t i = 0; i < events.size(); ++i) {
    const schema::Event::Reader e = events[i];
    auto reject = [&](Rejection r) { outcomes[i].rejected = std::move(r); };
    const EventValidator& validator = ws.working_validator ? *ws.working_validator : *validator_;
    if (auto r = validator.check_submitted(e)) {
      reject(std::move(*r));
      continue;
    }
    std::optional<RememberedRequest> forgotten;
    if (e.getRequestId().size() != 0) {
      auto repeat = check_repeat(ws, e, head_before, now);
      if (!repeat.ok()) {
        reject(Rejection{wire::RejectCode::INTERNAL, repeat.error().message()});
        continue;
      }
      if (repeat->rejection) {
        reject(std::move(*repeat->rejection));
        continue;
      }
      if (repeat->original) {
        outcomes[i].accepted = repeat->original;
        outcomes[i].repeated = true;
        continue;
      }
      forgotten = repeat->forgotten;
    }
    if (auto r = check_member_event(ws, e, OriginSeq{unit_, next_seq})) {
      reject(std::move(*r));
      continue;
    }
    if (e.which() == Which::EVENT_RETRACTED) {
      if (auto r = check_retraction(ws, e)) {
        reject(std::move(*r));
        continue;
      }
    }
    if (is_map_event(e)) {
      if (auto r = check_map_change(ws, e, next_seq)) {
        reject(std::move(*r));
        continue;
      }
    }
    // Accepted: number it and project it.
    auto copy = ws.add(e);
    copy.setOrigin(unit_.str());
    copy.setSeq(next_seq);
    copy.setRecordedAt(now.micros);
    ws.seal_last(watermarks_);
    if (auto projected = project(ws, copy.asReader()); !projected.ok()) {
      // A storage read failed: the staged projection is incomplete, so nothing is written.
      for (auto& outcome : outcomes) {
        outcome.accepted.reset();
        outcome.repeated = false;
        outcome.rejected = Rejection{wire::RejectCode::INTERNAL, projected.error().message()};
      }
      return outcomes;
    }
    if (e.getRequestId().size() != 0)
      ws.requests.stage(keys::request_key(text_view(e.getUnit()), text_view(e.getRequestId())),
                        RememberedRequest{next_seq, now}, forgotten);
    outcomes[i].accepted = OriginSeq{unit_, next_seq++};
  }
  if (ws.events.empty()) return outcomes;

  Status written = commit(ws);
  if (!written.ok()) {
    // Nothing was written: every event this call would have accepted is refused.
    const auto code = written.error().kind() == ErrorKind::kStorageFull ? wire::RejectCode::STORAGE_FULL
                      : written.error().kind() == ErrorKind::kUnavailable ? wire::RejectCode::UNAVAILABLE
                                                                          : wire::RejectCode::INTERNAL;
    for (auto& outcome : outcomes) {
      if (!outcome.accepted) continue;
      // Repeats too: the original may be one of this write's events.
      outcome.accepted.reset();
      outcome.repeated = false;
      outcome.rejected = Rejection{code, written.error().message()};
    }
  }
  return outcomes;
}

Status EventLog::stage_ingest(WriteSet& ws, std::span<const schema::Event::Reader> events,
                              IngestReport& report) const {
  for (const schema::Event::Reader e : events) {
    if (auto bad = EventValidator::check_relayed(e))
      return invalid_input("relayed event " + event_id(e) + ": " + bad->message);
    auto origin = UnitCode::parse(text_view(e.getOrigin()));
    const OriginSeq id{*origin, e.getSeq()};
    Watermark& w = ws.watermark(watermarks_, *origin);
    if (id.seq <= w.seq) {
      // Already held: the content must be the same, or it is a fork.
      std::optional<LoggedEvent> stored;
      auto held = held_event(ws, id, stored);
      if (!held.ok()) return held.error();
      if (!held->has_value())
        return Error(ErrorKind::kCorruption, "event " + id.to_string() + " is below the watermark but not in the log");
      if (event_content_hash(**held) != event_content_hash(e))
        return Error(ErrorKind::kConflict, "fork: origin " + origin->str() + " seq " +
                                               std::to_string(id.seq) +
                                               " differs from the event this node holds");
      ++report.duplicates;
      continue;
    }
    if (id.seq != w.seq + 1)
      return Error(ErrorKind::kProtocol, "gap: origin " + origin->str() + " is at seq " +
                                             std::to_string(w.seq) + " here, got seq " +
                                             std::to_string(id.seq));
    ws.add(e);
    ws.seal_last(watermarks_);
    ROLLCALL_TRY(project(ws, ws.events.back().getReader()));
    ROLLCALL_TRY(remember_taken_back(ws, e));
    ++report.applied;
  }
  return ok_status();
}

Result<IngestReport> EventLog::ingest(std::span<const schema::Event::Reader> events) {
  ROLLCALL_TRY(check_writable());
  IngestReport report;
  WriteSet ws(*store_, *paths_);
  ROLLCALL_TRY(stage_ingest(ws, events, report));
  if (ws.events.empty()) return report;
  ROLLCALL_TRY(commit(ws));
  return report;
}

std::vector<Result<IngestReport>> EventLog::ingest_each(
    std::span<const std::span<const schema::Event::Reader>> batches) {
  std::vector<Result<IngestReport>> results;
  results.reserve(batches.size());
  if (batches.size() > 1 && check_writable().ok()) {
    // Optimistic: every batch staged in one write. Should any fail, nothing of this write is
    // kept and each batch is ingested on its own below, so one child's fork or gap refuses
    // that child's batch only.
    WriteSet ws(*store_, *paths_);
    std::vector<IngestReport> reports(batches.size());
    bool staged = true;
    for (size_t i = 0; i < batches.size() && staged; ++i) staged = stage_ingest(ws, batches[i], reports[i]).ok();
    if (staged) {
      const Status committed = ws.events.empty() ? ok_status() : commit(ws);
      for (const IngestReport& report : reports) {
        if (committed.ok()) results.emplace_back(report);
        else results.emplace_back(committed.error());
      }
      return results;
    }
  }
  for (const auto& batch : batches) results.push_back(ingest(batch));
  return results;
}

Result<std::optional<std::string>> EventLog::child_incarnation(const UnitCode& child) const {
  auto value = store_->get(Cf::kMeta, keys::child_incarnation_key(child.str()));
  if (!value.ok()) return value.error();
  return *value;
}

Status EventLog::record_child_incarnation(const UnitCode& child, const std::string& incarnation) {
  ROLLCALL_TRY(check_writable());
  rocksdb::WriteBatch batch;
  batch.Put(store_->cf(Cf::kMeta), keys::child_incarnation_key(child.str()), incarnation);
  return store_->write(batch);
}

Status EventLog::record_fork(const ForkRecord& fork) {
  ROLLCALL_TRY(check_writable());
  rocksdb::WriteBatch batch;
  batch.Put(store_->cf(Cf::kMeta), keys::fork_key(fork.origin.str(), fork.peer.str()),
            keys::encode_seq_at(fork.first_seq, fork.seen_at.micros));
  return store_->write(batch);
}

Status EventLog::commit(WriteSet& ws) {
  const uint64_t first_lsn = next_lsn_.load(std::memory_order_relaxed);
  const auto count = static_cast<uint32_t>(ws.events.size());

  capnp::MallocMessageBuilder message;
  auto list = message.initRoot<storage::LogBatch>().initEvents(count);
  for (uint32_t i = 0; i < count; ++i) list.setWithCaveats(i, ws.events[i].getReader());
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();

  rocksdb::WriteBatch batch;
  batch.Put(store_->cf(Cf::kLog), keys::log_key(first_lsn),
            rocksdb::Slice(reinterpret_cast<const char*>(bytes.begin()), bytes.size()));

  // Index runs: consecutive positions of one origin with consecutive seqs share an entry.
  std::map<std::string, uint32_t> unit_counts;
  uint32_t run_start = 0;
  for (uint32_t i = 0; i < count; ++i) {
    auto e = list[i].asReader();
    unit_counts[std::string(text_view(e.getUnit()))]++;
    const bool last = i + 1 == count;
    if (!last) {
      auto n = list[i + 1].asReader();
      if (n.getOrigin() == e.getOrigin() && n.getSeq() == e.getSeq() + 1) continue;
    }
    auto first = list[run_start].asReader();
    batch.Put(store_->cf(Cf::kOriginIndex),
              keys::origin_index_key(text_view(first.getOrigin()), first.getSeq()),
              keys::encode_origin_run({first_lsn, run_start, i + 1 - run_start, ws.chains[i]}));
    run_start = i + 1;
  }
  for (const auto& [unit, n] : unit_counts) {
    std::string value;
    keys::put_be32(value, n);
    batch.Put(store_->cf(Cf::kUnitIndex), keys::unit_index_key(unit, first_lsn), value);
  }
  for (const auto& [origin, w] : ws.watermarks) {
    batch.Put(store_->cf(Cf::kWatermarks), origin.str(),
              keys::encode_watermark({w.seq, w.chain_hash, w.newest_recorded_at.micros}));
  }
  auto projected = ws.projection.changes();
  if (!projected.ok()) return projected.error();
  const auto own = ws.watermarks.find(unit_);
  const uint64_t own_head = own != ws.watermarks.end() ? own->second.seq : next_own_seq() - 1;
  auto expired_through = requests_->add_to_batch(*store_, ws.requests, own_head, ws.now, batch);
  if (!expired_through.ok()) return expired_through.error();
  for (const KeyChange& change : *projected) {
    if (change.value) batch.Put(store_->cf(change.cf), change.key, *change.value);
    else batch.Delete(store_->cf(change.cf), change.key);
  }

  ROLLCALL_TRY(space_->check(batch.GetDataSize()));
  if (auto written = store_->write(batch, synced_writes_ ? Store::Durability::kSynced : Store::Durability::kBuffered);
      !written.ok()) {
    // The write may or may not have reached the WAL: our positions can no longer be trusted.
    // Fail-stop: refuse every further write until a restart reloads them from disk.
    write_failure_ = written.error().message();
    return written.error();
  }
  next_lsn_.store(first_lsn + count, std::memory_order_release);
  for (auto& [origin, w] : ws.watermarks) watermarks_[origin] = w;
  requests_->committed(*expired_through);
  if (ws.projection.new_map()) {
    for (const auto& orphan : ws.events) {
      auto e = orphan.getReader();
      if (is_map_event(e)) last_map_key_ = std::max(last_map_key_, map_event_key(e));
    }
    publish_map(ws.projection.new_map());
  }
  return ok_status();
}

}  // namespace rollcall
