// rollcall demo: a real tree of nodes on loopback with real units and a year of their events.
//
// VN <- 01 Thành phố Hà Nội <- districts 001 Quận Ba Đình and 002 Quận Hoàn Kiếm <- three wards
// of each, every ward's link to its district through a LinkProxy (cli/link_proxy.h). Each ward's
// node takes its own events (cli/demo_stream.h): the first half of the year, watched as it
// converges level by level; then, with one ward's link cut, the second half, showing that ward
// fall behind everywhere above it while the others go on (its transfers stay in transit); then
// the link returns and everything converges. At the end: the roll-ups at VN, a check that every
// ward's and district's figures are the same at every level as at its own node, the tree's
// status, a verify at every node and a clean stop, children first. Ctrl-C (or SIGTERM) at any
// moment stops every node, children first, and leaves nothing running.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <system_error>
#include <thread>

#include "cli/child_process.h"
#include "cli/commands.h"
#include "cli/demo_stream.h"
#include "cli/demo_tree.h"
#include "cli/link_proxy.h"
#include "report/text_table.h"
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

constexpr auto kConvergeTimeout = std::chrono::seconds(60);
constexpr int kYear = 2024;
const char* const kProvince = "01";
const char* const kDistricts[] = {"001", "002"};
constexpr size_t kWardsEach = 3;

std::atomic<bool> g_interrupted{false};

struct DemoOptions {
  std::string shared_dir;
  std::string work_dir;
  uint64_t seed = 2024;
  uint64_t hold_cut_s = 5;  // how long the cut link stays cut once the others converged
};

// One node of the tree: its process, a reader of its data dir, and (a ward) its link's proxy.
struct Node {
  DemoNode node;
  std::string name;
  std::unique_ptr<EventLog> log;
  std::unique_ptr<LinkProxy> link;  // wards only: between it and its district
  uint64_t submitted = 0;           // wards: its own events accepted
  std::string submitted_until;      // wards: the last effective date submitted
};

// The tree, top first: VN, the province, the districts, then the wards.
struct Tree {
  std::vector<Node> nodes;
  Node& top() { return nodes.front(); }
  std::vector<Node*> wards() {
    std::vector<Node*> out;
    for (Node& n : nodes)
      if (n.link) out.push_back(&n);
    return out;
  }
  Node* find(const UnitCode& unit) {
    for (Node& n : nodes)
      if (n.node.unit == unit) return &n;
    return nullptr;
  }
};

std::string find_shared_dir(const std::string& given) {
  std::vector<std::string> candidates;
  if (!given.empty())
    candidates = {given};  // an explicit --shared is the only place looked
  else
    candidates = {ROLLCALL_SHARED_DIR, "../shared", executable_dir() + "/../../../shared"};
  for (const auto& c : candidates) {
    std::error_code ec;
    if (fs::exists(fs::path(c) / "data" / "vn-units-2024.csv", ec)) return fs::canonical(c, ec).string();
  }
  return "";
}

// --dir (created when missing; it must be empty, as a second year submitted into the same data dirs
// would be taken as more events), else a new temp dir. The error names the problem.
Result<std::string> make_work_dir(const std::string& given) {
  if (!given.empty()) {
    std::error_code ec;
    if (fs::exists(given, ec) && !fs::is_empty(given, ec))
      return invalid_input("--dir " + given + " is not empty (an earlier demo?); give a new or empty dir");
    fs::create_directories(given, ec);
    if (ec) return Error(ErrorKind::kIo, "cannot make --dir " + given + ": " + ec.message());
    return given;
  }
  std::string tmpl = (fs::temp_directory_path() / "rollcall-demo-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) return Error(ErrorKind::kIo, "cannot make a temp work dir " + tmpl);
  return tmpl;
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

// Has every node's reader catch up with its node's newest writes.
void refresh_all(Tree& tree) {
  for (Node& n : tree.nodes)
    if (n.log) (void)n.log->refresh();  // a failed refresh keeps the reader's last view
}

// The seq of `origin` the node holds with no gap below it, as of its reader's last refresh.
uint64_t held_seq(Node& n, const UnitCode& origin) {
  if (!n.log) return 0;
  auto marks = n.log->watermarks();
  if (!marks.ok()) return 0;
  for (const Watermark& w : *marks)
    if (w.origin == origin) return w.seq;
  return 0;
}

// Starts every node, top first; each ward behind a proxy to its district.
bool start_tree(DemoTree& demo, const UnitMap& map, Tree& tree) {
  std::vector<std::pair<UnitCode, UnitCode>> plan = {{UnitCode::trusted("VN"), {}},
                                                     {UnitCode::trusted(kProvince), UnitCode::trusted("VN")}};
  for (const char* d : kDistricts) plan.emplace_back(UnitCode::trusted(d), UnitCode::trusted(kProvince));
  for (const char* d : kDistricts) {
    const auto& wards = map.children(UnitCode::trusted(d));
    for (size_t i = 0; i < kWardsEach && i < wards.size(); ++i) plan.emplace_back(wards[i], UnitCode::trusted(d));
  }
  tree.nodes.reserve(plan.size());
  for (const auto& [unit, parent] : plan) {
    if (g_interrupted) return false;
    std::string parent_address;
    std::unique_ptr<LinkProxy> link;
    if (!parent.empty()) {
      parent_address = tree.find(parent)->node.address;
      if (map.children(unit).empty()) {  // a ward: through a proxy that can cut the link
        try {
          link = std::make_unique<LinkProxy>(parent_address);
        } catch (const std::system_error& e) {
          report("demo", "cannot start the link proxy of " + unit.str() + ": " + e.what());
          return false;
        }
        parent_address = link->address();
      }
    }
    auto node = demo.start(unit, parent_address);
    if (!node.ok()) {
      report("demo", node.error().message());
      return false;
    }
    const Unit* u = map.find(unit);
    std::cout << "== started rollcalld for " << std::left << std::setw(5) << unit.str() << std::right << " "
              << u->name << " on " << node->address;
    if (!parent.empty())
      std::cout << ", parent " << parent.str() << (link ? " through link " + link->address() : "");
    std::cout << " (pid " << node->pid << ")" << std::endl;  // flushed: a watcher may act on it
    tree.nodes.push_back(Node{*node, u->name, nullptr, std::move(link), 0, ""});
  }
  for (Node& n : tree.nodes) {
    auto log = EventLog::open_reader(n.node.data_dir);
    if (!log.ok()) {
      report("demo", log.error().message());
      return false;
    }
    n.log = std::move(log).value();
  }
  return true;
}

// Runs and shows `rollcall status --tree` at the top node, with the demo's client certificate.
void show_status_tree(Tree& tree, const ClientCredentials& credentials) {
  const std::vector<std::string> args = {"status",   "--tree",           "--data-dir", tree.top().node.data_dir,
                                         "--tls-ca", credentials.tls.ca, "--tls-cert", credentials.tls.cert,
                                         "--tls-key", credentials.tls.key};
  std::cout << "\n== rollcall";
  for (const auto& arg : args) std::cout << " " << arg;
  std::cout << "\n";
  run_self(args);
}

// Submits each ward's lines dated up to `to` and not yet submitted at its node, through
// `rollcall submit`; false when a line was rejected. A ward's count of own events is then what
// its node holds of its own origin.
bool submit_until(Tree& tree, const std::map<UnitCode, std::vector<DemoLine>>& year, const std::string& to,
                  const std::string& work, const ClientCredentials& credentials) {
  bool all = true;
  size_t events = 0;
  for (Node* ward : tree.wards()) {
    const std::string file = work + "/" + ward->node.unit.str() + "-until-" + to + ".jsonl";
    size_t lines = 0;
    {
      std::ofstream out(file);
      for (const DemoLine& line : year.at(ward->node.unit))
        if (line.date > ward->submitted_until && line.date <= to) {
          out << line.json << "\n";
          ++lines;
        }
    }
    SubmitOptions submit;
    submit.node = ward->node.address;
    submit.file = file;
    submit.quiet = true;
    submit.credentials = credentials;
    all = run_submit(submit) == kExitOk && all;
    ward->submitted_until = to;
    (void)ward->log->refresh();
    ward->submitted = held_seq(*ward, ward->node.unit);
    events += lines;
  }
  std::cout << "   " << events << " events submitted at " << tree.wards().size() << " ward nodes\n";
  return all;
}

// How many of the wards' own events a node holds (of the wards below it).
uint64_t wards_events_held(Tree& tree, Node& at, const UnitMap& map) {
  uint64_t n = 0;
  for (Node* ward : tree.wards())
    if (map.in_subtree(ward->node.unit, at.node.unit)) n += held_seq(at, ward->node.unit);
  return n;
}
uint64_t wards_events_submitted(Tree& tree, Node& at, const UnitMap& map) {
  uint64_t n = 0;
  for (Node* ward : tree.wards())
    if (map.in_subtree(ward->node.unit, at.node.unit)) n += ward->submitted;
  return n;
}

// Waits until every level above the wards holds each ward's events, except `left_out`'s (a
// ward whose link is cut), printing a line a second of what each node holds. The time it took,
// or nullopt on timeout or Ctrl-C.
std::optional<Clock::duration> watch_convergence(Tree& tree, const UnitMap& map, const Node* left_out) {
  const auto start = Clock::now();
  auto next_line = start + std::chrono::seconds(1);
  for (;;) {
    refresh_all(tree);
    bool done = true;
    for (size_t i = 0; i < tree.nodes.size() && done; ++i) {
      Node& n = tree.nodes[i];
      if (n.link) continue;
      for (Node* ward : tree.wards())
        if (ward != left_out && map.in_subtree(ward->node.unit, n.node.unit) &&
            held_seq(n, ward->node.unit) < ward->submitted)
          done = false;
    }
    if (done) return Clock::now() - start;
    if (g_interrupted || Clock::now() - start > kConvergeTimeout) return std::nullopt;
    if (Clock::now() >= next_line) {
      std::cout << "   after " << seconds_text(Clock::now() - start) << ":";
      for (Node& n : tree.nodes)
        if (!n.link)
          std::cout << "  " << n.node.unit.str() << " " << wards_events_held(tree, n, map) << "/"
                    << wards_events_submitted(tree, n, map);
      std::cout << std::endl;
      next_line += std::chrono::seconds(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// Per ward: its own events, and how many of them each node above it holds.
void print_holdings(Tree& tree, const UnitMap& map) {
  std::vector<std::string> header = {"   ward", "name", "own events"};
  std::vector<Node*> above;
  for (Node& n : tree.nodes)
    if (!n.link) above.push_back(&n);
  for (auto it = above.rbegin(); it != above.rend(); ++it) header.push_back("at " + (*it)->node.unit.str());
  TextTable table(header);
  for (size_t c = 2; c < header.size(); ++c) table.align_right(c);
  for (Node* ward : tree.wards()) {
    std::vector<std::string> row = {"   " + ward->node.unit.str(), ward->name, std::to_string(ward->submitted)};
    for (auto it = above.rbegin(); it != above.rend(); ++it)
      row.push_back(map.in_subtree(ward->node.unit, (*it)->node.unit) ? std::to_string(held_seq(**it, ward->node.unit))
                                                                       : "");
    table.add(std::move(row));
  }
  table.print(std::cout);
}

// The year's figures of every unit of the tree, as `at` holds them.
void print_rollups(Node& at, Tree& tree, const std::string& title) {
  const DateRange year = parse_period(std::to_string(kYear)).value();
  const DateRange year_end = DateRange::as_of(Date::parse(std::to_string(kYear) + "-12-31").value());
  std::cout << "\n== " << title << " (rollcall tally --data-dir " << at.node.data_dir << " --unit U --period "
            << kYear << ")\n";
  TextTable table({"   unit", "name", "active", "admitted", "in", "out", "matured", "rated", "in transit", "reports"});
  for (size_t c = 2; c < 10; ++c) table.align_right(c);
  for (auto it = tree.nodes.rbegin(); it != tree.nodes.rend(); ++it) {
    const UnitCode& unit = it->node.unit;
    auto sums = at.log->tally(unit, year);
    auto level = at.log->tally(unit, year_end);
    auto transit = at.log->in_transit(unit);
    if (!sums.ok() || !level.ok() || !transit.ok()) continue;
    int64_t reports = 0, rated = 0;
    for (const auto& [name, value] : *sums) {
      if (name.starts_with("activity.") && name.ends_with(".reports")) reports += value;
      if (name.starts_with("members.rated.")) rated += value;
    }
    table.add({"   " + unit.str(), it->name, std::to_string(metric(*level, "members.active")),
               std::to_string(metric(*sums, "members.admitted")), std::to_string(metric(*sums, "members.transferredIn")),
               std::to_string(metric(*sums, "members.transferredOut")), std::to_string(metric(*sums, "members.matured")),
               std::to_string(rated), std::to_string(*transit), std::to_string(reports)});
  }
  table.print(std::cout);
}

// Every metric of `unit` for the year, each quarter and as of its end, keyed "PERIOD METRIC".
std::map<std::string, int64_t> figures(const EventLog& log, const UnitCode& unit) {
  std::map<std::string, int64_t> out;
  std::vector<std::pair<std::string, DateRange>> periods;
  for (const std::string p : {"", "-Q1", "-Q2", "-Q3", "-Q4"})
    periods.emplace_back(std::to_string(kYear) + p, parse_period(std::to_string(kYear) + p).value());
  periods.emplace_back("as-of-end", DateRange::as_of(Date::parse(std::to_string(kYear) + "-12-31").value()));
  for (const auto& [name, range] : periods) {
    auto sums = log.tally(unit, range);
    if (!sums.ok()) {
      out[name + " (unreadable: " + sums.error().message() + ")"] = 0;
      continue;
    }
    for (const auto& [metric_name, value] : *sums) out[name + " " + metric_name] = value;
  }
  return out;
}

// Each ward's and district's figures at every node above it against its own node's; true when
// identical everywhere.
bool compare_levels(Tree& tree, const UnitMap& map) {
  std::cout << "\n== the same figures at every level? every metric of each ward and district for " << kYear
            << ", its quarters and as of its end, at every node above it, against the unit's own node:\n";
  size_t compared = 0;
  std::vector<std::string> differences;
  for (Node& own : tree.nodes) {
    if (own.node.unit == tree.top().node.unit || own.node.unit.str() == kProvince) continue;
    const auto expected = figures(*own.log, own.node.unit);
    for (Node& above : tree.nodes) {
      if (&above == &own || !map.in_subtree(own.node.unit, above.node.unit)) continue;
      const auto got = figures(*above.log, own.node.unit);
      ++compared;
      if (got == expected) continue;
      for (const auto& [key, value] : expected) {
        auto it = got.find(key);
        if (it == got.end() || it->second != value)
          differences.push_back(own.node.unit.str() + " at " + above.node.unit.str() + ": " + key + " is " +
                                (it == got.end() ? "absent" : std::to_string(it->second)) + ", " +
                                std::to_string(value) + " at its own node");
      }
      for (const auto& [key, value] : got)
        if (!expected.count(key))
          differences.push_back(own.node.unit.str() + " at " + above.node.unit.str() + ": " + key + " is " +
                                std::to_string(value) + ", absent at its own node");
    }
  }
  if (differences.empty()) {
    std::cout << "   identical: " << compared << " unit and node pairs\n";
    return true;
  }
  for (size_t i = 0; i < differences.size() && i < 10; ++i) std::cout << "   " << differences[i] << "\n";
  std::cout << "   " << differences.size() << " differences\n";
  return false;
}

bool verify_all(Tree& tree) {
  std::cout << "\n== rollcall verify --data-dir DIR at every node\n";
  bool clean = true;
  for (Node& n : tree.nodes) {
    std::cout << "   " << std::left << std::setw(6) << n.node.unit.str() << std::right;
    clean = run_self({"verify", "--data-dir", n.node.data_dir}) == kExitOk && clean;
  }
  return clean;
}

bool stop_tree(DemoTree& demo) {
  std::cout << "\n== stopping the nodes with SIGTERM, children first:";
  bool clean = true;
  const char* separator = " ";
  for (const DemoNodeExit& e : demo.stop_all()) {
    std::cout << separator << e.unit.str() << " exit " << e.exit_code;
    separator = ", ";
    clean = clean && e.exit_code == 0;
  }
  std::cout << "\n";
  return clean;
}

void print_explore(Tree& tree) {
  const std::string self = executable_dir() + "/rollcall";
  const std::string& top = tree.top().node.data_dir;
  std::cout << "\n== the data dirs stay for you to explore, e.g.:\n"
            << "   " << self << " units --data-dir " << top << " --unit " << kProvince << "\n"
            << "   " << self << " tally --data-dir " << top << " --unit " << kDistricts[1] << " --period " << kYear << "-Q4\n"
            << "   " << self << " log tail --data-dir " << top << " --type memberTransferredIn\n"
            << "   " << self << " members --data-dir " << top << " --unit " << kDistricts[1] << " --subtree\n";
}

int interrupted(DemoTree& demo) {
  std::cout << "\n== interrupted";
  stop_tree(demo);
  return 130;
}

int run_demo(const DemoOptions& o) {
  const std::string shared = find_shared_dir(o.shared_dir);
  if (shared.empty())
    return report("demo", o.shared_dir.empty() ? "cannot find shared/data/vn-units-2024.csv; pass --shared DIR"
                                               : "no data/vn-units-2024.csv under --shared " + o.shared_dir);
  const std::string units = shared + "/data/vn-units-2024.csv";
  auto map = UnitMap::load_csv_file(units);
  if (!map.ok()) return report("demo", map.error().message());
  const auto made = make_work_dir(o.work_dir);
  if (!made.ok()) return report("demo", made.error().message());
  const std::string& work = *made;
  g_interrupted = false;
  std::signal(SIGINT, [](int) { g_interrupted = true; });
  std::signal(SIGTERM, [](int) { g_interrupted = true; });

  std::cout << "== rollcall demo: a tree of real units on loopback, VN <- 01 <- 001, 002 <- three wards each;\n"
            << "   a year of their events, a link cut and restored, roll-ups at every level (Ctrl-C stops it all)\n"
            << "   units file: " << units << "\n   work dir:   " << work
            << "\n   links:      mutual TLS 1.3, certificates made for this run in " << work << "/pki\n\n";
  DemoTree demo(find_rollcalld(), units, work);
  Tree tree;
  if (!start_tree(demo, *map, tree)) return g_interrupted ? interrupted(demo) : kExitCannotRun;
  std::vector<UnitCode> districts;
  for (const char* d : kDistricts) districts.push_back(UnitCode::trusted(d));
  const auto year = demo_year(*map, districts, kWardsEach, kYear, o.seed);
  const std::string y = std::to_string(kYear);
  bool ok = true;

  // 1. The first half of the year, at every ward; watched until every level holds it.
  std::cout << "\n== each ward's node takes its own events: its roster (admitted in earlier years) and January to June\n";
  ok = submit_until(tree, year, y + "-06-30", work, demo.client_credentials()) && ok;
  if (g_interrupted) return interrupted(demo);
  std::cout << "== replication: what each node holds of the wards' events, until every level has them all\n";
  auto took = watch_convergence(tree, *map, nullptr);
  if (g_interrupted) return interrupted(demo);
  std::cout << (took ? "   every level holds them all, " + seconds_text(*took) + " after the last submit\n"
                     : "   not converged within " + std::to_string(kConvergeTimeout.count()) + " s\n");
  ok = ok && took.has_value();
  print_rollups(tree.top(), tree, "roll-ups at VN after June");

  // 2. A ward's link is cut; the second half goes on everywhere.
  Node* cut = tree.find(map->children(districts[1]).front());
  std::cout << "\n== cutting the link from " << cut->node.unit.str() << " " << cut->name << " to its district "
            << districts[1].str() << "; July to December at every ward\n";
  std::cout << "   watch it on the status pages: " << tree.top().node.unit.str() << " at " << tree.top().node.status_page
            << ", district " << districts[1].str() << " at " << tree.find(districts[1])->node.status_page << std::endl;
  cut->link->cut();
  ok = submit_until(tree, year, y + "-12-31", work, demo.client_credentials()) && ok;
  if (g_interrupted) return interrupted(demo);
  took = watch_convergence(tree, *map, cut);
  if (g_interrupted) return interrupted(demo);
  std::cout << "   the other wards' events are everywhere" << (took ? " after " + seconds_text(*took) : " (not in time)")
            << "; " << cut->node.unit.str() << "'s wait at its own node:\n";
  print_holdings(tree, *map);
  print_rollups(tree.top(), tree,
                "roll-ups at VN with " + cut->node.unit.str() +
                    " cut off (its arrivals are missing: in transit counts transfers VN holds one half of)");
  show_status_tree(tree, demo.client_credentials());
  std::cout << "   holding the link cut " << o.hold_cut_s << " s more (--hold-cut)" << std::endl;
  for (uint64_t i = 0; i < o.hold_cut_s * 10 && !g_interrupted; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (g_interrupted) return interrupted(demo);

  // 3. The link returns.
  std::cout << "\n== the link from " << cut->node.unit.str() << " returns\n";
  cut->link->heal();
  took = watch_convergence(tree, *map, nullptr);
  if (g_interrupted) return interrupted(demo);
  std::cout << (took ? "   every level holds every event, " + seconds_text(*took) + " after the link returned\n"
                     : "   not converged within " + std::to_string(kConvergeTimeout.count()) + " s\n");
  ok = ok && took.has_value();
  print_holdings(tree, *map);
  print_rollups(tree.top(), tree, "roll-ups at VN for " + y);
  ok = compare_levels(tree, *map) && ok;
  show_status_tree(tree, demo.client_credentials());
  ok = verify_all(tree) && ok;
  if (g_interrupted) return interrupted(demo);
  ok = stop_tree(demo) && ok;
  print_explore(tree);
  return ok ? kExitOk : kExitProblem;
}

}  // namespace

void add_demo_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<DemoOptions>();
  auto* cmd = app.add_subcommand(
      "demo",
      "Start a tree of rollcalld nodes on loopback with real units: VN (national) <- 01 (Thành phố Hà Nội) <- "
      "001 (Quận Ba Đình) and 002 (Quận Hoàn Kiếm) <- three wards of each, every ward's link to its district "
      "through a proxy that can cut it. Each ward's node takes a generated year of its events (admissions, "
      "campaign reports, members transferred across the districts, maturing, year-end ratings): the first half "
      "watched as it converges level by level; then, with one ward's link cut, the second half, that ward "
      "falling behind; then the link returns and everything converges. Shows roll-ups at VN, checks every ward's "
      "and district's figures are the same at every level as at its own node, shows status --tree, verifies "
      "every node and stops them cleanly, children first. Ctrl-C stops every node at any moment. The data dirs "
      "are kept. Every node serves its status page (rollcalld --http); the top node's and the cut ward's "
      "district's addresses are printed before the cut.");
  cmd->add_option("--shared", o->shared_dir, "the shared/ folder with data/ (found by default)")->type_name("DIR");
  cmd->add_option("--dir", o->work_dir,
                  "work dir for the nodes' data dirs (DIR/UNIT), logs and port files; new or empty (default: a new "
                  "temp dir)")
      ->type_name("DIR");
  cmd->add_option("--seed", o->seed, "seed of the generated year (default 2024)");
  cmd->add_option("--hold-cut", o->hold_cut_s,
                  "seconds to keep the ward's link cut after the other wards converged, to look at the status "
                  "pages (every node serves one with --http; the demo prints the top node's and the cut "
                  "district's addresses) (default 5)")
      ->type_name("SECONDS");
  cmd->footer(
      "Exit codes: 0 every step succeeded; 1 a line was rejected, the tree did not converge within 60 s, the "
      "levels' figures differ, a verify found differences or a node did not exit 0; 2 could not run (no shared/ "
      "data, --dir not empty, a node did not start); 130 interrupted (every node stopped).");
  cmd->callback([o, &exit_code] { exit_code = run_demo(*o); });
}

}  // namespace rollcall::cli
