#include "report/tally_report.h"

#include <map>
#include <set>

#include "engine/metrics.h"
#include "report/json_out.h"

namespace rollcall::cli {
namespace {

std::string named(const char* parameter, const std::string& message) {
  return std::string(parameter) + ": " + message;
}

// The period, day or all time asked for.
Status parse_range(const TallyQuery& q, const TallyParameterNames& names, TallyAnswer& a) {
  if (!q.period.empty() && !q.as_of.empty())
    return invalid_input(std::string(names.period) + " and " + names.as_of + " cannot be combined: " +
                         names.period + " P sums the changes within P, " + names.as_of +
                         " DATE everything up to DATE; give one, or neither for all time");
  if (!q.period.empty()) {
    auto range = parse_period(q.period);
    if (!range.ok()) return invalid_input(named(names.period, range.error().message()));
    a.range = *range;
    a.period = q.period;
  }
  if (!q.as_of.empty()) {
    auto day = Date::parse(q.as_of);
    if (!day.ok())
      return invalid_input(named(names.as_of, day.error().message() + "; give a day YYYY-MM-DD, e.g. 2024-06-30"));
    a.range = DateRange::as_of(*day);
    a.as_of = *day;
  }
  if (!q.map_as_of.empty()) {
    auto day = Date::parse(q.map_as_of);
    if (!day.ok()) return invalid_input(named(names.map_as_of, day.error().message() + " (give YYYY-MM-DD)"));
    a.map_as_of = *day;
  }
  if (!q.metric.empty()) {
    if (q.metric == kInTransitMetric && !a.all_time())
      return invalid_input(named(names.metric, std::string(kInTransitMetric) +
                                                   " is a current count (transfers of which this node holds one "
                                                   "half), not a sum over dates: ask for it without " +
                                                   names.period + " and " + names.as_of));
    if (q.metric != kInTransitMetric && !is_dated_metric(q.metric))
      return invalid_input(std::string(names.metric) + " '" + q.metric +
                           "' is not a metric; `rollcall tally --help` lists them, and a tally without " +
                           names.metric + " shows the ones in use");
  }
  return ok_status();
}

// "activity.eidLevel1.count" -> "eidLevel1"; "" for other metrics.
std::string_view activity_kind(std::string_view metric) {
  constexpr std::string_view kPrefix = "activity.";
  if (!metric.starts_with(kPrefix)) return {};
  const size_t dot = metric.rfind('.');
  return dot <= kPrefix.size() ? std::string_view() : metric.substr(kPrefix.size(), dot - kPrefix.size());
}

// The rows shown, in display order: every members.* metric, rewards and disciplines always;
// activity.<kind>.* for the kinds with a non-zero value; members.inTransit (all time only)
// after the last members.* metric.
std::vector<std::pair<std::string, int64_t>> rows_of(const std::map<std::string, int64_t>& sums,
                                                     std::optional<int64_t> in_transit, bool every_metric) {
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

std::string json_or_null(const std::optional<std::string>& text) { return text ? json_string(*text) : "null"; }

}  // namespace

Result<UnitCode> unit_in_scope(const UnitMap& map, const UnitCode& node, std::string_view text,
                               const char* parameter) {
  auto code = UnitCode::parse(text);
  if (!code.ok()) return invalid_input(named(parameter, code.error().message()));
  if (!map.contains(*code))
    return invalid_input("unit " + code->str() +
                         " is not in this node's map (the --units file its data dir "
                         "was created with, and the map events it holds)");
  if (!map.ever_in_subtree(*code, node))
    return invalid_input("unit " + code->str() + " (" + unit_name(map, code->str()) +
                         ") is outside this node's subtree: the node holds only the tallies and members of its "
                         "subtree, rooted at " +
                         unit_label(map, node.str()));
  return code;
}

std::string unit_name(const UnitMap& map, std::string_view code) {
  auto parsed = UnitCode::parse(code);
  if (!parsed.ok()) return "";
  const Unit* unit = map.find(*parsed);
  return unit ? unit->name : "";
}

std::string unit_label(const UnitMap& map, std::string_view code) {
  const std::string name = unit_name(map, code);
  return name.empty() ? std::string(code) : std::string(code) + " " + name;
}

std::string TallyAnswer::label() const {
  const std::string days = range.first.to_string() + ".." + range.last.to_string();
  if (period) return *period + " (" + days + ")";
  if (as_of) return "as of " + as_of->to_string();
  return "all time";
}

Result<TallyAnswer> run_tally_query(const EventLog& log, const UnitMap& map, const TallyQuery& q,
                                    const TallyParameterNames& names) {
  TallyAnswer a;
  if (q.unit.empty()) return invalid_input(std::string(names.unit) + " is required (a unit code, e.g. 001)");
  ROLLCALL_TRY(parse_range(q, names, a));
  auto unit = unit_in_scope(map, log.unit(), q.unit, names.unit);
  if (!unit.ok()) return unit.error();
  a.unit = *unit;
  a.node = log.unit().str();
  a.name = unit_name(map, unit->str());

  Result<std::map<std::string, int64_t>> sums = std::map<std::string, int64_t>();
  if (a.map_as_of) {
    auto then = log.map_as_of(a.map_as_of->to_string());
    if (!then.ok()) return then.error();
    if (!then->contains(*unit))
      return invalid_input("unit " + unit->str() + " was not yet in this node's map on " + a.map_as_of->to_string());
    sums = log.tally_under(*then, *unit, a.range);
  } else {
    if (const Unit* u = map.find(*unit); u != nullptr && u->state == UnitState::kMerged)
      return invalid_input("unit " + unit_label(map, unit->str()) + " was merged into " + map.heir(*unit).str() +
                           " on " + u->changed_on + ": under the current map its history counts there; ask for " +
                           map.heir(*unit).str() + ", or for " + unit->str() + " under an earlier map with " +
                           names.map_as_of + " DATE (a day before the merge)");
    sums = log.tally(*unit, a.range);
  }
  if (!sums.ok()) return sums.error();
  std::optional<int64_t> in_transit;
  if (a.all_time() && !a.map_as_of && (q.metric.empty() || q.metric == kInTransitMetric)) {
    auto n = log.in_transit(*unit);
    if (!n.ok()) return n.error();
    in_transit = *n;
  }
  a.rows = rows_of(*sums, in_transit, q.every_metric || !q.metric.empty());
  if (!q.metric.empty()) std::erase_if(a.rows, [&](const auto& row) { return row.first != q.metric; });
  return a;
}

std::string tally_json(const TallyAnswer& a) {
  std::string metrics;
  for (const auto& [name, value] : a.rows)
    metrics += (metrics.empty() ? "" : ",") + json_string(name) + ":" + std::to_string(value);
  JsonObject out;
  out.add("unit", a.unit.str())
      .add("name", a.name)
      .raw("period", json_or_null(a.period))
      .raw("asOf", json_or_null(a.as_of ? std::optional(a.as_of->to_string()) : std::nullopt))
      .add("from", a.range.first.to_string())
      .add("to", a.range.last.to_string())
      .raw("mapAsOf", json_or_null(a.map_as_of ? std::optional(a.map_as_of->to_string()) : std::nullopt))
      .raw("metrics", "{" + metrics + "}");
  return out.str();
}

std::string tally_metric_help() {
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
         ". Not dated: " + std::string(kInTransitMetric) + " (transfers of which this node holds one half so far; all time only).";
}

}  // namespace rollcall::cli
