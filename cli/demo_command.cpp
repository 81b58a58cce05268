// rollcall demo: a real node on loopback with real data. Starts rollcalld for Hà Nội (province
// 01 of the 2024 units file), submits a year of the events of Quận Ba Đình's wards
// (shared/examples/ba-dinh-2024.jsonl), shows the log as the node holds it and the roll-ups of
// wards, district and province, verifies the projections, and stops the node cleanly. The data
// dir is kept for `rollcall log|tally|members ...`.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <thread>

#include "cli/child_process.h"
#include "cli/commands.h"
#include "cli/text_table.h"
#include "engine/event_fields.h"
#include "engine/event_log.h"
#include "engine/period.h"

#ifndef ROLLCALL_SHARED_DIR
#define ROLLCALL_SHARED_DIR "../shared"
#endif

namespace rollcall::cli {
namespace {

namespace fs = std::filesystem;

struct DemoOptions {
  std::string shared_dir;
  std::string work_dir;
  std::string unit = "01";
};

std::string find_shared_dir(const std::string& given) {
  std::vector<std::string> candidates;
  if (!given.empty()) candidates = {given};  // an explicit --shared is the only place looked
  else candidates = {ROLLCALL_SHARED_DIR, "../shared", executable_dir() + "/../../../shared"};
  for (const auto& c : candidates) {
    std::error_code ec;
    if (fs::exists(fs::path(c) / "data" / "vn-units-2024.csv", ec)) return fs::canonical(c, ec).string();
  }
  return "";
}

int64_t metric(const std::map<std::string, int64_t>& sums, const std::string& name) {
  auto it = sums.find(name);
  return it == sums.end() ? 0 : it->second;
}

// The roll-ups the node keeps: every ward of Ba Đình, the district and the province, for 2024,
// with members.active as of the year's end; then the district by quarter. The wards' sum is
// shown beside the district's own tally (C3).
void print_rollups(const EventLog& log) {
  auto map = log.seed_map();
  if (!map.ok()) return;
  const DateRange year = parse_period("2024").value();
  const DateRange year_end = DateRange::as_of(Date::parse("2024-12-31").value());
  std::cout << "\n== roll-ups at the node (rollcall tally --unit U --period 2024; active as of 2024-12-31)\n";
  const std::vector<std::string> columns = {"active", "admitted", "in", "out", "reports", "eID lvl 1"};
  TextTable table({"   unit", "name", "active", "admitted", "in", "out", "reports", "eID lvl 1"});
  for (size_t c = 2; c < 8; ++c) table.align_right(c);
  std::vector<int64_t> wards_sum(columns.size(), 0);
  const auto add_row = [&](const std::string& unit, const std::string& name, const std::vector<int64_t>& values) {
    std::vector<std::string> cells = {"   " + unit, name};
    for (int64_t v : values) cells.push_back(std::to_string(v));
    table.add(std::move(cells));
  };
  const auto row = [&](const UnitCode& unit, bool add_to_sum) {
    auto sums = log.tally(unit, year);
    auto level = log.tally(unit, year_end);
    if (!sums.ok() || !level.ok()) return;
    int64_t reports = 0;
    for (const auto& [name, value] : *sums)
      if (name.starts_with("activity.") && name.ends_with(".reports")) reports += value;
    const std::vector<int64_t> values = {metric(*level, "members.active"), metric(*sums, "members.admitted"),
                                         metric(*sums, "members.transferredIn"),
                                         metric(*sums, "members.transferredOut"), reports,
                                         metric(*sums, "activity.eidLevel1.count")};
    if (add_to_sum)
      for (size_t i = 0; i < values.size(); ++i) wards_sum[i] += values[i];
    const Unit* u = map->find(unit);
    add_row(unit.str(), u ? u->name : "", values);
  };
  const UnitCode district = UnitCode::trusted("001");
  for (const UnitCode& ward : map->children(district)) row(ward, true);
  add_row("", "(sum of the wards)", wards_sum);
  row(district, false);
  row(log.unit(), false);
  table.print(std::cout);

  std::cout << "\n== Quận Ba Đình by quarter (rollcall tally --unit 001 --period 2024-Qn)\n";
  TextTable quarters({"   period", "admitted", "matured", "removed", "rated", "net active"});
  for (size_t c = 1; c < 6; ++c) quarters.align_right(c);
  for (const char* q : {"2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4"}) {
    auto sums = log.tally(district, parse_period(q).value());
    if (!sums.ok()) return;
    int64_t rated = 0;
    for (const auto& [name, value] : *sums)
      if (name.starts_with("members.rated.")) rated += value;
    const int64_t net = metric(*sums, "members.active");
    quarters.add({std::string("   ") + q, std::to_string(metric(*sums, "members.admitted")),
                  std::to_string(metric(*sums, "members.matured")), std::to_string(metric(*sums, "members.removed")),
                  std::to_string(rated), (net > 0 ? "+" : "") + std::to_string(net)});
  }
  quarters.print(std::cout);
}

int run_demo(const DemoOptions& o) {
  const std::string shared = find_shared_dir(o.shared_dir);
  if (shared.empty())
    return report("demo", o.shared_dir.empty() ? "cannot find shared/data/vn-units-2024.csv; pass --shared DIR"
                                               : "no data/vn-units-2024.csv under --shared " + o.shared_dir);
  const std::string units = shared + "/data/vn-units-2024.csv";
  const std::string events = shared + "/examples/ba-dinh-2024.jsonl";
  std::string work = o.work_dir;
  if (work.empty()) {
    std::string tmpl = (fs::temp_directory_path() / "rollcall-demo-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) {
      std::cerr << "rollcall demo: cannot make a work dir\n";
      return kExitCannotRun;
    }
    work = tmpl;
  }
  fs::create_directories(work);
  const std::string data_dir = work + "/" + o.unit;
  const std::string port_file = work + "/" + o.unit + ".port";
  const std::string node_log = work + "/" + o.unit + ".log";
  fs::remove(port_file);

  const std::string rollcalld = executable_dir() + "/../node/rollcalld";
  std::string binary = fs::exists(rollcalld) ? rollcalld : executable_dir() + "/rollcalld";
  if (!fs::exists(binary)) binary = "/usr/bin/rollcalld";
  std::cout << "== rollcall demo: one node, real units, a year of real-shaped events, real roll-ups\n"
            << "   units file: " << units << "\n   work dir:   " << work << "\n\n";

  auto node = ChildProcess::spawn({binary, "--unit", o.unit, "--data-dir", data_dir, "--listen",
                                   "127.0.0.1:0", "--units", units, "--port-file", port_file,
                                   "--min-free-mb", "64"},
                                  node_log);
  if (!node.ok()) {
    std::cerr << "rollcall demo: " << node.error().message() << "\n";
    return kExitCannotRun;
  }
  auto port = node->wait_for_port_file(port_file, std::chrono::seconds(15));
  if (!port.ok()) {
    std::cerr << "rollcall demo: " << port.error().message() << " (see " << node_log << ")\n";
    return kExitCannotRun;
  }
  const std::string address = "127.0.0.1:" + std::to_string(*port);
  std::cout << "== started rollcalld for unit " << o.unit << " (Thành phố Hà Nội) on " << address
            << " (pid " << node->pid() << ", log " << node_log << ")\n\n";

  std::cout << "== submitting " << events << " through the node\n";
  SubmitOptions submit;
  submit.node = address;
  submit.file = events;
  submit.quiet = true;
  const int submitted = run_submit(submit);

  auto log = EventLog::open_reader(data_dir);
  if (!log.ok()) {
    std::cerr << "rollcall demo: " << log.error().message() << "\n";
    return kExitCannotRun;
  }
  auto all = (*log)->read(Lsn{1}, 1 << 20);
  if (all.ok()) {
    std::map<std::string, size_t> by_kind;
    std::map<std::string, size_t> by_unit;
    for (const auto& e : *all) {
      by_kind[std::string(event_kind_name(e.event()))]++;
      by_unit[e.event().getUnit().cStr()]++;
    }
    std::cout << "\n== the node's log holds " << all->size() << " events from " << by_unit.size()
              << " wards, by kind:\n";
    for (const auto& [kind, n] : by_kind) std::printf("   %-30s %5zu\n", kind.c_str(), n);
  }
  std::cout << "\n== the newest events (rollcall log tail -n 8 --data-dir " << data_dir << "):\n";
  std::cout.flush();
  const std::string self = executable_dir() + "/rollcall";
  auto tail = ChildProcess::spawn({self, "log", "tail", "-n", "8", "--data-dir", data_dir}, "");
  if (tail.ok()) tail->wait();
  print_rollups(**log);

  std::cout << "\n== rollcall verify --data-dir " << data_dir << "\n";
  std::cout.flush();
  int verified = kExitCannotRun;
  auto verify = ChildProcess::spawn({self, "verify", "--data-dir", data_dir}, "");
  if (verify.ok()) verified = verify->wait();
  const int stopped = node->stop();
  std::cout << "\n== stopped rollcalld (exit " << stopped << "); the data dir stays for you to explore:\n"
            << "   " << self << " tally --data-dir " << data_dir << " --unit 001 --period 2024-Q1\n"
            << "   " << self << " members --data-dir " << data_dir << " --unit 00004\n"
            << "   " << self << " log tail --data-dir " << data_dir << " --unit 00004\n";
  return submitted == kExitOk && verified == kExitOk && stopped == 0 ? kExitOk : kExitProblem;
}

}  // namespace

void add_demo_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<DemoOptions>();
  auto* cmd = app.add_subcommand("demo",
                                 "Start a real rollcalld on loopback for Hà Nội (province 01), submit a year of "
                                 "the events of Quận Ba Đình's wards, show the log, the roll-ups of wards, "
                                 "district and province, verify them, and stop the node cleanly.");
  cmd->add_option("--shared", o->shared_dir, "the shared/ folder with data/ and examples/ (found by default)");
  cmd->add_option("--dir", o->work_dir, "work dir for the node's data (default: a new temp dir)");
  cmd->callback([o, &exit_code] { exit_code = run_demo(*o); });
}

}  // namespace rollcall::cli
