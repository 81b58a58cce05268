// The member state a node keeps for each member it has seen, and the domain rules of the
// twelve member operations (DOMAIN.md) checked where an event is first appended.
//
// Rules (strict mode, at submit):
//   memberAdmitted        the member id is new at this node
//   memberTransferredIn   the member is unknown here (coming from outside this subtree), or
//                         transferred out to this very unit and not yet arrived, or
//                         transferred out to X and now arriving from X (back into the subtree)
//   every other operation the member is active in the event's unit (working away counts as
//                         active); workingAwayStarted needs the member not away,
//                         workingAwayEnded needs it away; a transfer goes to another unit
// Relayed events (lenient mode) are facts: ancestors never re-judge them; the state follows,
// except that a transfer out, maturing or removal reported by a unit the member has already
// left (its arrival elsewhere came first) is stale and changes nothing.
// The registry as a fold independent of arrival order, and retractions undoing member state,
// come with the tallies issue; this is the state submits are judged against.
#pragma once

#include <optional>
#include <string>

#include "engine/status.h"
#include "schema/event.capnp.h"
#include "schema/storage.capnp.h"

namespace rollcall {

struct MemberState {
  std::string unit;
  storage::MemberStatus status = storage::MemberStatus::ACTIVE;
  std::string to_unit;
  std::string full_name;
  std::string since;  // effective date of the last change of unit or status
  bool working_away = false;
  bool honorary = false;
  bool outstanding = false;

  bool operator==(const MemberState&) const = default;
};

const char* member_status_name(storage::MemberStatus status);

// Applies a member event to the member's state (nullopt: not known at this node). In strict
// mode an event that breaks a rule is an ErrorKind::kConflict error naming the rule; in lenient
// mode the state always follows the event.
Result<MemberState> apply_member_event(const std::optional<MemberState>& state,
                                       schema::Event::Reader event, bool strict);

// MemberRecord (storage.capnp) <-> MemberState.
std::string encode_member_state(const MemberState& state);
Result<MemberState> decode_member_state(std::string_view bytes);

}  // namespace rollcall
