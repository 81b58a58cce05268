// The member registry's rules: the state a node keeps for each member, how a member's events
// fold into it, and the domain rules of the twelve member operations (DOMAIN.md) checked where
// an event is first appended.
//
// The registry (C2): a member's state is the fold of its events this node holds, minus the
// retracted ones, ordered by (effectiveDate, origin, seq), so it does not depend on the order
// they arrived in. The fold is lenient: relayed events are facts and ancestors never re-judge
// them. A transfer out, maturing or removal reported by a unit the member is no longer in (its
// arrival elsewhere sorts first) is stale and changes nothing.
//
// A limit of that order: changes of one member on one day at two units (a same-day round trip
// 00001 -> 00004 -> 00001) sort by origin, not by what happened first, so a node holding both
// units' events may fold them into another state than the units did. Dates are days; DESIGN
// fixes the order.
//
// Rules (strict, at submit, against the member's current state at this node):
//   memberAdmitted        the member id is new at this node
//   memberTransferredIn   the member is unknown here (coming from outside this subtree), or
//                         transferred out to this very unit and not yet arrived, or
//                         transferred out to X and now arriving from X (back into the subtree)
//   every other operation the member is active in the event's unit (working away counts as
//                         active); workingAwayStarted needs the member not away,
//                         workingAwayEnded needs it away; a transfer goes to another unit
//   and a change of unit, status or flags is not dated before the latest one (chronology)
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/status.h"
#include "engine/types.h"
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

// What the registry keeps of one member event.
struct MemberFact {
  OriginSeq id;
  std::string date;  // effective date
  schema::Event::Which kind = schema::Event::Which::NONE;
  std::string unit;
  std::string other_unit;  // toUnit of a transfer out, fromUnit of a transfer in
  std::string full_name;   // admissions

  // The registry's order: (effectiveDate, origin, seq).
  bool operator<(const MemberFact& other) const;
  bool operator==(const MemberFact&) const = default;
};

// A member as the registry holds it: the fold of its history, and the history in fold order.
struct MemberRecord {
  MemberState state;
  std::vector<MemberFact> history;
  bool operator==(const MemberRecord&) const = default;
};

const char* member_status_name(storage::MemberStatus status);

// The fact of a member event (its origin and seq as set on the event).
MemberFact member_fact(schema::Event::Reader event);

// Applies a member event to the member's state (nullopt: not known at this node). In strict
// mode an event that breaks a rule is an ErrorKind::kConflict error naming the rule; in lenient
// mode the state always follows the event.
Result<MemberState> apply_member_event(const std::optional<MemberState>& state,
                                       schema::Event::Reader event, bool strict);
Result<MemberState> apply_member_fact(const std::optional<MemberState>& state,
                                      const MemberFact& fact, bool strict);

// Submit's chronology rule, beside the rules above: an event that changes the member's unit,
// status or flags (every member operation but ratings, rewards, disciplines, training and
// residence or temporary activity) must sort after the member's latest such change in registry
// order, `id` being the id the event will get; otherwise the fold would slip it under that
// change. kConflict names both.
Status check_member_chronology(const MemberRecord& member, schema::Event::Reader event, const OriginSeq& id);

// Submit's rule for retracting a member event: the member's history without it must still obey
// the strict rules (no arrival without its departure, no rating of a member never admitted...)
// when the history with it does. kConflict names the event that would be left stranded.
Status check_member_retraction(const MemberRecord& member, const OriginSeq& target);

// The lenient fold of a history in registry order; nullopt for an empty history.
std::optional<MemberState> fold_member(std::span<const MemberFact> history);

// The storage record (storage.capnp MemberRecord) <-> MemberRecord.
std::string encode_member_record(const MemberRecord& record);
Result<MemberRecord> decode_member_record(std::string_view bytes);

}  // namespace rollcall
