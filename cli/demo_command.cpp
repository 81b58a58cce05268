// rollcall demo: a real node on loopback with real data. Starts rollcalld for Quận Ba Đình
// (district 001 of Hà Nội, from the 2024 units file), submits a year of its wards' events
// (shared/examples/ba-dinh-2024.jsonl), shows the log as the node holds it, and stops the
// node cleanly. The data dir is kept for `rollcall log ...`.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <thread>

#include "cli/child_process.h"
#include "cli/commands.h"
#include "engine/event_fields.h"
#include "engine/event_log.h"

#ifndef ROLLCALL_SHARED_DIR
#define ROLLCALL_SHARED_DIR "../shared"
#endif

namespace rollcall::cli {
namespace {

namespace fs = std::filesystem;

struct DemoOptions {
  std::string shared_dir;
  std::string work_dir;
  std::string unit = "001";
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
  std::cout << "== rollcall demo: one node, real units, a year of real-shaped events\n"
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
  std::cout << "== started rollcalld for unit " << o.unit << " (Quận Ba Đình, Hà Nội) on " << address
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
  if (tail.ok()) {
    while (tail->running()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const int stopped = node->stop();
  std::cout << "\n== stopped rollcalld (exit " << stopped << "); the data dir stays for you to explore:\n"
            << "   " << self << " log tail --data-dir " << data_dir << " --unit 00004\n"
            << "   " << self << " log show 001:1 --data-dir " << data_dir << "\n";
  return submitted == kExitOk && stopped == 0 ? kExitOk : kExitProblem;
}

}  // namespace

void add_demo_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<DemoOptions>();
  auto* cmd = app.add_subcommand("demo",
                                 "Start a real rollcalld on loopback for Quận Ba Đình (Hà Nội), submit a year "
                                 "of its wards' events, show the log, and stop the node cleanly.");
  cmd->add_option("--shared", o->shared_dir, "the shared/ folder with data/ and examples/ (found by default)");
  cmd->add_option("--dir", o->work_dir, "work dir for the node's data (default: a new temp dir)");
  cmd->callback([o, &exit_code] { exit_code = run_demo(*o); });
}

}  // namespace rollcall::cli
