// Uniform access to the parts of an event that several modules need, whatever its kind.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "schema/event.capnp.h"

namespace rollcall {

inline std::string_view text_view(capnp::Text::Reader text) { return {text.begin(), text.size()}; }

// "origin:seq" of an event, for messages and tables (whatever its origin's syntax).
std::string event_id(schema::Event::Reader event);

// The JSON name of the event's kind ("memberAdmitted"), or "none".
std::string_view event_kind_name(schema::Event::Reader event);
std::string_view event_kind_name(schema::Event::Which kind);
// True when `name` is a kind's JSON name.
bool is_event_kind_name(std::string_view name);

// The member the event is about, for the twelve member operations.
std::optional<std::string_view> event_member_id(schema::Event::Reader event);

// True for unitRegistered, unitRenamed, unitMoved, unitMerged and unitClosed.
bool is_map_event(schema::Event::Reader event);

// Unit codes the payload names besides `unit` (toUnit, fromUnit, hostUnit, parent, into...),
// each with the field name, for validation messages.
struct NamedUnit {
  std::string_view field;
  std::string_view code;
};
std::vector<NamedUnit> event_payload_units(schema::Event::Reader event);

}  // namespace rollcall
