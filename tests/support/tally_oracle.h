// A naive, independent recomputation of a node's projections from the events it holds: the
// oracle the projection tests (C2, C3, C6) compare the engine against. Written from DESIGN.md
// "Projections" alone; every query loops over every event, so it is slow and obviously right.
//
// Semantics:
//   - An event is retracted when the set holds an eventRetracted whose ref names its
//     origin:seq. Retracted events and retractions contribute nothing anywhere.
//   - Each event's metric deltas count, dated by its effectiveDate, for its own unit and for
//     every ancestor of it (per the map) that is in the node's subtree.
//   - members.inTransit(U): per member and ordered pair (A,B), |outs A->B - ins at B from A|,
//     for every U of the node's subtree with both A and B in U's subtree.
//   - The member registry folds each member's events ordered by (effectiveDate, origin, seq).
//
// Ownership: copies what it needs from each event; the UnitMap must outlive the oracle.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/types.h"
#include "engine/unit_map.h"
#include "schema/event.capnp.h"

namespace rollcall::testing {

class TallyOracle {
 public:
  // node: the unit of the node holding the events.
  TallyOracle(const UnitMap& map, UnitCode node);

  // Any order, duplicates of an origin:seq are the caller's business (they would count twice).
  void add(schema::Event::Reader e);

  // Sum of the metric's deltas over events with effectiveDate in [from, to], inclusive.
  int64_t value(const UnitCode& unit, std::string_view metric, Date from, Date to) const;
  int64_t in_transit(const UnitCode& unit) const;
  // Every metric with a non-zero value for the unit over [from, to]. One pass over the events:
  // the cheap way to read all of a unit's metrics (each value() call is a pass of its own).
  std::map<std::string, int64_t> values(const UnitCode& unit, Date from, Date to) const;

  struct Member {
    std::string unit;
    std::string status;  // "active", "transferredOut", "matured", "removed"
    std::string to_unit;
    bool working_away = false, honorary = false, outstanding = false;
    std::string full_name;
    std::string since;
    bool operator==(const Member&) const = default;
  };
  // Every member any live event names, by memberId.
  std::map<std::string, Member> members() const;

 private:
  struct Record {
    std::string id;  // origin:seq
    std::string unit;
    std::string date_text;
    std::optional<Date> date;
    std::string origin;
    uint64_t seq = 0;
    schema::Event::Which kind = schema::Event::Which::NONE;
    std::string member;      // member events only
    std::string other_unit;  // toUnit of an out-half, fromUnit of an in-half
    std::string full_name;   // memberAdmitted
    std::string ref;         // eventRetracted, normalized when it parses
    std::vector<std::pair<std::string, int64_t>> deltas;
  };

  // The ids named by the set's retractions.
  std::vector<std::string> retracted_ids() const;
  // Records that count: neither retracted nor retractions.
  std::vector<const Record*> live_records() const;
  // True when an event of `event_unit` counts for `unit`.
  bool counts_for(const std::string& event_unit, const UnitCode& unit) const;

  const UnitMap& map_;
  UnitCode node_;
  std::vector<Record> records_;
};

}  // namespace rollcall::testing
