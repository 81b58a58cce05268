#include "engine/projection.h"

#include <algorithm>
#include <cstdlib>

#include "engine/event_fields.h"
#include "engine/keys.h"
#include "engine/logged_event.h"
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

// Sums each delta into the stored BE64 at its key: a put, or a delete when the sum is 0, so the
// projection holds no zero rows and equal sets give equal bytes. `deltas` is sorted by key.
Status add_to_stored(const KeyValueReader& base, Cf cf, std::vector<std::pair<std::string, int64_t>>& deltas,
                     std::vector<KeyChange>& out) {
  std::vector<std::string> keys;
  keys.reserve(deltas.size());
  for (auto& [key, delta] : deltas) keys.push_back(std::move(key));
  auto stored = base.multi_get(cf, keys);
  if (!stored.ok()) return stored.error();
  for (size_t i = 0; i < keys.size(); ++i) {
    int64_t value = 0;
    const auto& found = (*stored)[i];
    if (found && !keys::decode_i64(*found, &value))
      return Error(ErrorKind::kCorruption, "a tally value is not 8 bytes");
    value += deltas[i].second;
    if (value == 0) out.push_back({cf, std::move(keys[i]), std::nullopt});
    else out.push_back({cf, std::move(keys[i]), keys::encode_i64(value)});
  }
  return ok_status();
}

}  // namespace

const std::vector<std::string>& RollupPaths::chain(std::string_view unit) {
  auto it = chains_.find(std::string(unit));
  if (it != chains_.end()) return it->second;
  std::vector<std::string> chain{std::string(unit)};
  const UnitCode code = UnitCode::trusted(unit);
  if (code != node_ && map_.in_subtree(code, node_)) {
    for (const UnitCode& up : map_.ancestors(code)) {
      chain.push_back(up.str());
      if (up == node_) break;
    }
  }
  return chains_.emplace(std::string(unit), std::move(chain)).first->second;
}

std::vector<std::string> RollupPaths::common_chain(std::string_view a, std::string_view b) {
  std::vector<std::string> out;
  const UnitCode other = UnitCode::trusted(b);
  if (!map_.contains(UnitCode::trusted(a)) || !map_.in_subtree(other, node_)) return out;
  for (const std::string& unit : chain(a)) {
    if (map_.in_subtree(other, UnitCode::trusted(unit)) && map_.in_subtree(UnitCode::trusted(unit), node_))
      out.push_back(unit);
  }
  return out;
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
    std::string key(text_view(e.getUnit()));
    key.push_back('\0');
    keys::put_be32(key, *day);
    const size_t prefix = key.size();
    for (const MetricDelta& d : deltas) {
      key.resize(prefix);
      key.append(d.metric);
      own_tallies_[key] += sign * d.delta;
    }
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
      counts.outs = keys::get_be32(**stored, 0);
      counts.ins = keys::get_be32(**stored, 4);
    }
    it = transfers_.emplace(key, counts).first;
  }
  StagedTransfer& t = it->second;
  const auto unmatched = [&] { return std::abs(static_cast<int64_t>(t.outs) - static_cast<int64_t>(t.ins)); };
  const int64_t before = unmatched();
  uint32_t& count = out ? t.outs : t.ins;
  if (sign < 0 && count == 0) return Error(ErrorKind::kInternal, "transfer count below zero for " + key);
  count = sign > 0 ? count + 1 : count - 1;
  t.dirty = true;
  const int64_t change = unmatched() - before;
  if (change != 0) {
    for (const std::string& u : paths_.common_chain(from, to)) in_transit_[u] += change;
  }
  return ok_status();
}

Status ProjectionBatch::tally_changes(std::vector<KeyChange>& out) {
  // Expand each own-unit day delta to the unit's roll-up chain and to year, month and day.
  std::unordered_map<std::string, int64_t> sums;
  sums.reserve(own_tallies_.size() * 8);
  for (const auto& [own, delta] : own_tallies_) {
    if (delta == 0) continue;
    const size_t nul = own.find('\0');
    const std::string_view unit(own.data(), nul);
    const uint32_t day = keys::get_be32(own, nul + 1);
    const std::string_view metric = std::string_view(own).substr(nul + 5);
    for (const std::string& u : paths_.chain(unit)) {
      sums[keys::tally_key(u, static_cast<char>(Granularity::kYear), day / 10000, metric)] += delta;
      sums[keys::tally_key(u, static_cast<char>(Granularity::kMonth), day / 100, metric)] += delta;
      sums[keys::tally_key(u, static_cast<char>(Granularity::kDay), day, metric)] += delta;
    }
  }
  for (const auto& [unit, delta] : in_transit_)
    sums[keys::current_tally_key(unit, kInTransitMetric)] += delta;
  std::vector<std::pair<std::string, int64_t>> sorted;
  sorted.reserve(sums.size());
  while (!sums.empty()) {
    auto node = sums.extract(sums.begin());
    if (node.mapped() != 0) sorted.emplace_back(std::move(node.key()), node.mapped());
  }
  std::sort(sorted.begin(), sorted.end());  // batched reads in key order
  return add_to_stored(base_, Cf::kTallies, sorted, out);
}

Result<std::vector<KeyChange>> ProjectionBatch::changes() {
  std::vector<KeyChange> out;
  ROLLCALL_TRY(tally_changes(out));

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
  return out;
}

}  // namespace rollcall
