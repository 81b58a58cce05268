// rollcall tally --unit U [--period P | --as-of DATE] [--metric M]: a unit's tallies as the node
// holds them (the sum over the unit's subtree), read from the data dir, safely while it runs.
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "cli/commands.h"
#include "cli/data_dir_reader.h"
#include "cli/json_out.h"
#include "cli/text_table.h"
#include "engine/metrics.h"
#include "engine/period.h"

namespace rollcall::cli {
namespace {

constexpr std::string_view kCommand = "tally";

struct TallyOptions {
  std::string data_dir;
  std::string unit;
  std::string period;
  std::string as_of;
  std::string metric;
  std::string map_as_of;
  bool json = false;
};

// What the query covers, as given and as days.
struct Query {
  DateRange range = DateRange::all_time();
  std::optional<std::string> period;  // "2024-Q1"
  std::optional<Date> as_of;
  bool all_time() const { return !period && !as_of; }

  std::string label() const {
    const std::string days = range.first.to_string() + ".." + range.last.to_string();
    if (period) return *period + " (" + days + ")";
    if (as_of) return "as of " + as_of->to_string();
    return "all time";
  }
};

Result<Query> parse_query(const TallyOptions& o) {
  Query q;
  if (!o.period.empty() && !o.as_of.empty())
    return invalid_input(
        "--period and --as-of cannot be combined: --period P sums the changes within P, "
        "--as-of DATE everything up to DATE; give one, or neither for all time");
  if (!o.period.empty()) {
    auto range = parse_period(o.period);
    if (!range.ok()) return invalid_input("--period: " + range.error().message());
    q.range = *range;
    q.period = o.period;
  }
  if (!o.as_of.empty()) {
    auto day = Date::parse(o.as_of);
    if (!day.ok())
      return invalid_input("--as-of: " + day.error().message() +
                           "; give a day YYYY-MM-DD, e.g. 2024-06-30");
    q.range = DateRange::as_of(*day);
    q.as_of = *day;
  }
  if (!o.metric.empty()) {
    if (o.metric == kInTransitMetric && !q.all_time())
      return invalid_input(
          std::string(kInTransitMetric) +
          " is a current count (transfers of which this node holds one half), not a sum over "
          "dates: ask for it without --period and --as-of");
    if (o.metric != kInTransitMetric && !is_dated_metric(o.metric))
      return invalid_input(
          "--metric '" + o.metric +
          "' is not a metric; `rollcall tally --help` lists them, and a tally without "
          "--metric shows the ones in use");
  }
  return q;
}

// "activity.eidLevel1.count" -> "eidLevel1"; "" for other metrics.
std::string_view activity_kind(std::string_view metric) {
  constexpr std::string_view kPrefix = "activity.";
  if (!metric.starts_with(kPrefix)) return {};
  const size_t dot = metric.rfind('.');
  return dot <= kPrefix.size() ? std::string_view()
                               : metric.substr(kPrefix.size(), dot - kPrefix.size());
}

// The rows shown, in display order: every members.* metric, rewards and disciplines always;
// activity.<kind>.* for the kinds with a non-zero value; members.inTransit (all time only)
// after the last members.* metric.
std::vector<std::pair<std::string, int64_t>> rows_of(const std::map<std::string, int64_t>& sums,
                                                     std::optional<int64_t> in_transit,
                                                     bool every_metric) {
  std::set<std::string_view> kinds_in_use;
  for (const auto& [name, value] : sums)
    if (value != 0 && !activity_kind(name).empty()) kinds_in_use.insert(activity_kind(name));
  std::vector<std::pair<std::string, int64_t>> rows;
  const auto value_of = [&](const std::string& name) {
    auto it = sums.find(name);
    return it == sums.end() ? int64_t{0} : it->second;
  };
  bool transit_placed = false;
  for (const std::string& name : dated_metric_names()) {
    if (in_transit && !transit_placed && !name.starts_with("members.")) {
      rows.emplace_back(std::string(kInTransitMetric), *in_transit);
      transit_placed = true;
    }
    const auto kind = activity_kind(name);
    if (!every_metric && !kind.empty() && !kinds_in_use.contains(kind)) continue;
    rows.emplace_back(name, value_of(name));
  }
  if (in_transit && !transit_placed) rows.emplace_back(std::string(kInTransitMetric), *in_transit);
  return rows;
}

std::string json_or_null(const std::optional<std::string>& text) {
  return text ? json_string(*text) : "null";
}

int run_tally(const TallyOptions& o) {
  auto query = parse_query(o);
  if (!query.ok()) return report(kCommand, query.error().message());
  auto reader = DataDirReader::open(o.data_dir);
  if (!reader.ok()) return report(kCommand, reader.error().message());
  auto unit = reader->unit_in_scope(o.unit);
  if (!unit.ok()) return report(kCommand, unit.error().message());

  Result<std::map<std::string, int64_t>> sums = std::map<std::string, int64_t>();
  std::optional<Date> map_date;
  if (!o.map_as_of.empty()) {
    auto day = Date::parse(o.map_as_of);
    if (!day.ok()) return report(kCommand, "--map-as-of: " + day.error().message() + " (give YYYY-MM-DD)");
    map_date = *day;
    auto then = reader->log().map_as_of(day->to_string());
    if (!then.ok()) return report(kCommand, then.error().message());
    if (!then->contains(*unit))
      return report(kCommand, "unit " + unit->str() + " was not yet in this node's map on " + day->to_string());
    sums = reader->log().tally_under(*then, *unit, query->range);
  } else {
    if (const Unit* u = reader->map().find(*unit); u != nullptr && u->state == UnitState::kMerged)
      return report(kCommand, "unit " + reader->unit_label(unit->str()) + " was merged into " +
                                  reader->map().heir(*unit).str() + " on " + u->changed_on +
                                  ": under the current map its history counts there; ask for " +
                                  reader->map().heir(*unit).str() + ", or for " + unit->str() +
                                  " under an earlier map with --map-as-of DATE (a day before the merge)");
    sums = reader->log().tally(*unit, query->range);
  }
  if (!sums.ok()) return report(kCommand, sums.error().message());
  std::optional<int64_t> in_transit;
  if (query->all_time() && !map_date && (o.metric.empty() || o.metric == kInTransitMetric)) {
    auto n = reader->log().in_transit(*unit);
    if (!n.ok()) return report(kCommand, n.error().message());
    in_transit = *n;
  }
  auto rows = rows_of(*sums, in_transit, /*every_metric=*/o.json || !o.metric.empty());
  if (!o.metric.empty())
    std::erase_if(rows, [&](const auto& row) { return row.first != o.metric; });

  if (o.json) {
    std::string metrics;
    for (const auto& [name, value] : rows)
      metrics += (metrics.empty() ? "" : ",") + json_string(name) + ":" + std::to_string(value);
    JsonObject out;
    out.add("unit", unit->str())
        .add("name", reader->unit_name(unit->str()))
        .raw("period", json_or_null(query->period))
        .raw("asOf",
             json_or_null(query->as_of ? std::optional(query->as_of->to_string()) : std::nullopt))
        .add("from", query->range.first.to_string())
        .add("to", query->range.last.to_string())
        .raw("mapAsOf", json_or_null(map_date ? std::optional(map_date->to_string()) : std::nullopt))
        .raw("metrics", "{" + metrics + "}");
    std::cout << out.str() << "\n";
    return kExitOk;
  }
  if (!o.metric.empty()) {
    std::cout << rows.at(0).first << " " << rows.at(0).second << "\n";
    return kExitOk;
  }
  std::cout << "tally of " << reader->unit_label(unit->str()) << ", " << query->label()
            << (map_date ? ", under the map of " + map_date->to_string() : std::string())
            << ", at node " << reader->log().unit().str() << "\n";
  TextTable table;
  table.align_right(1);
  for (const auto& [name, value] : rows) table.add({name, std::to_string(value)});
  table.print(std::cout);
  if (!query->all_time() || map_date)
    std::cout << "(" << kInTransitMetric
              << " is a current count, not dated: it is shown only without --period, --as-of and --map-as-of)\n";
  return kExitOk;
}

// "members.active, ..., disciplines; activity.KIND.count|participants|reports for KIND in
// digitalTeams, ...": the metric names for --help, from the engine's list.
std::string metric_help() {
  std::string fixed, kinds;
  std::string_view last_kind;
  for (const std::string& name : dated_metric_names()) {
    const auto kind = activity_kind(name);
    if (kind.empty()) {
      fixed += (fixed.empty() ? "" : ", ") + name;
    } else if (kind != last_kind) {
      kinds += (kinds.empty() ? "" : ", ") + std::string(kind);
      last_kind = kind;
    }
  }
  return "Metrics (dated: summed over the days asked for): " + fixed +
         "; activity.KIND.count|participants|reports with KIND one of " + kinds +
         ". Not dated: " + std::string(kInTransitMetric) +
         " (transfers of which this node holds one half so far; all time only).";
}

}  // namespace

void add_tally_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<TallyOptions>();
  auto* cmd = app.add_subcommand("tally",
                                 "Show a unit's tallies as this node holds them (the sum over the "
                                 "unit's subtree), from its data dir "
                                 "(safe while the node runs). Lists every members.* metric, "
                                 "rewards and disciplines, and the activity "
                                 "kinds reported in the period.");
  cmd->add_option("--data-dir", o->data_dir, "the node's data dir")->required();
  cmd->add_option("--unit", o->unit, "the unit: this node's unit or one below it, e.g. 001")
      ->required();
  cmd->add_option(
      "--period", o->period,
      "sum the changes within a period: YYYY, YYYY-H1|H2, YYYY-Q1..Q4 or YYYY-MM (e.g. 2024-Q1)");
  cmd->add_option("--as-of", o->as_of,
                  "sum everything up to this day inclusive: YYYY-MM-DD (levels on that day)");
  cmd->add_option("--metric", o->metric, "show only this metric, e.g. members.active");
  cmd->add_option("--map-as-of", o->map_as_of,
                  "roll up under the map as it was at the end of this day (YYYY-MM-DD), e.g. a "
                  "day before a reorganization: the subtree of the unit then, whatever moved or "
                  "merged since (reads the own rows of every unit, so slower)");
  cmd->add_flag("--json", o->json,
                "one JSON object: unit, name, period, asOf, from, to, and metrics with every "
                "metric (0 included)");
  cmd->footer(
      "Neither --period nor --as-of means all time. A level metric (members.active, "
      "members.workingAway) "
      "gives its level with --as-of and its net change with --period. Roll-ups follow the "
      "node's current map (a merged unit's history counts at its successor) unless "
      "--map-as-of is given.\n" +
      metric_help() +
      "\nExit codes: 0 shown; 2 could not run (bad period, date, metric or unit; missing data "
      "dir).");
  cmd->callback([o, &exit_code] { exit_code = run_tally(*o); });
}

}  // namespace rollcall::cli
