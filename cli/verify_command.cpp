// rollcall verify | rebuild: check the projections against the log (C6), and recompute them.
//
// verify reads beside the running node: it replays the whole log into a scratch database and
// compares it with the stored projections key by key. rebuild opens the data dir as its writer
// (so the node must be stopped), drops every projection and replays the log into them.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/data_dir_reader.h"
#include "report/json_out.h"
#include "cli/progress_line.h"
#include "engine/event_log.h"

namespace rollcall::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct VerifyOptions {
  std::string data_dir;
  std::string scratch_dir;
  bool json = false;
};

struct RebuildOptions {
  std::string data_dir;
  std::string units;
  bool json = false;
};


int run_verify(const VerifyOptions& o) {
  constexpr std::string_view kCommand = "verify";
  auto reader = DataDirReader::open(o.data_dir, /*need_projections=*/false);
  if (!reader.ok()) return report(kCommand, reader.error().message());
  std::string scratch = o.scratch_dir;
  if (scratch.empty()) {
    std::error_code ec;
    scratch = std::filesystem::temp_directory_path(ec).string();
    if (ec)
      return report(kCommand, "no temp dir for the scratch database (" + ec.message() +
                                  "); give --scratch-dir");
  }
  ProgressLine progress("replayed");
  auto result = reader->log().verify_projections(scratch, progress.callback());
  if (!result.ok()) return report(kCommand, result.error().message());
  const VerifyReport& r = *result;

  if (o.json) {
    std::string first;
    for (const ProjectionDifference& d : r.first)
      first += (first.empty() ? "" : ",") + JsonObject()
                                                .add("what", d.what)
                                                .add("stored", d.stored)
                                                .add("recomputed", d.recomputed)
                                                .str();
    std::cout << JsonObject()
                     .add("events", r.events)
                     .add("keys", r.keys)
                     .add("differences", r.differences)
                     .raw("first", "[" + first + "]")
                     .str()
              << "\n";
    return r.differences == 0 ? kExitOk : kExitProblem;
  }
  for (const ProjectionDifference& d : r.first)
    std::cout << d.what << ": stored " << d.stored << ", recomputed " << d.recomputed << "\n";
  if (r.differences > r.first.size())
    std::cout << "... and " << r.differences - r.first.size() << " more\n";
  std::cout << "verified: " << r.events << " events replayed, " << r.keys
            << " projection keys compared, ";
  if (r.differences == 0) {
    std::cout << "no differences\n";
    return kExitOk;
  }
  std::cout << r.differences << (r.differences == 1 ? " difference" : " differences")
            << "; stop rollcalld and run `rollcall rebuild --data-dir " << o.data_dir
            << "` to recompute them\n";
  return kExitProblem;
}

// The map to open the writer with: the one the dir was seeded with, or --units for a dir that
// predates stored maps (given both, the engine checks that they agree). Also gives the unit.
Result<std::pair<UnitCode, UnitMap>> rebuild_map(const RebuildOptions& o) {
  auto reader = EventLog::open_reader(o.data_dir);
  if (!reader.ok()) return reader.error();
  const UnitCode unit = (*reader)->unit();
  if (!o.units.empty()) {
    auto given = UnitMap::load_csv_file(o.units);
    if (!given.ok()) return Error(given.error().kind(), "--units: " + given.error().message());
    return std::make_pair(unit, std::move(given).value());
  }
  auto stored = (*reader)->seed_map();
  if (!stored.ok()) {
    if (stored.error().kind() == ErrorKind::kNotFound)
      return invalid_input(stored.error().message() +
                           "; give the node's units file with --units FILE.csv");
    return stored.error();
  }
  return std::make_pair(unit, std::move(stored).value());
}

int run_rebuild(const RebuildOptions& o) {
  constexpr std::string_view kCommand = "rebuild";
  if (o.data_dir.empty()) return report(kCommand, "--data-dir is required");
  auto unit_and_map = rebuild_map(o);  // the reader is closed again before the writer opens
  if (!unit_and_map.ok()) return report(kCommand, unit_and_map.error().message());
  const auto& [unit, map] = *unit_and_map;  // outlives the log below

  auto log =
      EventLog::open_writer(LogOptions{.dir = o.data_dir, .unit = unit, .for_rebuild = true}, map);
  if (!log.ok()) {
    if (log.error().kind() == ErrorKind::kUnavailable)
      return report(kCommand, "stop rollcalld first: rebuild needs the data dir to itself (" +
                                  log.error().message() + ")");
    return report(kCommand, log.error().message());
  }
  ProgressLine progress("rebuilt");
  auto events = (*log)->rebuild_projections(progress.callback());
  if (!events.ok())
    return report(kCommand,
                  events.error().message() +
                      "; the data dir stays marked as half rebuilt (rollcalld will not open it) "
                      "until a rebuild completes");
  const double seconds = progress.seconds();
  if (o.json) {
    std::cout << JsonObject().add("events", *events).add("seconds", seconds).str()
              << "\n";
    return kExitOk;
  }
  std::printf("rebuilt the projections of unit %s from %llu events in %.2f s (%.0f events/s)\n",
              unit.str().c_str(), static_cast<unsigned long long>(*events), seconds,
              seconds > 0 ? static_cast<double>(*events) / seconds : 0.0);
  return kExitOk;
}

}  // namespace

void add_verify_commands(CLI::App& app, int& exit_code) {
  auto v = std::make_shared<VerifyOptions>();
  auto* verify = app.add_subcommand("verify",
                                    "Recompute every projection (tallies, members, transfer "
                                    "pairing, retractions) from the log and compare "
                                    "it with what the node stores (C6). Safe while the node runs.");
  verify->add_option("--data-dir", v->data_dir, "the node's data dir")->required();
  verify->add_option(
      "--scratch-dir", v->scratch_dir,
      "where to build the recomputed projections, removed afterwards (default: the system temp "
      "dir); needs about the projections' size");
  verify->add_flag(
      "--json", v->json,
      "one JSON object: events, keys, differences, first [{what, stored, recomputed}]");
  verify->footer("Prints each difference as 'what: stored X, recomputed Y' (at most " +
                 std::to_string(VerifyReport::kMaxListed) +
                 ", then how many more), then a summary. Progress goes to stderr on long runs.\n"
                 "Exit codes: 0 no differences; 1 differences found; 2 could not run.");
  verify->callback([v, &exit_code] { exit_code = run_verify(*v); });

  auto r = std::make_shared<RebuildOptions>();
  auto* rebuild = app.add_subcommand("rebuild",
                                     "Drop every projection and recompute it from the log. Needs "
                                     "the node stopped (it opens the data dir as "
                                     "its writer).");
  rebuild->add_option("--data-dir", r->data_dir, "the node's data dir")->required();
  rebuild->add_option(
      "--units", r->units,
      "the units CSV, only for a data dir that does not store its map yet (default: the stored "
      "map; given both, they must agree)");
  rebuild->add_flag("--json", r->json, "one JSON object: events, seconds");
  rebuild->footer(
      "Progress goes to stderr on long runs ('rebuilt N of M events (P%)'). An interrupted rebuild "
      "leaves "
      "the data dir marked: rollcalld refuses to open it until a rebuild completes.\n"
      "Exit codes: 0 rebuilt; 2 could not run (node running: stop rollcalld first; missing data "
      "dir).");
  rebuild->callback([r, &exit_code] { exit_code = run_rebuild(*r); });
}

}  // namespace rollcall::cli
