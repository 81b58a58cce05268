// rollcall tally --unit U [--period P | --as-of DATE] [--metric M]: a unit's tallies as the node
// holds them (the sum over the unit's subtree), read from the data dir, safely while it runs.
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/data_dir_reader.h"
#include "report/tally_report.h"
#include "report/text_table.h"
#include "engine/metrics.h"

namespace rollcall::cli {
namespace {

constexpr std::string_view kCommand = "tally";

struct TallyOptions {
  std::string data_dir;
  TallyQuery query;
  bool json = false;
};

int run_tally(const TallyOptions& o) {
  auto reader = DataDirReader::open(o.data_dir);
  if (!reader.ok()) return report(kCommand, reader.error().message());
  auto answer = run_tally_query(reader->log(), reader->map(), o.query, kTallyFlagNames);
  if (!answer.ok()) return report(kCommand, answer.error().message());
  const TallyAnswer& a = *answer;
  if (o.json) {
    std::cout << tally_json(a) << "\n";
    return kExitOk;
  }
  if (!o.query.metric.empty()) {
    std::cout << a.rows.at(0).first << " " << a.rows.at(0).second << "\n";
    return kExitOk;
  }
  std::cout << "tally of " << reader->unit_label(a.unit.str()) << ", " << a.label()
            << (a.map_as_of ? ", under the map of " + a.map_as_of->to_string() : std::string())
            << ", at node " << a.node << "\n";
  TextTable table;
  table.align_right(1);
  for (const auto& [name, value] : a.rows) table.add({name, std::to_string(value)});
  table.print(std::cout);
  if (!a.all_time() || a.map_as_of)
    std::cout << "(" << kInTransitMetric
              << " is a current count, not dated: it is shown only without --period, --as-of and --map-as-of)\n";
  return kExitOk;
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
  cmd->add_option("--unit", o->query.unit, "the unit: this node's unit or one below it, e.g. 001")
      ->required();
  cmd->add_option(
      "--period", o->query.period,
      "sum the changes within a period: YYYY, YYYY-H1|H2, YYYY-Q1..Q4 or YYYY-MM (e.g. 2024-Q1)");
  cmd->add_option("--as-of", o->query.as_of,
                  "sum everything up to this day inclusive: YYYY-MM-DD (levels on that day)");
  cmd->add_option("--metric", o->query.metric, "show only this metric, e.g. members.active");
  cmd->add_option("--map-as-of", o->query.map_as_of,
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
      tally_metric_help() +
      "\nExit codes: 0 shown; 2 could not run (bad period, date, metric or unit; missing data "
      "dir).");
  cmd->callback([o, &exit_code] {
    o->query.every_metric = o->json;
    exit_code = run_tally(*o);
  });
}

}  // namespace rollcall::cli
