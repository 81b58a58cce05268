// rollcall reorganize --data-dir DIR --units NEW.csv --map SUCCESSORS.csv [--node HOST:PORT]:
// turns the node's map into a new one as a batch of map events (cli/reorganization.h), written
// as JSON lines and, with --node, submitted through the node.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include <unistd.h>

#include "cli/commands.h"
#include "cli/credential_options.h"
#include "cli/data_dir_reader.h"
#include "cli/reorganization.h"
#include "engine/period.h"

namespace rollcall::cli {
namespace {

constexpr std::string_view kCommand = "reorganize";

struct ReorganizeOptions {
  std::string data_dir;
  std::string units_file;
  std::string successor_file;
  std::string date = "2025-07-01";
  std::string out;
  SubmitOptions submit;
};

int run_reorganize(ReorganizeOptions o) {
  auto date = Date::parse(o.date);
  if (!date.ok()) return report(kCommand, "--date: " + date.error().message());
  auto target = UnitMap::load_csv_file(o.units_file);
  if (!target.ok()) return report(kCommand, "--units: " + target.error().message());
  auto successors = load_successor_file(o.successor_file);
  if (!successors.ok()) return report(kCommand, "--map: " + successors.error().message());
  auto reader = DataDirReader::open(o.data_dir);
  if (!reader.ok()) return report(kCommand, reader.error().message());
  const UnitCode node = reader->log().unit();
  auto plan = plan_reorganization(reader->map(), node, *target, *successors, date->to_string());
  if (!plan.ok()) return report(kCommand, plan.error().message());

  std::string summary;
  for (const auto& [kind, n] : plan->counts) summary += (summary.empty() ? "" : ", ") + kind + " " + std::to_string(n);
  std::cerr << "rollcall reorganize: " << plan->changes.size() << " map events at " << node.str() << " dated "
            << date->to_string() << (summary.empty() ? "" : ": " + summary) << "\n";
  if (plan->changes.empty()) {
    std::cerr << "rollcall reorganize: the node's map is the new one already; nothing to submit\n";
    return kExitOk;
  }

  // The events as JSON lines: to --out, to a scratch file for --node, else to stdout.
  std::filesystem::path file = o.out;
  std::unique_ptr<std::filesystem::path, void (*)(std::filesystem::path*)> scratch(nullptr, [](std::filesystem::path* p) {
    std::error_code ec;
    std::filesystem::remove(*p, ec);
    delete p;
  });
  if (file.empty() && !o.submit.node.empty()) {
    std::string name = (std::filesystem::temp_directory_path() / "rollcall-reorganize-XXXXXX").string();
    const int fd = mkstemp(name.data());
    if (fd < 0) return report(kCommand, "cannot make a scratch file in " + std::filesystem::temp_directory_path().string());
    ::close(fd);
    file = name;
    scratch.reset(new std::filesystem::path(file));
  }
  if (file.empty()) {
    for (const MapChange& c : plan->changes) std::cout << map_change_json_line(c, node) << "\n";
    return kExitOk;
  }
  {
    std::ofstream lines(file, std::ios::binary | std::ios::trunc);
    for (const MapChange& c : plan->changes) lines << map_change_json_line(c, node) << "\n";
    if (!lines.flush()) return report(kCommand, "cannot write " + file.string());
  }
  if (o.submit.node.empty()) {
    std::cerr << "rollcall reorganize: wrote " << file.string() << " (submit it with rollcall submit --node HOST:PORT)\n";
    return kExitOk;
  }
  o.submit.file = file.string();
  o.submit.quiet = true;
  const int submitted = run_submit(o.submit);
  if (submitted == kExitOk)
    std::cerr << "rollcall reorganize: " << plan->changes.size() << " map events appended at " << node.str()
              << "; roll-ups follow the new map (tally --map-as-of " << "a day before " << date->to_string()
              << " answers under the old one)\n";
  return submitted;
}

}  // namespace

void add_reorganize_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<ReorganizeOptions>();
  auto* cmd = app.add_subcommand(
      "reorganize",
      "Turn the node's map into a new one (e.g. the 2025 reorganization) as a batch of map events "
      "issued at the node: new units registered, units renamed and moved to their new parents, old "
      "units merged into their successors, levels that no longer exist closed. Prints the events as "
      "JSON lines, or submits them with --node.");
  cmd->add_option("--data-dir", o->data_dir, "the node's data dir (read beside the running node for its map)")->required();
  cmd->add_option("--units", o->units_file, "the new units CSV (code,name,level,parent_code), e.g. vn-units-2025.csv")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--map", o->successor_file,
                  "old-to-new successors CSV (old_ward_code,new_ward_code; an old code on several lines "
                  "is split, its history going to the first listed), e.g. vn-units-2025-map.csv")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--date", o->date, "effective date of the changes (default 2025-07-01)");
  cmd->add_option("--out", o->out, "write the JSON lines to this file (with --node: and submit it)");
  cmd->add_option("--node", o->submit.node, "HOST:PORT of the node: submit the events there");
  cmd->add_option("--timeout-ms", o->submit.timeout_ms, "how long to wait for the node to answer a connect (default 5000)");
  add_credential_options(cmd, o->submit.credentials);
  cmd->footer(
      "The plan is checked against the node's map before anything is sent; each event carries a "
      "requestId, so running the command again after a lost answer appends nothing twice, and a "
      "run after a partial one plans only what is left. Members of a split unit stay with its "
      "history; move them with transfers.\n"
      "Exit codes: 0 written or appended; 1 the node rejected some events (named on stderr); 2 could "
      "not run (bad files, a plan that does not apply, node unreachable).");
  cmd->callback([o, &exit_code] { exit_code = run_reorganize(*o); });
}

}  // namespace rollcall::cli
