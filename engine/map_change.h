// A map event (unitRegistered, unitRenamed, unitMoved, unitMerged, unitClosed) as a plain
// value, and the order the map folds them in.
//
// The map at a node is its seed map (`--units`) with every map event it holds applied in
// (effectiveDate, origin, seq) order (UnitMap::apply); a change that does not apply at its
// place in that order (its unit unknown or merged, a cycle...) is skipped there, the same way
// at every node that holds the same events, so the map is a pure function of the set (C2).
#pragma once

#include <string>
#include <vector>

#include "engine/status.h"
#include "engine/types.h"
#include "schema/event.capnp.h"

namespace rollcall {

struct MapChange {
  enum class Kind { kRegistered, kRenamed, kMoved, kMerged, kClosed };
  Kind kind = Kind::kRegistered;
  UnitCode code;
  std::string name;   // kRegistered, kRenamed
  std::string level;  // kRegistered
  UnitCode parent;    // kRegistered, kMoved
  std::vector<UnitCode> into;  // kMerged
  std::string date;   // the event's effectiveDate, YYYY-MM-DD
  std::string id;     // origin:seq, for messages ("" before numbering)
};

const char* map_change_kind_name(MapChange::Kind kind);  // the event's JSON name

// The change a map event makes; kInvalidInput for another kind of event or a malformed code.
Result<MapChange> map_change_of(schema::Event::Reader event);

// The key of a numbered map event in the `map_events` family: effectiveDate 0x00 origin 0x00
// BE64 seq, so key order is the fold's order.
std::string map_event_key(schema::Event::Reader event);
std::string map_event_key(std::string_view effective_date, std::string_view origin, uint64_t seq);

// The value stored under map_event_key: kind, then length-prefixed code, name, level, parent
// and successors (FORMAT.md "map_events").
std::string encode_map_change(const MapChange& change);
Result<MapChange> decode_map_change(std::string_view key, std::string_view value);

// One line for `rollcall units --changes` and messages: "2025-07-01 unitMerged 00001 into 00097".
std::string describe(const MapChange& change);

}  // namespace rollcall
