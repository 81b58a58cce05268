// Seeded generator of realistic event sets for tests: the member histories and activity reports
// of the leaf units (wards, communes) of one subtree of the real map, every non-map event kind,
// transfers inside the subtree and across its border, and retractions.
//
// Every member history obeys the strict domain rules (engine/member_rules.h) when the events are
// submitted at one node in any order that respects `must_follow`; so the whole set can be
// submitted at the subtree's node (`random_submit_order` + `node_submit_lines`) and every line
// is accepted.
//
// Determinism: the same map and options give byte-identical events (the random draws are our
// own on std::mt19937_64, whose sequence the standard fixes).
//
// Ownership: a GeneratedEvents owns the Cap'n Proto messages behind its readers (shared by its
// copies); the UnitMap only needs to live during generate_events().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "engine/types.h"
#include "engine/unit_map.h"
#include "schema/event.capnp.h"

namespace rollcall::testing {

struct GeneratorOptions {
  uint64_t seed = 1;
  // Generate for the leaf units (no children) of this subtree, e.g. province "06".
  UnitCode root;
  // The "current" year: rosters are admitted in earlier years (from 2012), histories (ratings,
  // training, transfers...) and activity reports fill this year and the one before.
  int year = 2024;
  // Roster size per leaf unit, plus a few new admissions in `year`.
  size_t members_per_unit = 20;
  // Share of retractable events that get retracted.
  double retraction_rate = 0.02;
  // 0: every leaf unit of root; else the first N leaf units in code order.
  size_t max_leaf_units = 0;
};

struct GeneratedEvents {
  // Every event fully numbered: origin = the event's unit (each leaf unit is its own node), seq
  // dense from 1 per origin in generation order, recordedAt increasing per origin. Generation
  // order is effective-date order, so a member's effective dates never decrease along it.
  std::vector<schema::Event::Reader> events;
  // must_follow[i]: indices of the events that must be submitted before event i at one node: the
  // same member's previous event, a retraction's target, an in-half's out-half when present.
  std::vector<std::vector<size_t>> must_follow;
  // retraction_target[i]: for a retraction, the index of the event it retracts.
  std::vector<std::optional<size_t>> retraction_target;

  // Event i as a line to submit: origin, seq and recordedAt left out; a retraction's `ref` is the
  // generated origin:seq (node_submit_lines rewrites it for a node that re-numbers).
  std::string submit_json(size_t i) const;
  // Event i as stored, with origin, seq and recordedAt.
  std::string json(size_t i) const;
  size_t size() const { return events.size(); }

  struct Storage;  // the messages behind `events` and a JSON codec
  std::shared_ptr<const Storage> storage;
};

GeneratedEvents generate_events(const UnitMap& map, const GeneratorOptions& options);

// A random order of all indices in which every event comes after its must_follow (Kahn's
// algorithm choosing uniformly among the events that are ready).
std::vector<size_t> random_submit_order(const GeneratedEvents& generated, std::mt19937_64& random);

// The lines to submit at the node of unit `node`, in `order` (which must respect must_follow),
// with every retraction's ref rewritten to `<node>:<position of its target in order + 1>`: the
// ids that node gives the events when it accepts every line in that order.
std::vector<std::string> node_submit_lines(const GeneratedEvents& generated,
                                           const std::vector<size_t>& order, const UnitCode& node);

// The events generated with origin `origin`, in generation order (which respects must_follow
// among them), as node_submit_lines for the node of `origin`.
std::vector<std::string> origin_submit_lines(const GeneratedEvents& generated, const UnitCode& origin);

}  // namespace rollcall::testing
