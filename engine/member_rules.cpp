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

}  // namespace

const char* member_status_name(storage::MemberStatus status) { return enum_name(status); }

Result<MemberState> apply_member_event(const std::optional<MemberState>& state,
                                       schema::Event::Reader event, bool strict) {
  const std::string member(event_member_id(event).value_or(""));
  const std::string unit(text_view(event.getUnit()));
  const std::string date(text_view(event.getEffectiveDate()));
  const std::string who = "member " + member;

  switch (event.which()) {
    case Which::MEMBER_ADMITTED: {
      if (strict && state)
        return rule(who + " is already admitted (" + describe(*state) + ")");
      MemberState next;
      next.unit = unit;
      next.full_name = std::string(text_view(event.getMemberAdmitted().getFullName()));
      next.since = date;
      return next;
    }
    case Which::MEMBER_TRANSFERRED_IN: {
      // Expected: transferred out to this unit; or out to X and now arriving from X (a member
      // who left this node's subtree and comes back to another of its units).
      const std::string from(text_view(event.getMemberTransferredIn().getFromUnit()));
      if (strict && state &&
          !(state->status == Status_::TRANSFERRED_OUT && (state->to_unit == unit || state->to_unit == from)))
        return rule(who + " cannot be transferred in to unit " + unit + ": " + who + " " +
                    describe(*state));
      MemberState next = state.value_or(MemberState{});
      next.unit = unit;
      next.status = Status_::ACTIVE;
      next.to_unit.clear();
      next.working_away = false;
      next.since = date;
      return next;
    }
    default: break;
  }

  if (!state) {
    if (strict) return rule(who + " is not known at this node (not admitted or transferred in here)");
    MemberState next;  // a fact about a member we have not seen: follow it
    next.unit = unit;
    next.since = date;
    return apply_member_event(next, event, false);
  }
  if (strict && (state->status != Status_::ACTIVE || state->unit != unit))
    return rule(who + " is not an active member of unit " + unit + ": " + who + " " +
                describe(*state));
  // Relayed facts arrive in any order across units: a transfer's arrival may come before its
  // departure. A change of status reported by a unit the member has already left is stale
  // here and leaves the state alone.
  const bool changes_status = event.which() == Which::MEMBER_TRANSFERRED_OUT ||
                              event.which() == Which::MEMBER_MATURED ||
                              event.which() == Which::MEMBER_REMOVED;
  if (!strict && changes_status && state->unit != unit) return *state;

  MemberState next = *state;
  switch (event.which()) {
    case Which::MEMBER_TRANSFERRED_OUT: {
      const std::string to(text_view(event.getMemberTransferredOut().getToUnit()));
      if (strict && to == unit) return rule(who + " cannot be transferred from unit " + unit + " to itself");
      next.status = Status_::TRANSFERRED_OUT;
      next.to_unit = to;
      next.working_away = false;
      next.since = date;
      break;
    }
    case Which::MEMBER_MATURED:
      next.status = Status_::MATURED;
      next.since = date;
      break;
    case Which::MEMBER_REMOVED:
      next.status = Status_::REMOVED;
      next.since = date;
      break;
    case Which::WORKING_AWAY_STARTED:
      if (strict && state->working_away) return rule(who + " is already working away");
      next.working_away = true;
      break;
    case Which::WORKING_AWAY_ENDED:
      if (strict && !state->working_away) return rule(who + " is not working away");
      next.working_away = false;
      break;
    case Which::HONORARY_RECOGNIZED: next.honorary = true; break;
    case Which::OUTSTANDING_NOMINATED: next.outstanding = true; break;
    default: break;  // ratings, rewards, disciplines, training, activities: no state change
  }
  return next;
}

std::string encode_member_state(const MemberState& state) {
  capnp::MallocMessageBuilder message(64);
  auto record = message.initRoot<storage::MemberRecord>();
  record.setUnit(state.unit);
  record.setStatus(state.status);
  if (!state.to_unit.empty()) record.setToUnit(state.to_unit);
  record.setWorkingAway(state.working_away);
  if (!state.full_name.empty()) record.setFullName(state.full_name);
  record.setSince(state.since);
  record.setHonorary(state.honorary);
  record.setOutstanding(state.outstanding);
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

Result<MemberState> decode_member_state(std::string_view bytes) {
  if (bytes.size() % sizeof(capnp::word) != 0)
    return Error(ErrorKind::kCorruption, "member record is not a whole number of words");
  auto words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), bytes.data(), bytes.size());
  return guard_capnp(
      "member record",
      [&] {
        capnp::FlatArrayMessageReader reader(words);
        auto record = reader.getRoot<storage::MemberRecord>();
        MemberState state;
        state.unit = text_view(record.getUnit());
        state.status = record.getStatus();
        state.to_unit = text_view(record.getToUnit());
        state.working_away = record.getWorkingAway();
        state.full_name = text_view(record.getFullName());
        state.since = text_view(record.getSince());
        state.honorary = record.getHonorary();
        state.outstanding = record.getOutstanding();
        return state;
      },
      ErrorKind::kCorruption);
}

}  // namespace rollcall
