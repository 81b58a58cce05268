// A unit's tallies as a node holds them, asked by `rollcall tally` (from a data dir) and by the
// node's /api/tally (from its own log): one query, one answer, one JSON rendering, so both say
// the same thing. The query's parameters are named as the asker spells them (`--period` on the
// command line, `period` in a URL), so an error names the parameter the operator gave.
//
// Threads: run_tally_query reads RocksDB only (EventLog::tally, tally_under, in_transit,
// map_as_of), so on a writer it may run on any thread.
// Ownership: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <string>
#include <utility>
#include <vector>

#include "engine/event_log.h"
#include "engine/period.h"
#include "engine/status.h"
#include "engine/unit_map.h"

namespace rollcall::cli {

// How the asker names each parameter, for error messages.
struct TallyParameterNames {
  const char* unit;
  const char* period;
  const char* as_of;
  const char* metric;
  const char* map_as_of;
};
inline constexpr TallyParameterNames kTallyFlagNames{"--unit", "--period", "--as-of", "--metric", "--map-as-of"};
inline constexpr TallyParameterNames kTallyUrlNames{"unit", "period", "asOf", "metric", "mapAsOf"};

struct TallyQuery {
  std::string unit;
  std::string period;     // "" or YYYY, YYYY-H1, YYYY-Q1, YYYY-MM
  std::string as_of;      // "" or YYYY-MM-DD
  std::string metric;     // "" for all in use
  std::string map_as_of;  // "" for the current map
  bool every_metric = false;  // list every metric, 0 included (JSON does)
};

struct TallyAnswer {
  UnitCode unit;
  std::string name;
  std::string node;  // the node's unit
  DateRange range = DateRange::all_time();
  std::optional<std::string> period;
  std::optional<Date> as_of;
  std::optional<Date> map_as_of;
  // In display order: every members.* metric, rewards, disciplines, the activity kinds in use
  // (all with every_metric), members.inTransit when all time; only `metric` when given.
  std::vector<std::pair<std::string, int64_t>> rows;

  bool all_time() const { return !period && !as_of; }
  // "2024-Q1 (2024-01-01..2024-03-31)", "as of 2024-06-30", "all time".
  std::string label() const;
};

// Parses a unit parameter (named `parameter` in errors) and checks that `node` holds the unit's
// projections: the unit is in the map and was ever in the node's subtree (kInvalidInput: which
// and why).
Result<UnitCode> unit_in_scope(const UnitMap& map, const UnitCode& node, std::string_view text,
                               const char* parameter);
// The unit's name, or "" when the map lacks it; "001 Quận Ba Đình", or the code alone.
std::string unit_name(const UnitMap& map, std::string_view code);
std::string unit_label(const UnitMap& map, std::string_view code);

// Errors: kInvalidInput for a bad parameter (the message begins with its name as `names` spell
// it), for a unit outside the node's subtree or merged (saying where its history went); else
// what the log reports. `map` is the node's current map.
Result<TallyAnswer> run_tally_query(const EventLog& log, const UnitMap& map, const TallyQuery& query,
                                    const TallyParameterNames& names);

// One JSON object: unit, name, period, asOf, from, to, mapAsOf, metrics {name: value}.
std::string tally_json(const TallyAnswer& answer);

// The metric names for --help, from the engine's list.
std::string tally_metric_help();

}  // namespace rollcall::cli
