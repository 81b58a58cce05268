// Checks the content of a submitted event before any state is consulted: required fields,
// dates, lengths, and that every unit it names exists, its own unit inside this node's
// subtree. Domain rules against member state are member_rules.h; retraction targets and
// request ids are checked by the log, which holds them.
//
// Ownership: holds references to the unit map, which must outlive it. Const: any thread.
#pragma once

#include <string>

#include "engine/status.h"
#include "engine/types.h"
#include "engine/unit_map.h"
#include "schema/event.capnp.h"
#include "schema/wire.capnp.h"

namespace rollcall {

// Why one submitted event is refused (the wire's RejectCode) and the message naming it.
struct Rejection {
  wire::RejectCode code = wire::RejectCode::INVALID;
  std::string message;
};

struct FieldLimits {
  static constexpr size_t kMaxMemberId = 64;
  static constexpr size_t kMaxName = 256;
  static constexpr size_t kMaxText = 1024;
  static constexpr size_t kMaxRequestId = 128;
  static constexpr size_t kMaxSuccessors = 16;
};

class EventValidator {
 public:
  EventValidator(const UnitMap& map, UnitCode node_unit)
      : map_(map), node_unit_(std::move(node_unit)) {}

  // For an event submitted by a client: it must not carry origin, seq or recordedAt.
  std::optional<Rejection> check_submitted(schema::Event::Reader event) const;

  // For an event relayed from a child: facts are not re-judged, but its identity and shape
  // must be sound before it is stored and indexed (codes usable as keys, a real date, a kind
  // this build knows, a retraction of its own origin). Subtree checks belong to the session.
  static std::optional<Rejection> check_relayed(schema::Event::Reader event);

 private:
  std::optional<Rejection> check_unit_field(std::string_view field, std::string_view code) const;
  std::optional<Rejection> check_payload(schema::Event::Reader event) const;
  // A map event's scope: its unit is this node, the units it changes lie below it (a rename
  // may name the node itself). Whether it applies to the map is the log's check.
  std::optional<Rejection> check_map_event(schema::Event::Reader event) const;

  const UnitMap& map_;
  UnitCode node_unit_;
};

}  // namespace rollcall
