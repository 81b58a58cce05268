// rollcall demo: a real tree of nodes on loopback with real data. Starts rollcalld for VN (the
// national unit), Thành phố Hà Nội (01) under it and Quận Ba Đình (001) under that (cli/
// demo_tree.h), submits a year of the events of Ba Đình's wards (shared/examples/
// ba-dinh-2024.jsonl) at the district's node, waits until they have been pushed up to VN, and
// shows what VN holds: the log, the roll-ups of wards, district, province and nation, and that
// they are the figures the district's own node keeps. Then the status of the middle node, a
// verify at every node, and a clean stop, children first. The data dirs are kept for
// `rollcall log|tally|members|status ...`.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

#include "cli/child_process.h"
#include "cli/commands.h"
#include "cli/demo_tree.h"
#include "cli/text_table.h"
#include "engine/event_fields.h"
#include "engine/event_log.h"
#include "engine/period.h"
#include "engine/unit_map.h"

#ifndef ROLLCALL_SHARED_DIR
#define ROLLCALL_SHARED_DIR "../shared"
#endif

namespace rollcall::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr auto kReplicationTimeout = std::chrono::seconds(30);
// The tree, top first: each node pushes its log to the one before it.
constexpr const char* kTree[] = {"VN", "01", "001"};

struct DemoOptions {
  std::string shared_dir;
  std::string work_dir;
};

// One level of the tree: its node and a reader of its data dir.
struct Level {
  DemoNode node;
  std::string name;
  std::unique_ptr<EventLog> log;
};

std::string find_shared_dir(const std::string& given) {
  std::vector<std::string> candidates;
  if (!given.empty())
    candidates = {given};  // an explicit --shared is the only place looked
  else
    candidates = {ROLLCALL_SHARED_DIR, "../shared", executable_dir() + "/../../../shared"};
  for (const auto& c : candidates) {
    std::error_code ec;
    if (fs::exists(fs::path(c) / "data" / "vn-units-2024.csv", ec))
      return fs::canonical(c, ec).string();
  }
  return "";
}

// --dir (created when missing), else a new temp dir; "" when neither can be made.
std::string make_work_dir(const std::string& given) {
  if (!given.empty()) {
    std::error_code ec;
    fs::create_directories(given, ec);
    return ec ? "" : given;
  }
  std::string tmpl = (fs::temp_directory_path() / "rollcall-demo-XXXXXX").string();
  return mkdtemp(tmpl.data()) == nullptr ? "" : tmpl;
}

std::string seconds_text(Clock::duration d) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(2) << std::chrono::duration<double>(d).count() << " s";
  return out.str();
}

int64_t metric(const std::map<std::string, int64_t>& sums, const std::string& name) {
  auto it = sums.find(name);
  return it == sums.end() ? 0 : it->second;
}

// Runs `rollcall ARGS...` (this executable) with its output on ours; returns its exit code.
int run_self(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {executable_dir() + "/rollcall"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::cout.flush();
  auto child = ChildProcess::spawn(argv, "");
  return child.ok() ? child->wait() : kExitCannotRun;
}

// Starts the tree's nodes, the top first, each once its parent listens.
bool start_tree(DemoTree& tree, const UnitMap& map, std::vector<Level>& levels) {
  for (const char* code : kTree) {
    const UnitCode unit = UnitCode::trusted(code);
    auto node = tree.start(unit);
    if (!node.ok()) {
      report("demo", node.error().message());
      return false;
    }
    const Unit* u = map.find(unit);
    levels.push_back(Level{*node, u ? u->name : "", nullptr});
    std::cout << "== started rollcalld for " << code << " (" << levels.back().name << ") on "
              << node->address;
    if (levels.size() > 1) std::cout << ", parent " << levels[levels.size() - 2].node.address;
    std::cout << " (pid " << node->pid << ", log " << node->log_file << ")\n";
  }
  return true;
}

// The seq of `origin` that `log` holds with no gap below it (0: none), once it has seen the
// node's newest writes.
uint64_t held_seq(EventLog& log, const UnitCode& origin) {
  if (!log.refresh().ok()) return 0;
  auto marks = log.watermarks();
  if (!marks.ok()) return 0;
  for (const Watermark& w : *marks)
    if (w.origin == origin) return w.seq;
  return 0;
}

// Waits, at most kReplicationTimeout, until every level holds `origin` up to `seq`, with a
// progress line a second. Per level, how long after `since` it was seen holding them all
// (nullopt: not within the timeout).
std::vector<std::optional<Clock::duration>> wait_for_origin(std::vector<Level>& levels,
                                                            const UnitCode& origin, uint64_t seq,
                                                            Clock::time_point since) {
  std::cout << "\n== replication: waiting (at most " << kReplicationTimeout.count() << " s) until "
            << levels.front().node.unit.str() << " holds " << origin.str() << ":1.." << seq << "\n";
  std::vector<std::optional<Clock::duration>> took(levels.size());
  const auto deadline = Clock::now() + kReplicationTimeout;
  auto next_progress = Clock::now() + std::chrono::seconds(1);
  for (;;) {
    bool all = true;
    for (size_t i = levels.size(); i-- > 0;) {  // bottom first: a parent never looks sooner
      if (!took[i] && held_seq(*levels[i].log, origin) >= seq) took[i] = Clock::now() - since;
      all = all && took[i];
    }
    if (all || Clock::now() > deadline) return took;
    if (Clock::now() >= next_progress) {
      std::cout << "   after " << seconds_text(Clock::now() - since) << ":";
      for (Level& l : levels)
        std::cout << "  " << l.node.unit.str() << " holds " << held_seq(*l.log, origin);
      std::cout << std::endl;
      next_progress += std::chrono::seconds(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// Watches the district's own events go up the tree: waits until every level holds them, then
// prints per level, bottom first, the events it holds and how soon it had them all. True when
// every level has them.
bool watch_replication(std::vector<Level>& levels, Clock::duration submit_took,
                       Clock::time_point answered) {
  const UnitCode& origin = levels.back().node.unit;
  const uint64_t seq = held_seq(*levels.back().log, origin);
  const auto took = wait_for_origin(levels, origin, seq, answered);
  TextTable table;
  table.align_right(2);
  bool all = true;
  for (size_t i = levels.size(); i-- > 0;) {
    Level& l = levels[i];
    std::string when;
    if (i + 1 == levels.size())
      when = "submitted here, answered in " + seconds_text(submit_took);
    else if (took[i])
      when = "all within " + seconds_text(*took[i]) + " of the answer";
    else
      when = "only " + origin.str() + ":1.." + std::to_string(held_seq(*l.log, origin)) +
             " after " + std::to_string(kReplicationTimeout.count()) + " s";
    table.add({"   " + l.node.unit.str(), l.name,
               std::to_string(l.log->last_lsn().value) + " events", when});
    all = all && took[i];
  }
  table.print(std::cout);
  return all;
}

// What a log holds: its events by kind, and its newest events as `rollcall log tail` shows them.
void print_log(const Level& level) {
  auto all = level.log->read(Lsn{1}, 1 << 20);
  if (!all.ok()) return;
  std::map<std::string, size_t> by_kind;
  std::map<std::string, size_t> by_unit;
  std::map<std::string, size_t> by_origin;
  for (const auto& e : *all) {
    by_kind[std::string(event_kind_name(e.event()))]++;
    by_unit[e.event().getUnit().cStr()]++;
    by_origin[e.event().getOrigin().cStr()]++;
  }
  std::cout << "\n== " << level.node.unit.str() << "'s log holds " << all->size() << " events of "
            << by_unit.size() << " wards, from origin";
  for (const auto& [origin, n] : by_origin) std::cout << " " << origin << " (" << n << ")";
  std::cout << ", by kind:\n";
  for (const auto& [kind, n] : by_kind)
    std::cout << "   " << std::left << std::setw(30) << kind << std::right << std::setw(6) << n
              << "\n";
  std::cout << "\n== the newest events at " << level.node.unit.str()
            << " (rollcall log tail -n 5 --data-dir " << level.node.data_dir << "):\n";
  run_self({"log", "tail", "-n", "5", "--data-dir", level.node.data_dir});
}

// The roll-ups the top node keeps: every ward of the district, the district and each level
// above it, for 2024, with members.active as of the year's end. The wards' sum is shown beside
// the district's own tally (C3).
void print_rollups(const EventLog& log, const UnitMap& map, const std::vector<Level>& levels) {
  const DateRange year = parse_period("2024").value();
  const DateRange year_end = DateRange::as_of(Date::parse("2024-12-31").value());
  std::cout << "\n== roll-ups at " << log.unit().str() << " (rollcall tally --data-dir "
            << levels.front().node.data_dir
            << " --unit U --period 2024; active as of 2024-12-31)\n";
  TextTable table({"   unit", "name", "active", "admitted", "in", "out", "reports", "eID lvl 1"});
  for (size_t c = 2; c < 8; ++c) table.align_right(c);
  std::vector<int64_t> wards_sum(6, 0);
  const auto add_row = [&](const std::string& unit, const std::string& name,
                           const std::vector<int64_t>& values) {
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
    const std::vector<int64_t> values = {metric(*level, "members.active"),
                                         metric(*sums, "members.admitted"),
                                         metric(*sums, "members.transferredIn"),
                                         metric(*sums, "members.transferredOut"),
                                         reports,
                                         metric(*sums, "activity.eidLevel1.count")};
    if (add_to_sum)
      for (size_t i = 0; i < values.size(); ++i) wards_sum[i] += values[i];
    const Unit* u = map.find(unit);
    add_row(unit.str(), u ? u->name : "", values);
  };
  const UnitCode& district = levels.back().node.unit;
  for (const UnitCode& ward : map.children(district)) row(ward, true);
  add_row("", "(sum of the wards)", wards_sum);
  for (size_t i = levels.size(); i-- > 0;) row(levels[i].node.unit, false);
  table.print(std::cout);
}

// The district's 2024 by quarter, as `log` holds it.
void print_quarters(const EventLog& log, const UnitCode& district, const std::string& title) {
  std::cout << "\n== " << title << " by quarter at " << log.unit().str()
            << " (rollcall tally --unit " << district.str() << " --period 2024-Qn)\n";
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
                  std::to_string(metric(*sums, "members.matured")),
                  std::to_string(metric(*sums, "members.removed")), std::to_string(rated),
                  (net > 0 ? "+" : "") + std::to_string(net)});
  }
  quarters.print(std::cout);
}

// Every metric a log holds for the district and each of its wards over 2024, its quarters and
// as of its end, keyed "UNIT PERIOD METRIC". A tally that cannot be read is a key of its own.
std::map<std::string, int64_t> district_figures(const EventLog& log, const UnitMap& map,
                                                const UnitCode& district) {
  std::vector<UnitCode> units = map.children(district);
  units.push_back(district);
  std::vector<std::pair<std::string, DateRange>> periods;
  for (const char* p : {"2024", "2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4"})
    periods.emplace_back(p, parse_period(p).value());
  periods.emplace_back("as-of-2024-12-31", DateRange::as_of(Date::parse("2024-12-31").value()));
  std::map<std::string, int64_t> figures;
  for (const UnitCode& unit : units)
    for (const auto& [period, range] : periods) {
      auto sums = log.tally(unit, range);
      if (!sums.ok())
        figures[unit.str() + " " + period + " (unreadable: " + sums.error().message() + ")"] = 0;
      else
        for (const auto& [name, value] : *sums)
          figures[unit.str() + " " + period + " " + name] = value;
    }
  return figures;
}

// Compares the figures of the district and its wards at every level with those of the
// district's own node; prints "identical at ..." or the differences. True when identical.
bool compare_levels(const std::vector<Level>& levels, const UnitMap& map) {
  const Level& own = levels.back();
  const std::string& code = own.node.unit.str();
  const auto expected = district_figures(*own.log, map, own.node.unit);
  std::cout << "\n== the same figures at every node? every metric of " << code << " and its "
            << map.children(own.node.unit).size() << " wards for 2024, each quarter and as of\n"
            << "   2024-12-31 (" << expected.size() << " figures), at each node against " << code
            << "'s own:\n";
  std::vector<std::string> differences;
  for (size_t i = 0; i + 1 < levels.size(); ++i) {
    auto got = district_figures(*levels[i].log, map, own.node.unit);
    const std::string& here = levels[i].node.unit.str();
    for (const auto& [key, value] : expected) {
      auto it = got.find(key);
      if (it == got.end() || it->second != value)
        differences.push_back(here + ": " + key + " is " +
                              (it == got.end() ? "absent" : std::to_string(it->second)) + ", " +
                              std::to_string(value) + " at " + code);
      if (it != got.end()) got.erase(it);
    }
    for (const auto& [key, value] : got)
      differences.push_back(here + ": " + key + " is " + std::to_string(value) + ", absent at " +
                            code);
  }
  if (differences.empty()) {
    std::cout << "   identical at";
    for (size_t i = levels.size(); i-- > 0;)
      std::cout << " " << levels[i].node.unit.str() << (i == 1 ? " and" : i > 1 ? "," : "\n");
    return true;
  }
  for (size_t i = 0; i < differences.size() && i < 10; ++i)
    std::cout << "   " << differences[i] << "\n";
  std::cout << "   " << differences.size()
            << (differences.size() == 1 ? " difference" : " differences") << " from " << code
            << "\n";
  return false;
}

// `rollcall verify` at every node, top first; true when all are clean.
bool verify_all(const std::vector<Level>& levels) {
  std::cout << "\n== rollcall verify --data-dir DIR at every node\n";
  bool clean = true;
  for (const Level& l : levels) {
    std::cout << "   " << std::left << std::setw(5) << l.node.unit.str() << std::right;
    clean = run_self({"verify", "--data-dir", l.node.data_dir}) == kExitOk && clean;
  }
  return clean;
}

// Stops the nodes with SIGTERM, children first, and prints their exit codes; true when all
// exited 0.
bool stop_tree(DemoTree& tree) {
  std::cout << "\n== stopping the nodes with SIGTERM, children first:";
  bool clean = true;
  const char* separator = " ";
  for (const DemoNodeExit& e : tree.stop_all()) {
    std::cout << separator << e.unit.str() << " exit " << e.exit_code;
    separator = ", ";
    clean = clean && e.exit_code == 0;
  }
  std::cout << "\n";
  return clean;
}

void print_explore(const std::vector<Level>& levels) {
  const std::string self = executable_dir() + "/rollcall";
  const std::string& top = levels.front().node.data_dir;
  std::cout << "\n== the data dirs stay for you to explore:";
  for (const Level& l : levels) std::cout << " " << l.node.data_dir;
  std::cout << "\n   " << self << " tally --data-dir " << top << " --unit 001 --period 2024\n"
            << "   " << self << " status --data-dir " << levels[1].node.data_dir << "\n"
            << "   " << self << " log tail --data-dir " << top << " -n 5\n";
}

int run_demo(const DemoOptions& o) {
  const std::string shared = find_shared_dir(o.shared_dir);
  if (shared.empty())
    return report("demo", o.shared_dir.empty()
                              ? "cannot find shared/data/vn-units-2024.csv; pass --shared DIR"
                              : "no data/vn-units-2024.csv under --shared " + o.shared_dir);
  const std::string units = shared + "/data/vn-units-2024.csv";
  const std::string events = shared + "/examples/ba-dinh-2024.jsonl";
  auto map = UnitMap::load_csv_file(units);
  if (!map.ok()) return report("demo", map.error().message());
  const std::string work = make_work_dir(o.work_dir);
  if (work.empty()) return report("demo", "cannot make a work dir");

  std::cout << "== rollcall demo: three nodes on loopback, VN <- 01 <- 001; real units, a year of "
               "real-shaped events, real roll-ups\n"
            << "   units file: " << units << "\n   work dir:   " << work << "\n\n";
  DemoTree tree(find_rollcalld(), units, work);
  std::vector<Level> levels;
  if (!start_tree(tree, *map, levels)) return kExitCannotRun;
  for (Level& l : levels) {
    auto log = EventLog::open_reader(l.node.data_dir);
    if (!log.ok()) return report("demo", log.error().message());
    l.log = std::move(log).value();
  }
  const Level& district = levels.back();

  std::cout << "\n== submitting " << events << " at the district's node "
            << district.node.unit.str() << "\n";
  SubmitOptions submit;
  submit.node = district.node.address;
  submit.file = events;
  submit.quiet = true;
  const Clock::time_point submit_start = Clock::now();
  const int submitted = run_submit(submit);
  const Clock::time_point answered = Clock::now();
  const bool replicated = watch_replication(levels, answered - submit_start, answered);
  print_log(levels.front());
  print_rollups(*levels.front().log, *map, levels);
  print_quarters(*levels.front().log, district.node.unit, district.name);
  const bool identical = compare_levels(levels, *map);

  const Level& middle = levels[1];
  std::cout << "\n== rollcall status --data-dir " << middle.node.data_dir << " (the middle node, "
            << middle.name << ")\n";
  run_self({"status", "--data-dir", middle.node.data_dir});
  const bool verified = verify_all(levels);

  const bool stopped = stop_tree(tree);
  print_explore(levels);
  return submitted == kExitOk && replicated && identical && verified && stopped ? kExitOk
                                                                                : kExitProblem;
}

}  // namespace

void add_demo_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<DemoOptions>();
  auto* cmd = app.add_subcommand(
      "demo",
      "Start a tree of three rollcalld nodes on loopback, VN (national) <- 01 (Thành phố Hà Nội) "
      "<- 001 (Quận Ba Đình), each pushing its log to its parent. Submit a year of the events of "
      "Ba Đình's wards at 001, wait until VN holds them all, show VN's log and its roll-ups of "
      "wards, district, province and nation, check they are the figures 001 itself keeps, show "
      "01's status, verify every node, and stop the nodes cleanly, children first. The data dirs "
      "are kept.");
  cmd->add_option("--shared", o->shared_dir,
                  "the shared/ folder with data/ and examples/ (found by default)")
      ->type_name("DIR");
  cmd->add_option("--dir", o->work_dir,
                  "work dir for the nodes' data dirs (DIR/VN, DIR/01, DIR/001), logs and port "
                  "files (default: a new temp dir)")
      ->type_name("DIR");
  cmd->footer(
      "Exit codes: 0 every step succeeded; 1 a line was rejected, the events did not reach VN "
      "within 30 s, the levels' figures differ, a verify found differences or a node did not "
      "exit 0; 2 could not run (no shared/ data, a node did not start).");
  cmd->callback([o, &exit_code] { exit_code = run_demo(*o); });
}

}  // namespace rollcall::cli
