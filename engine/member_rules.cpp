#include "engine/member_rules.h"

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <cstring>

#include "engine/capnp_guard.h"
#include "engine/enum_name.h"
#include "engine/event_fields.h"

namespace rollcall {
namespace {

using Which = schema::Event::Which;
using Status_ = storage::MemberStatus;

Error rule(std::string message) { return Error(ErrorKind::kConflict, std::move(message)); }

std::string describe(const MemberState& s) {
  switch (s.status) {
    case Status_::ACTIVE: return "is active at unit " + s.unit;
    case Status_::TRANSFERRED_OUT: return "was transferred out of unit " + s.unit + " to " + s.to_unit;
    case Status_::MATURED: return "has matured out of the Union (unit " + s.unit + ")";
    case Status_::REMOVED: return "was struck off at unit " + s.unit;
  }
  return "is in an unknown state";
}

// The fold step; `member` names the member in rule messages.
Result<MemberState> apply_fact(const std::optional<MemberState>& state, const MemberFact& fact,
                               bool strict, std::string_view member);

}  // namespace

bool MemberFact::operator<(const MemberFact& other) const {
  if (date != other.date) return date < other.date;
  if (id.origin != other.id.origin) return id.origin < other.id.origin;
  return id.seq < other.id.seq;
}

MemberFact member_fact(schema::Event::Reader e) {
  MemberFact fact;
  fact.id = OriginSeq{UnitCode::trusted(text_view(e.getOrigin())), e.getSeq()};
  fact.date = text_view(e.getEffectiveDate());
  fact.kind = e.which();
  fact.unit = text_view(e.getUnit());
  if (e.isMemberTransferredOut()) fact.other_unit = text_view(e.getMemberTransferredOut().getToUnit());
  if (e.isMemberTransferredIn()) fact.other_unit = text_view(e.getMemberTransferredIn().getFromUnit());
  if (e.isMemberAdmitted()) fact.full_name = text_view(e.getMemberAdmitted().getFullName());
  return fact;
}

const char* member_status_name(storage::MemberStatus status) { return enum_name(status); }

Result<MemberState> apply_member_event(const std::optional<MemberState>& state,
                                       schema::Event::Reader event, bool strict) {
  return apply_fact(state, member_fact(event), strict, event_member_id(event).value_or(""));
}

Result<MemberState> apply_member_fact(const std::optional<MemberState>& state,
                                      const MemberFact& fact, bool strict) {
  return apply_fact(state, fact, strict, "");
}

namespace {

// An admission or an arrival: the member (re)starts at the fact's unit.
Result<MemberState> arrive(const std::optional<MemberState>& state, const MemberFact& fact, bool strict,
                           const std::string& who) {
  const std::string& unit = fact.unit;
  if (fact.kind == Which::MEMBER_ADMITTED) {
    if (strict && state) return rule(who + " is already admitted (" + describe(*state) + ")");
    MemberState next;
    next.unit = unit;
    next.full_name = fact.full_name;
    next.since = fact.date;
    return next;
  }
  // Expected: transferred out to this unit; or out to X and now arriving from X (a member who
  // left this node's subtree and comes back to another of its units).
  const std::string& from = fact.other_unit;
  if (strict && state &&
      !(state->status == Status_::TRANSFERRED_OUT && (state->to_unit == unit || state->to_unit == from)))
    return rule(who + " cannot be transferred in to unit " + unit + ": " + who + " " + describe(*state));
  MemberState next = state.value_or(MemberState{});
  next.unit = unit;
  next.status = Status_::ACTIVE;
  next.to_unit.clear();
  next.working_away = false;
  next.since = fact.date;
  return next;
}

// Any other operation, on a member the node knows and (strictly) active in the fact's unit.
Result<MemberState> change(const MemberState& state, const MemberFact& fact, bool strict, const std::string& who) {
  MemberState next = state;
  switch (fact.kind) {
    case Which::MEMBER_TRANSFERRED_OUT: {
      const std::string& to = fact.other_unit;
      if (strict && to == fact.unit) return rule(who + " cannot be transferred from unit " + fact.unit + " to itself");
      next.status = Status_::TRANSFERRED_OUT;
      next.to_unit = to;
      next.working_away = false;
      next.since = fact.date;
      break;
    }
    case Which::MEMBER_MATURED:
      next.status = Status_::MATURED;
      next.since = fact.date;
      break;
    case Which::MEMBER_REMOVED:
      next.status = Status_::REMOVED;
      next.since = fact.date;
      break;
    case Which::WORKING_AWAY_STARTED:
      if (strict && state.working_away) return rule(who + " is already working away");
      next.working_away = true;
      break;
    case Which::WORKING_AWAY_ENDED:
      if (strict && !state.working_away) return rule(who + " is not working away");
      next.working_away = false;
      break;
    case Which::HONORARY_RECOGNIZED: next.honorary = true; break;
    case Which::OUTSTANDING_NOMINATED: next.outstanding = true; break;
    default: break;  // ratings, rewards, disciplines, training, activities: no state change
  }
  return next;
}

Result<MemberState> apply_fact(const std::optional<MemberState>& state, const MemberFact& fact,
                               bool strict, std::string_view member) {
  const std::string who = member.empty() ? std::string("the member") : "member " + std::string(member);
  if (fact.kind == Which::MEMBER_ADMITTED || fact.kind == Which::MEMBER_TRANSFERRED_IN)
    return arrive(state, fact, strict, who);
  if (!state) {
    if (strict) return rule(who + " is not known at this node (not admitted or transferred in here)");
    MemberState known;  // a fact about a member we have not seen: follow it
    known.unit = fact.unit;
    known.since = fact.date;
    return change(known, fact, false, who);
  }
  if (strict && (state->status != Status_::ACTIVE || state->unit != fact.unit))
    return rule(who + " is not an active member of unit " + fact.unit + ": " + who + " " + describe(*state));
  // Relayed facts arrive in any order across units: a transfer's arrival may come before its
  // departure. A change of status reported by a unit the member has already left is stale
  // here and leaves the state alone.
  const bool changes_status = fact.kind == Which::MEMBER_TRANSFERRED_OUT ||
                              fact.kind == Which::MEMBER_MATURED || fact.kind == Which::MEMBER_REMOVED;
  if (!strict && changes_status && state->unit != fact.unit) return *state;
  return change(*state, fact, strict, who);
}

}  // namespace

namespace {

bool changes_state(schema::Event::Which kind) {
  switch (kind) {
    case Which::MEMBER_RATED:
    case Which::REWARD_GRANTED:
    case Which::DISCIPLINE_IMPOSED:
    case Which::TRAINING_RECORDED:
    case Which::RESIDENCE_ACTIVITY_REGISTERED:
    case Which::TEMPORARY_ACTIVITY_REGISTERED: return false;
    default: return true;
  }
}

}  // namespace

Status check_member_chronology(const MemberRecord& member, schema::Event::Reader event, const OriginSeq& id) {
  if (!changes_state(event.which())) return ok_status();
  const MemberFact* latest = nullptr;
  for (const MemberFact& fact : member.history)
    if (changes_state(fact.kind)) latest = &fact;  // the history is in registry order
  MemberFact incoming = member_fact(event);
  incoming.id = id;
  if (latest == nullptr || *latest < incoming) return ok_status();
  return rule("member " + std::string(event_member_id(event).value_or("")) + ": " +
              std::string(event_kind_name(event)) + " dated " + incoming.date +
              " would come before the member's latest change (" + std::string(event_kind_name(latest->kind)) +
              " on " + latest->date + ", " + latest->id.to_string() +
              "); changes of a member are recorded in date order");
}

namespace {

// The strict fold of a history: the first fact that breaks a rule, as an error. A fact that
// changes nothing (a rating, a reward...) may be back-dated at submit, so here it only needs a
// member to be about.
Status fold_strictly(std::span<const MemberFact> history) {
  std::optional<MemberState> state;
  for (const MemberFact& fact : history) {
    if (!changes_state(fact.kind)) {
      if (!state)
        return rule(std::string(event_kind_name(fact.kind)) + " " + fact.id.to_string() + " on " + fact.date +
                    ": the member is not known before it");
      continue;
    }
    auto next = apply_member_fact(state, fact, /*strict=*/true);
    if (!next.ok())
      return rule(std::string(event_kind_name(fact.kind)) + " " + fact.id.to_string() + " on " + fact.date + ": " +
                  next.error().message());
    state = std::move(next).value();
  }
  return ok_status();
}

}  // namespace

Status check_member_retraction(const MemberRecord& member, const OriginSeq& target) {
  // A history the strict rules never judged whole (facts relayed from several units) is left
  // alone: the check is that a retraction does not make a consistent history inconsistent.
  if (!fold_strictly(member.history).ok()) return ok_status();
  std::vector<MemberFact> without;
  for (const MemberFact& fact : member.history)
    if (fact.id != target) without.push_back(fact);
  if (auto left = fold_strictly(without); !left.ok())
    return rule("retracting " + target.to_string() + " would leave the member's later events without ground (" +
                left.error().message() + "); retract those first");
  return ok_status();
}

std::optional<MemberState> fold_member(std::span<const MemberFact> history) {
  std::optional<MemberState> state;
  for (const auto& fact : history) state = apply_member_fact(state, fact, /*strict=*/false).value();
  return state;
}

namespace {
// All of `s`: converting a std::string to Text goes through c_str() and stops at a NUL byte,
// which a relayed event's fullName may hold.
capnp::Text::Reader text(const std::string& s) { return capnp::Text::Reader(s.data(), s.size()); }
}  // namespace

std::string encode_member_record(const MemberRecord& member) {
  capnp::MallocMessageBuilder message(128);
  auto record = message.initRoot<storage::MemberRecord>();
  const MemberState& state = member.state;
  record.setUnit(text(state.unit));
  record.setStatus(state.status);
  if (!state.to_unit.empty()) record.setToUnit(text(state.to_unit));
  record.setWorkingAway(state.working_away);
  if (!state.full_name.empty()) record.setFullName(text(state.full_name));
  record.setSince(text(state.since));
  record.setHonorary(state.honorary);
  record.setOutstanding(state.outstanding);
  auto history = record.initHistory(static_cast<unsigned>(member.history.size()));
  for (unsigned i = 0; i < history.size(); ++i) {
    const MemberFact& fact = member.history[i];
    auto out = history[i];
    out.setOrigin(text(fact.id.origin.str()));
    out.setSeq(fact.id.seq);
    out.setEffectiveDate(text(fact.date));
    out.setKind(static_cast<uint16_t>(fact.kind));
    out.setUnit(text(fact.unit));
    if (!fact.other_unit.empty()) out.setOtherUnit(text(fact.other_unit));
    if (!fact.full_name.empty()) out.setFullName(text(fact.full_name));
  }
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

Result<MemberRecord> decode_member_record(std::string_view bytes) {
  if (bytes.size() % sizeof(capnp::word) != 0)
    return Error(ErrorKind::kCorruption, "member record is not a whole number of words");
  auto words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), bytes.data(), bytes.size());
  return guard_capnp(
      "member record",
      [&] {
        capnp::FlatArrayMessageReader reader(words);
        auto record = reader.getRoot<storage::MemberRecord>();
        MemberRecord member;
        MemberState& state = member.state;
        state.unit = text_view(record.getUnit());
        state.status = record.getStatus();
        state.to_unit = text_view(record.getToUnit());
        state.working_away = record.getWorkingAway();
        state.full_name = text_view(record.getFullName());
        state.since = text_view(record.getSince());
        state.honorary = record.getHonorary();
        state.outstanding = record.getOutstanding();
        for (auto fact : record.getHistory()) {
          member.history.push_back(MemberFact{
              OriginSeq{UnitCode::trusted(text_view(fact.getOrigin())), fact.getSeq()},
              std::string(text_view(fact.getEffectiveDate())),
              static_cast<schema::Event::Which>(fact.getKind()), std::string(text_view(fact.getUnit())),
              std::string(text_view(fact.getOtherUnit())), std::string(text_view(fact.getFullName()))});
        }
        return member;
      },
      ErrorKind::kCorruption);
}

}  // namespace rollcall
