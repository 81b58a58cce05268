// EventLog: the read paths, shared by the writer and by readers beside a running node.
#include <algorithm>

#include "engine/content_hash.h"
#include "engine/event_fields.h"
#include "engine/event_log.h"
#include "engine/keys.h"
#include "engine/space_guard.h"
#include "engine/store.h"

namespace rollcall {
bool LogFilter::matches(schema::Event::Reader e) const {
  if (unit && text_view(e.getUnit()) != unit->str()) return false;
  if (units && units->count(std::string(text_view(e.getUnit()))) == 0) return false;
  if (origin && text_view(e.getOrigin()) != origin->str()) return false;
  if (kind && event_kind_name(e) != *kind) return false;
  if (member && event_member_id(e) != std::optional<std::string_view>(*member)) return false;
  const std::string_view date = text_view(e.getEffectiveDate());
  if (from_date && date < *from_date) return false;
  if (to_date && date > *to_date) return false;
  return true;
}

uint64_t EventLog::wal_syncs() const { return store_->wal_syncs(); }

StorageFigures EventLog::storage_figures() const {
  StorageFigures f;
  f.dir_bytes = directory_bytes(store_->dir());
  f.free_bytes = free_disk_bytes(store_->dir());
  if (space_) {
    f.min_free_bytes = space_->min_free_bytes();
    f.max_dir_bytes = space_->max_dir_bytes();
  }
  const auto property = [this](const std::string& name) {
    uint64_t value = 0;
    return store_->db()->GetAggregatedIntProperty(name, &value) ? value : 0;
  };
  f.pending_compaction_bytes = property(rocksdb::DB::Properties::kEstimatePendingCompactionBytes);
  f.running_compactions = property(rocksdb::DB::Properties::kNumRunningCompactions);
  f.memtable_bytes = property(rocksdb::DB::Properties::kCurSizeAllMemTables);
  uint64_t value = 0;
  f.write_stopped = store_->db()->GetIntProperty(rocksdb::DB::Properties::kIsWriteStopped, &value) && value != 0;
  f.write_delayed =
      store_->db()->GetIntProperty(rocksdb::DB::Properties::kActualDelayedWriteRate, &value) && value != 0;
  f.stall_micros = store_->stall_micros();
  return f;
}

Result<uint64_t> EventLog::remembered_requests() const {
  uint64_t n = 0;
  auto it = store_->iterator(Cf::kRequestExpiry);
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
  if (!it->status().ok()) return to_error(it->status(), "reading the request ids");
  return n;
}

Result<std::map<std::string, uint64_t>> EventLog::family_bytes() const {
  std::map<std::string, uint64_t> out;
  for (size_t i = 0; i < static_cast<size_t>(Cf::kCount); ++i) {
    const auto which = static_cast<Cf>(i);
    auto bytes = store_->sst_bytes(which);
    if (!bytes.ok()) return bytes.error();
    out[cf_name(which)] = *bytes;
  }
  return out;
}

Status EventLog::flush() { return store_->flush(); }

Status EventLog::checkpoint(const std::string& dir) { return store_->checkpoint(dir); }

Result<std::vector<ForkRecord>> EventLog::forks() const {
  std::vector<ForkRecord> out;
  auto it = store_->iterator(Cf::kMeta);
  for (it->Seek(std::string(keys::kForkPrefix)); it->Valid() && it->key().starts_with(std::string(keys::kForkPrefix));
       it->Next()) {
    const auto key = it->key().ToStringView().substr(keys::kForkPrefix.size());
    const auto value = it->value().ToStringView();
    const size_t nul = key.find('\0');
    ForkRecord fork;
    if (nul == std::string_view::npos || !keys::decode_seq_at(value, &fork.first_seq, &fork.seen_at.micros))
      return Error(ErrorKind::kCorruption, "a fork record of unexpected shape");
    fork.origin = UnitCode::trusted(key.substr(0, nul));
    fork.peer = UnitCode::trusted(key.substr(nul + 1));
    out.push_back(std::move(fork));
  }
  if (!it->status().ok()) return to_error(it->status(), "reading the fork records");
  return out;
}

Status EventLog::refresh() {
  if (store_->mode() != Store::Mode::kReader) return ok_status();
  ROLLCALL_TRY(store_->catch_up());
  return load_positions();
}

Result<std::shared_ptr<const LogBatchView>> EventLog::load_batch(Lsn first_lsn) const {
  if (auto cached = batches_.find(first_lsn)) return cached;
  auto value = store_->get(Cf::kLog, keys::log_key(first_lsn.value));
  if (!value.ok()) return value.error();
  if (!value->has_value())
    return Error(ErrorKind::kCorruption,
                 "the index names a log batch at LSN " + std::to_string(first_lsn.value) + " that is missing");
  auto batch = LogBatchView::decode(first_lsn, **value);
  if (batch.ok()) batches_.put(*batch);
  return batch;
}

Result<std::vector<LoggedEvent>> EventLog::read(Lsn from, size_t max_events) const {
  std::vector<LoggedEvent> out;
  if (max_events == 0) return out;
  auto it = store_->iterator(Cf::kLog);
  it->SeekForPrev(keys::log_key(from.value));
  if (!it->Valid()) it->SeekToFirst();
  for (; it->Valid() && out.size() < max_events; it->Next()) {
    auto batch = LogBatchView::decode(Lsn{keys::get_be64(it->key().ToStringView())},
                                      it->value().ToStringView());
    if (!batch.ok()) return batch.error();
    const uint64_t first = (*batch)->first_lsn().value;
    for (uint32_t i = 0; i < (*batch)->size() && out.size() < max_events; ++i) {
      if (first + i < from.value) continue;
      out.push_back(LoggedEvent{Lsn{first + i}, *batch, i});
    }
  }
  if (!it->status().ok()) return to_error(it->status(), "reading the log");
  return out;
}

namespace {

// The origin-index run that covers id.seq, with the iterator left on its entry.
struct RunHit {
  uint64_t first_seq = 0;
  keys::OriginRun run;
  std::unique_ptr<rocksdb::Iterator> it;
};

Result<std::optional<RunHit>> seek_run(const Store& store, const OriginSeq& id) {
  const std::string prefix = keys::origin_prefix(id.origin.str());
  RunHit hit;
  hit.it = store.iterator(Cf::kOriginIndex);
  hit.it->SeekForPrev(keys::origin_index_key(id.origin.str(), id.seq));
  if (!hit.it->status().ok()) return to_error(hit.it->status(), "reading the origin index");
  if (!hit.it->Valid() || !hit.it->key().starts_with(prefix)) return std::optional<RunHit>();
  hit.first_seq = keys::get_be64(hit.it->key().ToStringView(), prefix.size());
  if (!keys::decode_origin_run(hit.it->value().ToStringView(), &hit.run))
    return Error(ErrorKind::kCorruption, "bad origin index entry for " + id.to_string());
  if (id.seq >= hit.first_seq + hit.run.count) return std::optional<RunHit>();
  return std::optional<RunHit>(std::move(hit));
}

}  // namespace

Result<std::optional<LoggedEvent>> EventLog::find(const OriginSeq& id) const {
  auto hit = seek_run(*store_, id);
  if (!hit.ok()) return hit.error();
  if (!hit->has_value()) return std::optional<LoggedEvent>();
  const keys::OriginRun& run = (*hit)->run;
  auto batch = load_batch(Lsn{run.batch_lsn});
  if (!batch.ok()) return batch.error();
  const uint32_t index = run.offset + static_cast<uint32_t>(id.seq - (*hit)->first_seq);
  if (index >= (*batch)->size())
    return Error(ErrorKind::kCorruption, "origin index points past its batch for " + id.to_string());
  return std::optional<LoggedEvent>(LoggedEvent{Lsn{run.batch_lsn + index}, *batch, index});
}

Result<std::optional<uint64_t>> EventLog::chain_hash_at(const OriginSeq& id) const {
  if (id.seq == 0) return std::optional<uint64_t>(0);
  auto hit = seek_run(*store_, id);
  if (!hit.ok()) return hit.error();
  if (!hit->has_value()) return std::optional<uint64_t>();
  const uint64_t first_seq = (*hit)->first_seq;
  const keys::OriginRun& run = (*hit)->run;
  if (id.seq == first_seq + run.count - 1) return std::optional<uint64_t>(run.chain_hash);
  const std::string prefix = keys::origin_prefix(id.origin.str());
  auto& it = (*hit)->it;

  // Inside a run: start from the chain at the end of the previous run and hash forward.
  uint64_t chain = 0;
  if (first_seq > 1) {
    it->Prev();
    keys::OriginRun previous;
    if (!it->Valid() || !it->key().starts_with(prefix) ||
        !keys::decode_origin_run(it->value().ToStringView(), &previous) ||
        keys::get_be64(it->key().ToStringView(), prefix.size()) + previous.count != first_seq)
      return Error(ErrorKind::kCorruption, "the origin index of " + id.origin.str() +
                                               " has no run ending at seq " + std::to_string(first_seq - 1));
    chain = previous.chain_hash;
  }
  auto batch = load_batch(Lsn{run.batch_lsn});
  if (!batch.ok()) return batch.error();
  for (uint64_t seq = first_seq; seq <= id.seq; ++seq) {
    const uint32_t index = run.offset + static_cast<uint32_t>(seq - first_seq);
    if (index >= (*batch)->size())
      return Error(ErrorKind::kCorruption, "origin index points past its batch for " + id.to_string());
    chain = chain_hash(chain, event_content_hash((*batch)->event(index)));
  }
  return std::optional<uint64_t>(chain);
}

Result<std::vector<LoggedEvent>> EventLog::tail(size_t n, const LogFilter& filter) const {
  std::vector<LoggedEvent> newest_first;
  if (n == 0) return newest_first;
  // Walk batches newest first: through the unit index when a unit is named, else the log.
  const bool by_unit = filter.unit.has_value();
  const std::string prefix = by_unit ? keys::origin_prefix(filter.unit->str()) : std::string();
  auto it = store_->iterator(by_unit ? Cf::kUnitIndex : Cf::kLog);
  if (by_unit) {
    std::string upper = prefix;
    upper.append(8, '\xff');
    it->SeekForPrev(upper);
  } else {
    it->SeekToLast();
  }
  for (; it->Valid() && newest_first.size() < n; it->Prev()) {
    std::shared_ptr<const LogBatchView> batch;
    if (by_unit) {
      if (!it->key().starts_with(prefix)) break;
      auto loaded = load_batch(Lsn{keys::get_be64(it->key().ToStringView(), prefix.size())});
      if (!loaded.ok()) return loaded.error();
      batch = *loaded;
    } else {
      auto decoded = LogBatchView::decode(Lsn{keys::get_be64(it->key().ToStringView())},
                                          it->value().ToStringView());
      if (!decoded.ok()) return decoded.error();
      batch = *decoded;
    }
    for (uint32_t i = batch->size(); i-- > 0 && newest_first.size() < n;) {
      if (filter.matches(batch->event(i)))
        newest_first.push_back(LoggedEvent{Lsn{batch->first_lsn().value + i}, batch, i});
    }
  }
  if (!it->status().ok()) return to_error(it->status(), "reading the log");
  std::reverse(newest_first.begin(), newest_first.end());
  return newest_first;
}

Result<std::vector<Watermark>> EventLog::watermarks() const {
  std::vector<Watermark> out;
  auto it = store_->iterator(Cf::kWatermarks);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    keys::WatermarkValue w;
    if (!keys::decode_watermark(it->value().ToStringView(), &w))
      return Error(ErrorKind::kCorruption, "bad watermark for origin " + it->key().ToString());
    out.push_back(Watermark{UnitCode::trusted(it->key().ToStringView()), w.seq, w.chain_hash,
                            Timestamp{w.newest_recorded_at}});
  }
  if (!it->status().ok()) return to_error(it->status(), "reading watermarks");
  return out;
}

}  // namespace rollcall
