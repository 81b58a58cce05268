// EventLog: the projections' meta (seed map, version), reading them, and recomputing them from
// the log (verify, rebuild).
#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "engine/event_fields.h"
#include "engine/event_log.h"
#include "engine/keys.h"
#include "engine/map_change.h"
#include "engine/metrics.h"
#include "engine/projection.h"
#include "engine/store.h"

namespace rollcall {
namespace {

std::string prefix_of(std::string_view unit) {
  std::string p(unit);
  p.push_back('\0');
  return p;
}

// Names a projection key for a difference report.
std::string describe_key(Cf cf, std::string_view key) {
  const size_t nul = key.find('\0');
  switch (cf) {
    case Cf::kTallies: {
      if (nul == std::string_view::npos || nul + 1 >= key.size()) break;
      const std::string unit(key.substr(0, nul));
      const char g = key[nul + 1];
      if (g == keys::kCurrentGranularity) return "tally " + unit + " " + std::string(key.substr(nul + 2));
      if (key.size() < nul + 6) break;
      const uint32_t b = keys::get_be32(key, nul + 2);
      const auto two = [](uint32_t v) { return (v < 10 ? "0" : "") + std::to_string(v); };
      const std::string own = g == keys::kOwnGranularity ? "own " : "";
      const std::string bucket = g == 'Y' ? std::to_string(b)
                                 : g == 'M' ? std::to_string(b / 100) + "-" + two(b % 100)
                                            : std::to_string(b / 10000) + "-" + two(b / 100 % 100) + "-" + two(b % 100);
      return "tally " + own + unit + " " + bucket + " " + std::string(key.substr(nul + 6));
    }
    case Cf::kMembers: return "member " + std::string(key);
    case Cf::kMemberUnits:
      if (nul == std::string_view::npos) break;
      return "member index " + std::string(key.substr(0, nul)) + " " + std::string(key.substr(nul + 1));
    case Cf::kTransfers: {
      const size_t nul2 = key.find('\0', nul == std::string_view::npos ? key.size() : nul + 1);
      if (nul2 == std::string_view::npos) break;
      return "transfers of " + std::string(key.substr(0, nul)) + " from " +
             std::string(key.substr(nul + 1, nul2 - nul - 1)) + " to " + std::string(key.substr(nul2 + 1));
    }
    case Cf::kRetracted: return "retraction of " + std::string(key);
    case Cf::kMapEvents: {
      const size_t date_end = key.find('\0');
      if (date_end == std::string_view::npos || key.size() < 9) break;
      return "map event " + std::string(key.substr(date_end + 1, key.size() - 9 - date_end - 1)) + ":" +
             std::to_string(keys::get_be64(key, key.size() - 8)) + " of " + std::string(key.substr(0, date_end));
    }
    default: break;
  }
  return std::string(cf_name(cf)) + " key of " + std::to_string(key.size()) + " bytes";
}

std::string describe_value(Cf cf, std::string_view value) {
  switch (cf) {
    case Cf::kTallies: {
      int64_t n = 0;
      if (keys::decode_i64(value, &n)) return std::to_string(n);
      break;
    }
    case Cf::kMembers: {
      auto record = decode_member_record(value);
      if (!record.ok()) break;
      const MemberState& s = record->state;
      return "unit " + s.unit + ", " + member_status_name(s.status) + ", since " + s.since + ", " +
             std::to_string(record->history.size()) + " events";
    }
    case Cf::kMemberUnits: return "present";
    case Cf::kTransfers:
      if (value.size() == 8)
        return std::to_string(keys::get_be32(value, 0)) + " out, " + std::to_string(keys::get_be32(value, 4)) + " in";
      break;
    case Cf::kRetracted: return "by " + std::string(value);
    default: break;
  }
  return std::to_string(value.size()) + " bytes";
}

// Walks one family of two stores side by side and records every key whose values differ.
Status compare_family(const Store& stored, const Store& recomputed, Cf cf, VerifyReport& report) {
  auto a = stored.iterator(cf);
  auto b = recomputed.iterator(cf);
  a->SeekToFirst();
  b->SeekToFirst();
  const auto differ = [&](std::string_view key, std::string stored_value, std::string recomputed_value) {
    ++report.differences;
    if (report.first.size() < VerifyReport::kMaxListed)
      report.first.push_back({describe_key(cf, key), std::move(stored_value), std::move(recomputed_value)});
  };
  while (a->Valid() || b->Valid()) {
    ++report.keys;
    const int order = !a->Valid() ? 1 : !b->Valid() ? -1 : a->key().compare(b->key());
    if (order < 0) {
      differ(a->key().ToStringView(), describe_value(cf, a->value().ToStringView()), "absent");
      a->Next();
    } else if (order > 0) {
      differ(b->key().ToStringView(), "absent", describe_value(cf, b->value().ToStringView()));
      b->Next();
    } else {
      if (a->value() != b->value())
        differ(a->key().ToStringView(), describe_value(cf, a->value().ToStringView()),
               describe_value(cf, b->value().ToStringView()));
      a->Next();
      b->Next();
    }
  }
  if (!a->status().ok()) return to_error(a->status(), "reading projections");
  if (!b->status().ok()) return to_error(b->status(), "reading the recomputed projections");
  return ok_status();
}

// Adds the rows of `unit` under `granularity` with buckets in [first, last] to `sums`, by metric.
Status add_tally_rows(rocksdb::Iterator& it, const std::string& unit, char granularity, uint32_t first,
                      uint32_t last, std::map<std::string, int64_t>& sums) {
  const std::string prefix = keys::tally_prefix(unit, granularity);
  for (it.Seek(keys::tally_key(unit, granularity, first, "")); it.Valid(); it.Next()) {
    const auto key = it.key().ToStringView();
    if (!key.starts_with(prefix) || key.size() < prefix.size() + 4 || keys::get_be32(key, prefix.size()) > last) break;
    int64_t value = 0;
    if (!keys::decode_i64(it.value().ToStringView(), &value))
      return Error(ErrorKind::kCorruption, "a tally value of unit " + unit + " is not 8 bytes");
    sums[std::string(key.substr(prefix.size() + 4))] += value;
  }
  if (!it.status().ok()) return to_error(it.status(), "reading tallies");
  return ok_status();
}

}  // namespace

Result<uint64_t> EventLog::projection_digest() const {
  uint64_t h = 0xcbf29ce484222325ull;
  const auto mix = [&](std::string_view bytes) {
    for (unsigned char c : std::to_string(bytes.size()) + ":") h = (h ^ c) * 0x100000001b3ull;
    for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ull;
  };
  for (Cf cf : kProjectionCfs) {
    mix(cf_name(cf));
    auto it = store_->iterator(cf);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      mix(it->key().ToStringView());
      mix(it->value().ToStringView());
    }
    if (!it->status().ok()) return to_error(it->status(), "reading projections");
  }
  return h;
}

Result<VerifyReport> EventLog::verify_projections(const std::string& scratch_parent,
                                                  const ReplayProgress& progress) const {
  if (!seed_) return seed_map().error();  // names why the data dir has no map
  namespace fs = std::filesystem;
  std::string scratch = (fs::path(scratch_parent) / "rollcall-verify-XXXXXX").string();
  if (mkdtemp(scratch.data()) == nullptr)
    return Error(ErrorKind::kIo, "cannot make a scratch dir under '" + scratch_parent + "'");
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{scratch};

  VerifyReport report;
  {
    auto recomputed = Store::open(scratch + "/db", Store::Mode::kWriter, /*create=*/true);
    if (!recomputed.ok()) return recomputed.error();
    RollupPaths paths(seed_, seed_, unit_);  // the replay folds the map events as it meets them
    auto replayed = replay_projections(**recomputed, paths, progress);
    if (!replayed.ok()) return replayed.error();
    report.events = *replayed;
    for (Cf cf : kProjectionCfs) ROLLCALL_TRY(compare_family(*store_, **recomputed, cf, report));
  }
  return report;
}

namespace {

// The first line where two units CSVs differ, for the error that names it.
std::string first_difference(const std::string& stored, const std::string& given) {
  size_t line = 1;
  size_t pos = 0;
  while (pos < stored.size() && pos < given.size()) {
    const size_t a = stored.find('\n', pos);
    const size_t b = given.find('\n', pos);
    if (stored.compare(pos, a - pos, given, pos, b - pos) != 0 || a != b)
      return "line " + std::to_string(line) + ": stored '" + stored.substr(pos, a - pos) +
             "', given '" + given.substr(pos, b - pos) + "'";
    if (a == std::string::npos || b == std::string::npos) break;
    pos = a + 1;
    ++line;
  }
  const bool more = stored.size() < given.size();
  const std::string& longer = more ? given : stored;
  const std::string extra = longer.substr(pos, longer.find('\n', pos) - pos);
  return "line " + std::to_string(line) + ": " + (more ? "given '" : "stored '") + extra + "', " +
         (more ? "not in the stored map" : "not in the given map");
}

}  // namespace

void EventLog::stamp_projection_version(rocksdb::WriteBatch& batch) const {
  std::string version;
  keys::put_be32(version, kProjectionVersion);
  batch.Put(store_->cf(Cf::kMeta), std::string(keys::kProjectionVersionKey), version);
}

Status EventLog::load_projection_meta(const UnitMap& map, bool for_rebuild) {
  const std::string csv = map.to_csv();
  auto stored = store_->get(Cf::kMeta, keys::kUnitsKey);
  if (!stored.ok()) return stored.error();
  rocksdb::WriteBatch batch;
  if (!stored->has_value()) {
    batch.Put(store_->cf(Cf::kMeta), std::string(keys::kUnitsKey), csv);
  } else if (**stored != csv) {
    return invalid_input("data dir '" + store_->dir() +
                         "' was seeded with another units map than --units gives (in canonical form, " +
                         first_difference(**stored, csv) +
                         "); a data dir keeps the map it was created with, and later changes are map events");
  }
  if (next_lsn_ == 1) {
    // An empty log: its projections are empty, and current once stamped.
    auto version = store_->get(Cf::kMeta, keys::kProjectionVersionKey);
    if (!version.ok()) return version.error();
    if (!version->has_value()) stamp_projection_version(batch);
  } else if (!for_rebuild) {
    // Stamp only a data dir that opens: a refused start must not adopt the map it was given.
    ROLLCALL_TRY(projections_current());
  }
  if (batch.Count() > 0) ROLLCALL_TRY(store_->write(batch));
  return ok_status();
}

Status EventLog::projections_current() const {
  auto version = store_->get(Cf::kMeta, keys::kProjectionVersionKey);
  if (!version.ok()) return version.error();
  const std::string rebuild = "; stop rollcalld and run `rollcall rebuild --data-dir " + store_->dir() + "`";
  if (!version->has_value())
    return Error(ErrorKind::kIncompatible, "the projections of data dir '" + store_->dir() +
                                               "' are missing or a rebuild was interrupted" + rebuild);
  const uint32_t found = (*version)->size() == 4 ? keys::get_be32(**version) : 0;
  if (found != kProjectionVersion)
    return Error(ErrorKind::kIncompatible, "the projections of data dir '" + store_->dir() + "' have version " +
                                               std::to_string(found) + ", this rollcall keeps version " +
                                               std::to_string(kProjectionVersion) + rebuild);
  return ok_status();
}

Result<UnitMap> EventLog::seed_map() const {
  auto csv = store_->get(Cf::kMeta, keys::kUnitsKey);
  if (!csv.ok()) return csv.error();
  if (!csv->has_value())
    return Error(ErrorKind::kNotFound, "data dir '" + store_->dir() +
                                           "' holds no units map yet (a rollcalld of this version stores it when it opens the dir)");
  auto map = UnitMap::parse_csv(**csv);
  if (!map.ok()) return Error(ErrorKind::kCorruption, "the stored units map: " + map.error().message());
  return map;
}

Result<std::map<std::string, int64_t>> EventLog::tally(const UnitCode& unit, const DateRange& range) const {
  std::map<std::string, int64_t> sums;
  auto it = store_->iterator(Cf::kTallies);
  for (const BucketRange& r : decompose(range))
    ROLLCALL_TRY(add_tally_rows(*it, unit.str(), static_cast<char>(r.granularity), r.first, r.last, sums));
  std::erase_if(sums, [](const auto& entry) { return entry.second == 0; });
  return sums;
}

Result<UnitMap> EventLog::map_as_of(std::string_view date) const {
  if (!seed_) return seed_map().error();
  return fold_map(*seed_, *store_, {}, date);
}

Result<std::vector<EventLog::FoldedChange>> EventLog::map_changes() const {
  if (!seed_) return seed_map().error();
  std::vector<FoldedChange> out;
  UnitMap map = *seed_;
  Status failed = ok_status();
  ROLLCALL_TRY(store_->scan(Cf::kMapEvents, "", [&](std::string_view key, std::string_view value) {
    auto change = decode_map_change(key, value);
    if (!change.ok()) {
      failed = change.error();
      return false;
    }
    auto applied = map.apply(*change);
    out.push_back({std::move(change).value(), applied.ok() ? std::string() : applied.error().message()});
    return true;
  }));
  ROLLCALL_TRY(failed);
  return out;
}

Result<std::map<std::string, int64_t>> EventLog::tally_under(const UnitMap& map, const UnitCode& unit,
                                                             const DateRange& range) const {
  // Every unit whose chain under `map` holds `unit`: the units of either map (a unit in
  // neither counts at itself only).
  std::vector<UnitCode> codes = map.subtree(map.root());
  if (auto current = this->map())
    for (UnitCode& code : current->subtree(current->root()))
      if (!map.contains(code)) codes.push_back(std::move(code));
  if (!map.contains(unit) && std::find(codes.begin(), codes.end(), unit) == codes.end()) codes.push_back(unit);
  std::map<std::string, int64_t> sums;
  const uint32_t first = day_bucket(range.first);
  const uint32_t last = day_bucket(range.last);
  auto it = store_->iterator(Cf::kTallies);
  for (const UnitCode& code : codes) {
    const std::vector<UnitCode> chain = map.rollup_chain(code, unit_);
    if (std::find(chain.begin(), chain.end(), unit) == chain.end()) continue;
    ROLLCALL_TRY(add_tally_rows(*it, code.str(), keys::kOwnGranularity, first, last, sums));
  }
  std::erase_if(sums, [](const auto& entry) { return entry.second == 0; });
  return sums;
}

Result<int64_t> EventLog::in_transit(const UnitCode& unit) const {
  auto value = store_->get(Cf::kTallies, keys::current_tally_key(unit.str(), kInTransitMetric));
  if (!value.ok()) return value.error();
  int64_t n = 0;
  if (value->has_value() && !keys::decode_i64(**value, &n))
    return Error(ErrorKind::kCorruption, "members.inTransit of unit " + unit.str() + " is not 8 bytes");
  return n;
}

Result<std::optional<MemberRecord>> EventLog::member(std::string_view member_id) const {
  auto value = store_->get(Cf::kMembers, member_id);
  if (!value.ok()) return value.error();
  if (!value->has_value()) return std::optional<MemberRecord>();
  auto record = decode_member_record(**value);
  if (!record.ok()) return record.error();
  return std::optional<MemberRecord>(std::move(record).value());
}

Result<std::vector<std::pair<std::string, MemberRecord>>> EventLog::members_of(const UnitCode& unit) const {
  std::vector<std::pair<std::string, MemberRecord>> out;
  const std::string prefix = prefix_of(unit.str());
  auto it = store_->iterator(Cf::kMemberUnits);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const std::string id(it->key().ToStringView().substr(prefix.size()));
    auto record = member(id);
    if (!record.ok()) return record.error();
    if (!record->has_value())
      return Error(ErrorKind::kCorruption, "member " + id + " is indexed under unit " + unit.str() + " but has no record");
    out.emplace_back(id, std::move(**record));
  }
  if (!it->status().ok()) return to_error(it->status(), "reading the member index");
  return out;
}

Result<uint64_t> EventLog::replay_projections(Store& target, RollupPaths& paths,
                                              const ReplayProgress& progress) const {
  const uint64_t total = last_lsn().value;
  uint64_t done = 0;
  const EventLookup lookup = [&](const OriginSeq& id) -> Result<std::optional<HeldEvent>> {
    auto found = find(id);
    if (!found.ok()) return found.error();
    if (!found->has_value()) return std::optional<HeldEvent>();
    return std::optional<HeldEvent>(HeldEvent{(*found)->event(), (*found)->batch});
  };
  while (done < total) {
    auto events = read(Lsn{done + 1}, replay_chunk_);
    if (!events.ok()) return events.error();
    if (events->empty()) break;
    ProjectionBatch batch(target, paths);
    for (const LoggedEvent& logged : *events) {
      if (logged.lsn.value > total) break;
      ROLLCALL_TRY(batch.apply(logged.event(), lookup));
      done = logged.lsn.value;
    }
    auto changes = batch.changes();
    if (!changes.ok()) return changes.error();
    // Sorted already, and into families nothing else writes: bulk-loaded, not through the
    // memtable (most rows of a replay are new, and each is written once per chunk).
    ROLLCALL_TRY(target.ingest_sorted(*changes));
    if (batch.new_map()) paths.set_map(batch.new_map());
    if (progress) progress(done, total);
  }
  return done;
}

Result<uint64_t> EventLog::rebuild_projections(const ReplayProgress& progress) {
  ROLLCALL_TRY(check_writable());
  if (!paths_) return Error(ErrorKind::kInternal, "rebuild_projections needs the writer");
  // First mark the dir: from here until the end, a writer refuses to open it.
  rocksdb::WriteBatch drop;
  drop.Delete(store_->cf(Cf::kMeta), std::string(keys::kProjectionVersionKey));
  for (Cf cf : kProjectionCfs) {
    auto it = store_->iterator(cf);
    it->SeekToFirst();
    if (!it->Valid()) continue;
    const std::string first = it->key().ToString();
    it->SeekToLast();
    const std::string last = it->key().ToString();
    if (!it->status().ok()) return to_error(it->status(), "reading projections");
    drop.DeleteRange(store_->cf(cf), first, last);
    drop.Delete(store_->cf(cf), last);
  }
  ROLLCALL_TRY(store_->write(drop));
  for (Cf cf : kProjectionCfs) ROLLCALL_TRY(store_->compact(cf));

  paths_->set_map(seed_);  // the projections start over from the seed map
  auto replayed = replay_projections(*store_, *paths_, progress);
  if (!replayed.ok()) return replayed.error();
  publish_map(paths_->map_ptr());
  // The replay's rows were durable as each chunk's files were ingested; flushed anyway, so that
  // nothing of the projections is only in a memtable when the mark says they are complete.
  ROLLCALL_TRY(store_->flush());
  rocksdb::WriteBatch done;
  stamp_projection_version(done);
  ROLLCALL_TRY(store_->write(done));
  return replayed;
}

}  // namespace rollcall
