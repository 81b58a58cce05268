#include "engine/projection.h"

#include <algorithm>
#include <cstdlib>

#include "engine/event_fields.h"
#include "engine/keys.h"
#include "engine/logged_event.h"
#include "engine/map_change.h"
#include "engine/metrics.h"
#include "engine/period.h"

namespace rollcall {
namespace {

using Which = schema::Event::Which;

// "YYYY-MM-DD" -> yyyymmdd. The date was validated when the event entered the log.
Result<uint32_t> day_of(schema::Event::Reader e) {
  auto date = Date::parse(text_view(e.getEffectiveDate()));
  if (!date.ok()) return Error(ErrorKind::kInvalidInput, "event " + event_id(e) + ": " + date.error().message());
  return day_bucket(*date);
}

// Lookups per MultiGet: keeps RocksDB's per-call key contexts small.
constexpr size_t kTallyReadChunk = 4096;

}  // namespace

const std::vector<std::string>& RollupPaths::chain(std::string_view unit) {
  auto it = chains_.find(std::string(unit));
  if (it != chains_.end()) return it->second;
  std::vector<std::string> chain;
  for (const UnitCode& code : map_->rollup_chain(UnitCode::trusted(unit), node_)) chain.push_back(code.str());
  return chains_.emplace(std::string(unit), std::move(chain)).first->second;
}

std::vector<std::string> RollupPaths::common_chain(std::string_view a, std::string_view b) {
  std::vector<std::string> out;
  const std::vector<std::string>& from = chain(a);
  const std::vector<std::string> to = chain(b);  // a copy: chain() may rehash the cache
  if (from.back() != node_.str() || to.back() != node_.str()) return out;
  for (const std::string& unit : from) {
    if (std::find(to.begin(), to.end(), unit) != to.end()) out.push_back(unit);
  }
  return out;
}

void RollupPaths::set_map(std::shared_ptr<const UnitMap> map) {
  map_ = std::move(map);
  chains_.clear();
}

Result<UnitMap> fold_map(const UnitMap& seed, const KeyValueReader& store,
                         const std::map<std::string, std::string>& staged, std::string_view through) {
  std::map<std::string, std::string> changes = staged;
  ROLLCALL_TRY(store.scan(Cf::kMapEvents, "", [&](std::string_view key, std::string_view value) {
    changes.emplace(std::string(key), std::string(value));
    return true;
  }));
  UnitMap map = seed;
  for (const auto& [key, value] : changes) {
    if (!through.empty() && std::string_view(key).substr(0, through.size()) > through) break;
    auto change = decode_map_change(key, value);
    if (!change.ok()) return change.error();
    (void)map.apply(*change);  // one that does not apply here is skipped, at every node alike
  }
  return map;
}

Result<ProjectionBatch::StagedMember*> ProjectionBatch::staged_member(const std::string& id) {
  auto it = members_.find(id);
  if (it != members_.end()) return &it->second;
  StagedMember staged;
  auto stored = base_.get(Cf::kMembers, id);
  if (!stored.ok()) return stored.error();
  if (stored->has_value()) {
    auto record = decode_member_record(**stored);
    if (!record.ok()) return record.error();
    staged.base_unit = record->state.unit;
    staged.record = std::move(record).value();
  }
  return &members_.emplace(id, std::move(staged)).first->second;
}

Result<std::optional<MemberRecord>> ProjectionBatch::member(const std::string& id) {
  auto staged = staged_member(id);
  if (!staged.ok()) return staged.error();
  return (*staged)->record;
}

Result<std::optional<std::string>> ProjectionBatch::retracted_by(const std::string& id) {
  auto it = retracted_.find(id);
  if (it != retracted_.end()) return std::optional<std::string>(it->second);
  return base_.get(Cf::kRetracted, id);
}

Status ProjectionBatch::apply(schema::Event::Reader e, const EventLookup& lookup) {
  if (is_map_event(e)) {
    // The map is the fold of every map event held: a retraction does not undo one (submit
    // refuses such a retraction), so nothing here depends on which of the two came first.
    auto change = map_change_of(e);
    if (!change.ok()) return Error(ErrorKind::kInvalidInput, "event " + event_id(e) + ": " + change.error().message());
    map_events_[map_event_key(e)] = encode_map_change(*change);
    return ok_status();
  }
  if (e.which() == Which::EVENT_RETRACTED) return retract(e, lookup);
  auto by = retracted_by(event_id(e));
  if (!by.ok()) return by.error();
  if (by->has_value()) return ok_status();  // its retraction came first: it never counts
  return contribute(e, +1);
}

Status ProjectionBatch::retract(schema::Event::Reader r, const EventLookup& lookup) {
  auto target = OriginSeq::parse(text_view(r.getEventRetracted().getRef()));
  if (!target.ok()) return Error(ErrorKind::kInvalidInput, "retraction " + event_id(r) + ": " + target.error().message());
  const std::string target_text = target->to_string();  // marks key by the one spelling
  const std::string by = event_id(r);
  auto earlier = retracted_by(target_text);
  if (!earlier.ok()) return earlier.error();
  if (earlier->has_value()) {
    // Retracted already: the contribution is gone. Keep the smaller retraction id, so the
    // mark does not depend on which came first.
    auto kept = OriginSeq::parse(**earlier);
    auto mine = OriginSeq::parse(by);
    if (kept.ok() && mine.ok() && *mine < *kept) retracted_[target_text] = by;
    return ok_status();
  }
  auto held = lookup(*target);
  if (!held.ok()) return held.error();
  retracted_[target_text] = by;
  // A retraction cannot be retracted (submit refuses it): marked, but it keeps its effect,
  // as it does when it arrives after the mark (apply() does not skip retractions).
  if (held->has_value() && (*held)->event.which() == Which::EVENT_RETRACTED) return ok_status();
  if (held->has_value()) return contribute((*held)->event, -1);
  return ok_status();  // the target comes later, and will not count
}

Status ProjectionBatch::contribute(schema::Event::Reader e, int sign) {
  std::vector<MetricDelta> deltas;
  event_metric_deltas(e, deltas);
  if (!deltas.empty()) {
    auto day = day_of(e);
    if (!day.ok()) return day.error();
    const uint32_t unit = unit_id(text_view(e.getUnit()));
    for (const MetricDelta& d : deltas)
      own_tallies_.add(tally_rows::row(unit, tally_rows::kOwn, *day, metric_id(d.metric)), sign * d.delta);
  }
  if (e.isMemberTransferredOut() || e.isMemberTransferredIn()) ROLLCALL_TRY(contribute_transfer(e, sign));
  if (event_member_id(e)) ROLLCALL_TRY(contribute_member(e, sign));
  return ok_status();
}

Status ProjectionBatch::contribute_member(schema::Event::Reader e, int sign) {
  auto staged = staged_member(std::string(*event_member_id(e)));
  if (!staged.ok()) return staged.error();
  StagedMember& m = **staged;
  MemberFact fact = member_fact(e);
  std::vector<MemberFact> history = m.record ? std::move(m.record->history) : std::vector<MemberFact>();
  auto at = std::lower_bound(history.begin(), history.end(), fact);
  const bool present = at != history.end() && at->id == fact.id;
  if (sign > 0 && !present) history.insert(at, std::move(fact));
  if (sign < 0 && present) history.erase(at);
  m.dirty = true;
  if (history.empty()) {
    m.record.reset();
    return ok_status();
  }
  m.record = MemberRecord{*fold_member(history), std::move(history)};
  return ok_status();
}

Status ProjectionBatch::contribute_transfer(schema::Event::Reader e, int sign) {
  const bool out = e.isMemberTransferredOut();
  const std::string unit(text_view(e.getUnit()));
  const std::string other(out ? text_view(e.getMemberTransferredOut().getToUnit())
                              : text_view(e.getMemberTransferredIn().getFromUnit()));
  const std::string& from = out ? unit : other;
  const std::string& to = out ? other : unit;
  const std::string key = keys::transfer_key(*event_member_id(e), from, to);

  auto it = transfers_.find(key);
  if (it == transfers_.end()) {
    StagedTransfer counts;
    auto stored = base_.get(Cf::kTransfers, key);
    if (!stored.ok()) return stored.error();
    if (stored->has_value()) {
      if ((*stored)->size() != 8) return Error(ErrorKind::kCorruption, "a transfers value is not 8 bytes");
      counts.outs = counts.base_outs = keys::get_be32(**stored, 0);
      counts.ins = counts.base_ins = keys::get_be32(**stored, 4);
    }
    it = transfers_.emplace(key, counts).first;
  }
  StagedTransfer& t = it->second;
  uint32_t& count = out ? t.outs : t.ins;
  if (sign < 0 && count == 0) return Error(ErrorKind::kInternal, "transfer count below zero for " + key);
  count = sign > 0 ? count + 1 : count - 1;
  t.dirty = true;
  // members.inTransit follows in changes(), under the map this batch ends with.
  return ok_status();
}

namespace {

int64_t unmatched(uint32_t outs, uint32_t ins) { return std::abs(static_cast<int64_t>(outs) - static_cast<int64_t>(ins)); }

// (member, from, to) of a transfers key.
bool split_transfer_key(std::string_view key, std::string_view& from, std::string_view& to) {
  const size_t a = key.find('\0');
  const size_t b = a == std::string_view::npos ? a : key.find('\0', a + 1);
  if (b == std::string_view::npos) return false;
  from = key.substr(a + 1, b - a - 1);
  to = key.substr(b + 1);
  return true;
}

// The static name of a stored metric (the batch keeps metric names as views of static storage).
std::optional<std::string_view> static_metric_name(std::string_view name) {
  for (const std::string& known : dated_metric_names())
    if (known == name) return std::string_view(known);
  return std::nullopt;
}

}  // namespace

void ProjectionBatch::stage_in_transit_changes() {
  for (const auto& [key, t] : transfers_) {
    const int64_t change = unmatched(t.outs, t.ins) - unmatched(t.base_outs, t.base_ins);
    if (change == 0) continue;
    std::string_view from, to;
    if (!split_transfer_key(key, from, to)) continue;  // keys built by transfer_key
    for (const std::string& u : final_paths_->common_chain(from, to)) in_transit_[u] += change;
  }
}

Status ProjectionBatch::move_in_transit(RollupPaths& before, RollupPaths& after) {
  const auto stage = [&](std::string_view key, int64_t was, int64_t now) {
    std::string_view from, to;
    if (!split_transfer_key(key, from, to) || (was == 0 && now == 0)) return;
    if (was != 0)
      for (const std::string& u : before.common_chain(from, to)) in_transit_[u] -= was;
    if (now != 0)
      for (const std::string& u : after.common_chain(from, to)) in_transit_[u] += now;
  };
  ROLLCALL_TRY(base_.scan(Cf::kTransfers, "", [&](std::string_view key, std::string_view value) {
    if (value.size() != 8) return true;
    const uint32_t outs = keys::get_be32(value, 0);
    const uint32_t ins = keys::get_be32(value, 4);
    auto staged = transfers_.find(std::string(key));
    const int64_t now = staged == transfers_.end() ? unmatched(outs, ins) : unmatched(staged->second.outs, staged->second.ins);
    stage(key, unmatched(outs, ins), now);
    return true;
  }));
  for (const auto& [key, t] : transfers_) {
    if (t.base_outs == 0 && t.base_ins == 0) stage(key, 0, unmatched(t.outs, t.ins));
  }
  in_transit_moved_ = true;
  return ok_status();
}

Status ProjectionBatch::change_map() {
  auto folded = fold_map(paths_.seed(), base_, map_events_);
  if (!folded.ok()) return folded.error();
  new_map_ = std::make_shared<const UnitMap>(std::move(folded).value());
  new_paths_ = std::make_unique<RollupPaths>(paths_.seed_ptr(), new_map_, paths_.node());

  // Every unit of either map whose chain changed: its stored own rows leave the old chain's
  // units and join the new chain's. (A unit in neither map counts at itself under both.)
  std::vector<UnitCode> codes = paths_.map().subtree(paths_.map().root());
  for (UnitCode& code : new_map_->subtree(new_map_->root()))
    if (!paths_.map().contains(code)) codes.push_back(std::move(code));
  Status failed = ok_status();
  std::vector<uint32_t> leave, join;
  for (const UnitCode& code : codes) {
    // Only the units of one chain but not the other change: a commune moved from a district to
    // its province leaves the district and joins nothing else.
    const std::vector<std::string> before = paths_.chain(code.str());
    const std::vector<std::string>& after = new_paths_->chain(code.str());
    leave.clear();
    join.clear();
    for (const std::string& u : before)
      if (std::find(after.begin(), after.end(), u) == after.end()) leave.push_back(unit_id(u));
    for (const std::string& u : after)
      if (std::find(before.begin(), before.end(), u) == before.end()) join.push_back(unit_id(u));
    if (leave.empty() && join.empty()) continue;
    const std::string prefix = keys::tally_prefix(code.str(), keys::kOwnGranularity);
    ROLLCALL_TRY(base_.scan(Cf::kTallies, prefix, [&](std::string_view key, std::string_view value) {
      int64_t v = 0;
      const auto metric = key.size() > prefix.size() + 4 ? static_metric_name(key.substr(prefix.size() + 4)) : std::nullopt;
      if (!metric || !keys::decode_i64(value, &v)) {
        failed = Error(ErrorKind::kCorruption, "an own tally row of unit " + code.str() + " is malformed");
        return false;
      }
      const uint32_t day = keys::get_be32(key, prefix.size());
      const uint32_t m = metric_id(*metric);
      for (const uint32_t u : leave) moved_tallies_.add(tally_rows::row(u, tally_rows::kOwn, day, m), -v);
      for (const uint32_t u : join) moved_tallies_.add(tally_rows::row(u, tally_rows::kOwn, day, m), v);
      return true;
    }));
    ROLLCALL_TRY(failed);
  }
  return move_in_transit(paths_, *new_paths_);
}

uint32_t ProjectionBatch::unit_id(std::string_view unit) {
  auto it = unit_ids_.find(unit);
  if (it != unit_ids_.end()) return it->second;
  const auto id = static_cast<uint32_t>(units_.size());
  units_.emplace_back(unit);
  unit_ids_.emplace(std::string(unit), id);
  return id;
}

uint32_t ProjectionBatch::metric_id(std::string_view metric) {
  auto it = metric_ids_.find(metric);
  if (it != metric_ids_.end()) return it->second;
  const auto id = static_cast<uint32_t>(metrics_.size());
  metrics_.push_back(metric);  // static storage (MetricDelta, kInTransitMetric)
  metric_ids_.emplace(metric, id);
  return id;
}

const std::vector<uint32_t>& ProjectionBatch::chain_of(uint32_t unit) {
  if (unit < chains_.size() && !chains_[unit].empty()) return chains_[unit];
  std::vector<uint32_t> ids;
  for (const std::string& name : final_paths_->chain(units_[unit])) ids.push_back(unit_id(name));
  if (chains_.size() < units_.size()) chains_.resize(units_.size());
  chains_[unit] = std::move(ids);
  return chains_[unit];
}

Status ProjectionBatch::tally_changes(std::vector<KeyChange>& out) {
  // Expand each own-unit day delta to the unit's roll-up chain and to year, month and day.
  tally_rows::RowSums sums(own_tallies_.size() * 6);
  const auto add_dated = [&](uint32_t unit, uint32_t day, uint32_t metric, int64_t delta) {
    sums.add(tally_rows::row(unit, tally_rows::kYear, day / 10000, metric), delta);
    sums.add(tally_rows::row(unit, tally_rows::kMonth, day / 100, metric), delta);
    sums.add(tally_rows::row(unit, tally_rows::kDay, day, metric), delta);
  };
  own_tallies_.for_each([&](uint64_t own, int64_t delta) {
    const uint32_t unit = tally_rows::unit(own);
    const uint32_t day = tally_rows::bucket(own);
    const uint32_t metric = tally_rows::metric(own);
    for (const uint32_t u : chain_of(unit)) add_dated(u, day, metric, delta);
    // The unit's own row, by the code the event names: what a map change moves.
    sums.add(own, delta);
  });
  moved_tallies_.for_each([&](uint64_t moved, int64_t delta) {
    add_dated(tally_rows::unit(moved), tally_rows::bucket(moved), tally_rows::metric(moved), delta);
  });
  for (const auto& [unit, delta] : in_transit_)
    sums.add(tally_rows::row(unit_id(unit), tally_rows::kCurrent, 0, metric_id(kInTransitMetric)), delta);

  // Every row of the batch is packed now (own, moved and these): numbers past what a row holds
  // would have merged rows, so refuse before any is read back. (Numbers only grow.)
  if (units_.size() > tally_rows::kMaxUnits || metrics_.size() > tally_rows::kMaxMetrics)
    return Error(ErrorKind::kInternal, "a projection batch names more units or metrics than its rows can number");

  // In key order: renumbered by rank, the packed rows sort as their keys do.
  std::vector<std::pair<uint64_t, int64_t>> rows;
  rows.reserve(sums.size());
  sums.for_each([&](uint64_t row, int64_t delta) { rows.emplace_back(row, delta); });
  sums = tally_rows::RowSums();
  const auto [unit_rank, unit_by_rank] = tally_rows::ranks(units_);
  const auto [metric_rank, metric_by_rank] = tally_rows::ranks(metrics_);
  for (auto& [row, delta] : rows)
    row = tally_rows::renumbered(row, unit_rank[tally_rows::unit(row)], metric_rank[tally_rows::metric(row)]);
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first < b.first; });

  // Sum each into the stored BE64: a put, or a delete when the sum is 0, so the projection
  // holds no zero rows and equal sets give equal bytes.
  out.reserve(out.size() + rows.size());
  std::vector<std::string> keys;
  keys.reserve(kTallyReadChunk);
  for (size_t from = 0; from < rows.size(); from += kTallyReadChunk) {
    const size_t to = std::min(rows.size(), from + kTallyReadChunk);
    keys.clear();
    for (size_t i = from; i < to; ++i) {
      const uint64_t r = rows[i].first;
      const std::string& unit = units_[unit_by_rank[tally_rows::unit(r)]];
      const std::string_view metric = metrics_[metric_by_rank[tally_rows::metric(r)]];
      const char granularity = tally_rows::granularity(r);
      keys.push_back(granularity == keys::kCurrentGranularity
                         ? keys::current_tally_key(unit, metric)
                         : keys::tally_key(unit, granularity, tally_rows::bucket(r), metric));
    }
    auto stored = base_.multi_get(Cf::kTallies, keys);
    if (!stored.ok()) return stored.error();
    for (size_t i = from; i < to; ++i) {
      int64_t value = 0;
      const auto& found = (*stored)[i - from];
      if (found && !keys::decode_i64(*found, &value))
        return Error(ErrorKind::kCorruption, "a tally value is not 8 bytes");
      value += rows[i].second;
      if (value == 0) out.push_back({Cf::kTallies, std::move(keys[i - from]), std::nullopt});
      else out.push_back({Cf::kTallies, std::move(keys[i - from]), keys::encode_i64(value)});
    }
  }
  return ok_status();
}

Result<std::vector<KeyChange>> ProjectionBatch::changes() {
  final_paths_ = &paths_;
  if (!map_events_.empty()) {
    ROLLCALL_TRY(change_map());
    final_paths_ = new_paths_.get();
  }
  if (!in_transit_moved_) stage_in_transit_changes();
  // The tally changes come in key order, and are most of them: only the others are sorted,
  // then placed around them by column family.
  std::vector<KeyChange> tallies;
  ROLLCALL_TRY(tally_changes(tallies));
  std::vector<KeyChange> out;
  for (const auto& [key, value] : map_events_) out.push_back({Cf::kMapEvents, key, value});

  for (const auto& [target, by] : retracted_) out.push_back({Cf::kRetracted, target, by});

  for (const auto& [key, t] : transfers_) {
    if (!t.dirty) continue;
    if (t.outs == 0 && t.ins == 0) {
      out.push_back({Cf::kTransfers, key, std::nullopt});
      continue;
    }
    std::string value;
    keys::put_be32(value, t.outs);
    keys::put_be32(value, t.ins);
    out.push_back({Cf::kTransfers, key, std::move(value)});
  }

  for (const auto& [id, m] : members_) {
    if (!m.dirty) continue;
    const std::optional<std::string> unit =
        m.record ? std::optional<std::string>(m.record->state.unit) : std::nullopt;
    if (m.base_unit && m.base_unit != unit)
      out.push_back({Cf::kMemberUnits, keys::member_unit_key(*m.base_unit, id), std::nullopt});
    if (unit && unit != m.base_unit) out.push_back({Cf::kMemberUnits, keys::member_unit_key(*unit, id), ""});
    if (m.record) out.push_back({Cf::kMembers, id, encode_member_record(*m.record)});
    else out.push_back({Cf::kMembers, id, std::nullopt});
  }
  std::sort(out.begin(), out.end(), [](const KeyChange& a, const KeyChange& b) {
    return a.cf != b.cf ? a.cf < b.cf : a.key < b.key;
  });
  out.reserve(out.size() + tallies.size());  // before taking an iterator into it
  const auto after = std::partition_point(out.begin(), out.end(), [](const KeyChange& c) { return c.cf < Cf::kTallies; });
  out.insert(after, std::make_move_iterator(tallies.begin()), std::make_move_iterator(tallies.end()));
  return out;
}

}  // namespace rollcall
