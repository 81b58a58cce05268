#include "tests/support/tally_oracle.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "engine/enum_name.h"
#include "engine/event_fields.h"

namespace rollcall::testing {
namespace {

using Which = schema::Event::Which;
using Deltas = std::vector<std::pair<std::string, int64_t>>;

// The metric deltas of one event at its own unit (DESIGN.md "Projections").
Deltas deltas_of(schema::Event::Reader e) {
  switch (e.which()) {
    case Which::MEMBER_ADMITTED: return {{"members.active", 1}, {"members.admitted", 1}};
    case Which::MEMBER_TRANSFERRED_IN: return {{"members.active", 1}, {"members.transferredIn", 1}};
    case Which::MEMBER_TRANSFERRED_OUT:
      return {{"members.active", -1}, {"members.transferredOut", 1}};
    case Which::MEMBER_MATURED: return {{"members.active", -1}, {"members.matured", 1}};
    case Which::MEMBER_REMOVED: return {{"members.active", -1}, {"members.removed", 1}};
    case Which::WORKING_AWAY_STARTED: return {{"members.workingAway", 1}};
    case Which::WORKING_AWAY_ENDED: return {{"members.workingAway", -1}};
    case Which::MEMBER_RATED:
      return {{std::string("members.rated.") + enum_name(e.getMemberRated().getRating()), 1}};
    case Which::TRAINING_RECORDED: return {{"members.trained", 1}};
    case Which::HONORARY_RECOGNIZED: return {{"members.honorary", 1}};
    case Which::OUTSTANDING_NOMINATED: return {{"members.outstanding", 1}};
    case Which::REWARD_GRANTED: return {{"rewards", 1}};
    case Which::DISCIPLINE_IMPOSED: return {{"disciplines", 1}};
    case Which::ACTIVITY_REPORTED: {
      const auto report = e.getActivityReported();
      const std::string prefix = std::string("activity.") + enum_name(report.getKind());
      return {{prefix + ".count", report.getCount()},
              {prefix + ".participants", report.getParticipants()},
              {prefix + ".reports", 1}};
    }
    default: return {};  // residence and temporary activity, retractions, map events
  }
}

// toUnit of an out-half, fromUnit of an in-half.
std::string transfer_unit(schema::Event::Reader e) {
  if (e.isMemberTransferredOut())
    return std::string(text_view(e.getMemberTransferredOut().getToUnit()));
  if (e.isMemberTransferredIn())
    return std::string(text_view(e.getMemberTransferredIn().getFromUnit()));
  return {};
}

}  // namespace

TallyOracle::TallyOracle(const UnitMap& map, UnitCode node) : map_(map), node_(std::move(node)) {}

void TallyOracle::add(schema::Event::Reader e) {
  Record r;
  r.origin = std::string(text_view(e.getOrigin()));
  r.seq = e.getSeq();
  r.id = r.origin + ":" + std::to_string(r.seq);
  r.unit = std::string(text_view(e.getUnit()));
  r.date_text = std::string(text_view(e.getEffectiveDate()));
  if (auto date = Date::parse(r.date_text); date.ok()) r.date = date.value();
  r.kind = e.which();
  r.member = std::string(event_member_id(e).value_or(""));
  r.other_unit = transfer_unit(e);
  if (e.isMemberAdmitted())
    r.full_name = std::string(text_view(e.getMemberAdmitted().getFullName()));
  if (e.isEventRetracted()) {
    r.ref = std::string(text_view(e.getEventRetracted().getRef()));
    if (auto parsed = OriginSeq::parse(r.ref); parsed.ok()) r.ref = parsed.value().to_string();
  }
  r.deltas = deltas_of(e);
  records_.push_back(std::move(r));
}

std::vector<std::string> TallyOracle::retracted_ids() const {
  std::vector<std::string> ids;
  for (const Record& r : records_)
    if (r.kind == Which::EVENT_RETRACTED) ids.push_back(r.ref);
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<const TallyOracle::Record*> TallyOracle::live_records() const {
  const std::vector<std::string> retracted = retracted_ids();
  std::vector<const Record*> live;
  for (const Record& r : records_) {
    if (r.kind == Which::EVENT_RETRACTED) continue;
    if (std::binary_search(retracted.begin(), retracted.end(), r.id)) continue;
    live.push_back(&r);
  }
  return live;
}

bool TallyOracle::counts_for(const std::string& event_unit, const UnitCode& unit) const {
  if (event_unit == unit.str()) return true;
  const UnitCode code = UnitCode::trusted(event_unit);
  if (!map_.contains(code)) return false;  // an unknown unit counts only for itself
  // `unit` is an ancestor of the event's unit, and in the node's subtree.
  return map_.in_subtree(code, unit) && map_.in_subtree(unit, node_);
}

int64_t TallyOracle::value(const UnitCode& unit, std::string_view metric, Date from,
                           Date to) const {
  int64_t sum = 0;
  for (const Record* r : live_records()) {
    if (!r->date || *r->date < from || *r->date > to || !counts_for(r->unit, unit)) continue;
    for (const auto& [name, delta] : r->deltas)
      if (name == metric) sum += delta;
  }
  return sum;
}

std::map<std::string, int64_t> TallyOracle::values(const UnitCode& unit, Date from, Date to) const {
  std::map<std::string, int64_t> sums;
  for (const Record* r : live_records()) {
    if (!r->date || *r->date < from || *r->date > to || !counts_for(r->unit, unit)) continue;
    for (const auto& [name, delta] : r->deltas) sums[name] += delta;
  }
  std::erase_if(sums, [](const auto& entry) { return entry.second == 0; });
  return sums;
}

int64_t TallyOracle::in_transit(const UnitCode& unit) const {
  if (!map_.in_subtree(unit, node_)) return 0;
  // (member, A, B) -> (outs from A to B, ins at B from A)
  std::map<std::tuple<std::string, std::string, std::string>, std::pair<int64_t, int64_t>> halves;
  for (const Record* r : live_records()) {
    if (r->kind == Which::MEMBER_TRANSFERRED_OUT)
      ++halves[{r->member, r->unit, r->other_unit}].first;
    if (r->kind == Which::MEMBER_TRANSFERRED_IN)
      ++halves[{r->member, r->other_unit, r->unit}].second;
  }
  int64_t sum = 0;
  for (const auto& [key, counts] : halves) {
    const auto& [member, a, b] = key;
    if (map_.in_subtree(UnitCode::trusted(a), unit) && map_.in_subtree(UnitCode::trusted(b), unit))
      sum += counts.first > counts.second ? counts.first - counts.second
                                          : counts.second - counts.first;
  }
  return sum;
}

std::map<std::string, TallyOracle::Member> TallyOracle::members() const {
  std::map<std::string, std::vector<const Record*>> histories;
  for (const Record* r : live_records())
    if (!r->member.empty()) histories[r->member].push_back(r);

  std::map<std::string, Member> registry;
  for (auto& [id, history] : histories) {
    std::sort(history.begin(), history.end(), [](const Record* a, const Record* b) {
      return std::tie(a->date_text, a->origin, a->seq) < std::tie(b->date_text, b->origin, b->seq);
    });
    std::optional<Member> state;
    for (const Record* r : history) {
      // A member first seen here starts active at the event's unit.
      const auto start = [&] {
        Member m;
        m.unit = r->unit;
        m.status = "active";
        m.since = r->date_text;
        return m;
      };
      switch (r->kind) {
        case Which::MEMBER_ADMITTED:
          state = start();
          state->full_name = r->full_name;
          break;
        case Which::MEMBER_TRANSFERRED_IN:
          if (!state) state = Member{};
          state->unit = r->unit;
          state->status = "active";
          state->to_unit.clear();
          state->working_away = false;
          state->since = r->date_text;
          break;
        case Which::MEMBER_TRANSFERRED_OUT:
        case Which::MEMBER_MATURED:
        case Which::MEMBER_REMOVED:
          if (state && state->unit != r->unit) break;  // stale: the member already left that unit
          if (!state) state = start();
          state->since = r->date_text;
          if (r->kind == Which::MEMBER_MATURED) {
            state->status = "matured";
          } else if (r->kind == Which::MEMBER_REMOVED) {
            state->status = "removed";
          } else {
            state->status = "transferredOut";
            state->to_unit = r->other_unit;
            state->working_away = false;
          }
          break;
        default:
          if (!state) state = start();
          if (r->kind == Which::WORKING_AWAY_STARTED) state->working_away = true;
          if (r->kind == Which::WORKING_AWAY_ENDED) state->working_away = false;
          if (r->kind == Which::HONORARY_RECOGNIZED) state->honorary = true;
          if (r->kind == Which::OUTSTANDING_NOMINATED) state->outstanding = true;
          break;
      }
    }
    registry.emplace(id, *state);
  }
  return registry;
}

}  // namespace rollcall::testing
