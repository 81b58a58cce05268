// Seeded simulations of replication through a real four-level tree (tests/support/
// replication_sim.h): drops, duplicates, reorders, cuts, crashes and isolations, then healing,
// then the invariants C1 (exactly once), C3 (roll-up), C4 (convergence) and C6 (verify).
//
// The main case is ten test cases over disjoint parts of its seeds (so that ctest -j2 runs two
// at once): seeds 1..500 by default, 50 a part. ROLLCALL_SIM_SEEDS=N spreads seeds 1..N over
// the ten parts instead (N=8: 0 or 1 seed a part), ROLLCALL_SIM_FIRST_SEED=F shifts them to
// F..F+N-1; ROLLCALL_SIM_SEED=N reruns only seed N (in every case run). A failure prints its
// seed, the simulator's state and a command that replays exactly that seed in that case.
#define CATCH_CONFIG_EXTERNAL_INTERFACES  // for the listener that prints replay commands
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "engine/content_hash.h"
#include "tests/support/replication_sim.h"
#include "tests/support/replication_sim_checks.h"
#include "tests/support/test_dirs.h"
#include "tests/support/test_env.h"

namespace rollcall::testing {
namespace {

constexpr int64_t kSecond = 1'000'000;

const UnitMap& map_2024() {
  static const UnitMap map = UnitMap::load_csv_file(units_2024()).value();
  return map;
}

// The seeds of a case: ROLLCALL_SIM_SEED alone, else first .. first + count - 1.
std::vector<uint64_t> seeds(uint64_t first, uint64_t count) {
  if (auto one = env_number("ROLLCALL_SIM_SEED")) return {*one};
  std::vector<uint64_t> out;
  for (uint64_t s = first; s < first + count; ++s) out.push_back(s);
  return out;
}

constexpr uint64_t kMainSeeds = 500;  // the main case's seeds in all, by default
constexpr uint64_t kMainParts = 10;   // one test case each

// Part `part` (0-based) of the main case's seeds: the range's share of first .. first + total - 1
// (ROLLCALL_SIM_FIRST_SEED, 1; ROLLCALL_SIM_SEEDS, 500), or ROLLCALL_SIM_SEED alone.
std::vector<uint64_t> main_part_seeds(uint64_t part) {
  if (auto one = env_number("ROLLCALL_SIM_SEED")) return {*one};
  const uint64_t total = env_number("ROLLCALL_SIM_SEEDS").value_or(kMainSeeds);
  const uint64_t first = env_number("ROLLCALL_SIM_FIRST_SEED").value_or(1);
  return seeds(first + total * part / kMainParts, total * (part + 1) / kMainParts - total * part / kMainParts);
}

// A shell command, run from the repo root, that reruns only `seed` in the running test case.
std::string replay_command(uint64_t seed) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  std::string binary = "build/tests/rollcall_testdata_tests";
  if (!ec && exe.parent_path().filename() == "tests")  // <repo>/<build dir>/tests/<binary>
    binary = (exe.parent_path().parent_path().filename() / "tests" / exe.filename()).string();
  else if (!ec)
    binary = exe.string();
  // Catch's test spec reads ',' '[' ']' '*' and '\\' as syntax: escaped, they match themselves
  // (and a backslash before them stays one inside the shell's double quotes).
  std::string name;
  for (char c : Catch::getResultCapture().getCurrentTestName()) {
    if (c == ',' || c == '[' || c == ']' || c == '*') name += '\\';
    name += c;
  }
  return "ROLLCALL_SIM_SEED=" + std::to_string(seed) + " " + binary + " \"" + name + "\"";
}

// The replay command of the seed running now ("" between seeds), printed by ReplayListener at
// the seed's first failed assertion: on stderr, in one line (Catch wraps its own messages).
struct SeedReplayState {
  std::string command;
  bool printed = false;
};
SeedReplayState& seed_replay() {
  static SeedReplayState state;
  return state;
}

// While it lives, a failure in the running test case is the seed's: it prints the seed's replay
// command. Kept while an exception unwinds, so that Catch's report of it still prints it.
class SeedReplay {
 public:
  explicit SeedReplay(uint64_t seed) { seed_replay() = SeedReplayState{replay_command(seed), false}; }
  ~SeedReplay() {
    if (std::uncaught_exceptions() == 0) seed_replay() = SeedReplayState{};
  }
  SeedReplay(const SeedReplay&) = delete;
  SeedReplay& operator=(const SeedReplay&) = delete;
};

class ReplayListener : public Catch::TestEventListenerBase {
 public:
  using TestEventListenerBase::TestEventListenerBase;
  void assertionStarting(const Catch::AssertionInfo&) override {}
  bool assertionEnded(const Catch::AssertionStats& stats) override {
    SeedReplayState& state = seed_replay();
    if (!stats.assertionResult.isOk() && !state.command.empty() && !state.printed) {
      std::cerr << "replication sim: a seed failed; replay it from the repo root with:\n"
                << state.command << std::endl;
      state.printed = true;
    }
    return true;
  }
  void testCaseEnded(const Catch::TestCaseStats&) override { seed_replay() = SeedReplayState{}; }
};
CATCH_REGISTER_LISTENER(ReplayListener)

// Every line submitted was accepted, and the driver saw no failure. True when so.
bool check_workload_accepted(const ReplicationSim& sim, const SimWorkload& workload) {
  bool ok = sim.rejections().empty() && sim.failures().empty();
  INFO(join_problems(sim.rejections()));
  CHECK(sim.rejections().empty());
  INFO(join_problems(sim.failures()));
  CHECK(sim.failures().empty());
  for (const auto& [unit, lines] : workload.lines) {
    CAPTURE(unit.str());
    CHECK(sim.accepted(unit) == lines.size());
    ok = ok && sim.accepted(unit) == lines.size();
  }
  return ok;
}

// C1, C4, C3 and (when `verify`) C6. True when they hold.
bool check_invariants(ReplicationSim& sim, const SimTree& tree, bool verify) {
  const auto c1 = check_exactly_once(sim);
  INFO("C1:\n" << join_problems(c1));
  CHECK(c1.empty());
  const auto c4 = check_convergence(sim, tree);
  INFO("C4:\n" << join_problems(c4));
  CHECK(c4.empty());
  const auto c3 = check_rollup(sim, tree);
  INFO("C3:\n" << join_problems(c3));
  CHECK(c3.empty());
  bool ok = c1.empty() && c4.empty() && c3.empty();
  if (verify) {
    const auto c6 = check_projections(sim);
    INFO("C6:\n" << join_problems(c6));
    CHECK(c6.empty());
    ok = ok && c6.empty();
  }
  return ok;
}

std::string alerts_text(const ReplicationSim& sim) {
  std::string text;
  for (const SimAlert& a : sim.alerts()) text += "at " + a.node.str() + ": " + a.text + "\n";
  return text;
}

// One seed of the main case: submits at the communes and the district over a fault phase of
// 20..40 virtual seconds (with backups and restores from them among the faults), then healing
// with the faults off; C6 on every tenth seed. True when every check passed.
bool run_faulty_seed(uint64_t seed) {
  INFO("replication sim: seed " << seed);
  const SeedReplay replay(seed);
  CAPTURE(seed);
  const SimTree tree = SimTree::pick(map_2024());
  ReplicationSim sim(map_2024(), seed);
  tree.add_nodes(sim);
  const SimWorkload workload = make_workload(map_2024(), tree, seed, sim.random().engine(), 14, 25);
  const int64_t fault_phase = sim.random().between(20, 40) * kSecond;
  for (const auto& [unit, lines] : workload.lines)
    sim.schedule_submits(unit, lines, 0, fault_phase - 2 * kSecond);
  sim.run_for(fault_phase);
  const bool healed = sim.heal(120 * kSecond);
  INFO(sim.describe());
  INFO("not quiescent: " << sim.not_quiescent().value_or("-"));
  CHECK(healed);
  bool ok = check_workload_accepted(sim, workload);
  ok = check_invariants(sim, tree, seed % 10 == 1) && ok;
  // The only alerts: a node restored from an older backup taking its own events back.
  INFO(alerts_text(sim));
  size_t taken_back = 0;
  for (const SimAlert& a : sim.alerts()) taken_back += a.text.find("Taking those events back") != std::string::npos;
  CHECK(taken_back == sim.alerts().size());
  CHECK(taken_back <= 4 * sim.stats().restores);  // a take-back cut short is begun again
  if (env_number("ROLLCALL_SIM_VERBOSE"))
    WARN("seed " << seed << ": " << workload.total() << " lines\n" << sim.describe());
  return ok && healed && taken_back == sim.alerts().size() && taken_back <= 4 * sim.stats().restores;
}

// One part of the main case's seeds; at the end, the seeds that failed with their replay lines.
void run_main_part(uint64_t part) {
  const auto started = std::chrono::steady_clock::now();
  const std::vector<uint64_t> all = main_part_seeds(part);
  std::string failed;
  for (uint64_t seed : all)
    if (!run_faulty_seed(seed)) failed += "\n  seed " + std::to_string(seed) + ": " + replay_command(seed);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const std::string range =
      all.empty() ? "no seeds" : "seeds " + std::to_string(all.front()) + ".." + std::to_string(all.back());
  if (!failed.empty()) std::cerr << "replication sim: failed seeds of " << range << ":" << failed << std::endl;
  WARN("replication sim: " << range << " (" << all.size() << ") in " << seconds << " s");
}

}  // namespace

// The main case, in ten parts. Each part's name gives its seeds by default (ROLLCALL_SIM_SEEDS and
// ROLLCALL_SIM_FIRST_SEED move them: the part prints those it ran).
#define ROLLCALL_SIM_MAIN_PART(part, range)                                                          \
  TEST_CASE("replication sim: part " #part " of 10 (seeds " range " of the default 500) with drops " \
            "duplicates reorders cuts crashes isolations and restores from older backups converges " \
            "exactly once",                                                                          \
            "[replication][sim]") {                                                                  \
    run_main_part(part - 1);                                                                         \
  }

ROLLCALL_SIM_MAIN_PART(1, "1-50")
ROLLCALL_SIM_MAIN_PART(2, "51-100")
ROLLCALL_SIM_MAIN_PART(3, "101-150")
ROLLCALL_SIM_MAIN_PART(4, "151-200")
ROLLCALL_SIM_MAIN_PART(5, "201-250")
ROLLCALL_SIM_MAIN_PART(6, "251-300")
ROLLCALL_SIM_MAIN_PART(7, "301-350")
ROLLCALL_SIM_MAIN_PART(8, "351-400")
ROLLCALL_SIM_MAIN_PART(9, "401-450")
ROLLCALL_SIM_MAIN_PART(10, "451-500")

TEST_CASE("replication sim: a seed replays the same run", "[replication][sim]") {
  const uint64_t seed = env_number("ROLLCALL_SIM_SEED").value_or(7);
  auto run = [&] {
    const SimTree tree = SimTree::pick(map_2024());
    ReplicationSim sim(map_2024(), seed);
    tree.add_nodes(sim);
    const SimWorkload workload =
        make_workload(map_2024(), tree, seed, sim.random().engine(), 6, 10);
    for (const auto& [unit, lines] : workload.lines)
      sim.schedule_submits(unit, lines, 0, 15 * kSecond);
    sim.run_for(20 * kSecond);
    sim.heal(60 * kSecond);
    std::string trace = sim.describe();
    for (const UnitCode& unit : sim.units())
      trace += unit.str() + " " + std::to_string(sim.log(unit)->projection_digest().value()) + "\n";
    return trace;
  };
  CAPTURE(seed);
  const SeedReplay replay(seed);
  CHECK(run() == run());
}

TEST_CASE(
    "replication sim: a commune re-created while its parent is away, with other events, is refused "
    "as a fork",
    "[replication][sim]") {
  for (uint64_t seed : seeds(101, 3)) {
    INFO("replication sim: seed " << seed);
    const SeedReplay replay(seed);
    CAPTURE(seed);
    const bool fewer =
        GENERATE(true, false);  // the new log holds fewer / more events than the parent has
    CAPTURE(fewer);
    const SimTree tree = SimTree::pick(map_2024());
    ReplicationSim sim(map_2024(), seed);
    sim.options().faults = SimFaults{};
    tree.add_nodes(sim);
    const SimWorkload first = make_workload(map_2024(), tree, seed, sim.random().engine(), 4, 0);
    const auto& old_lines = first.lines.at(tree.commune_a);
    sim.schedule_submits(tree.commune_a, old_lines, 0, 3 * kSecond);
    sim.run_for(5 * kSecond);
    REQUIRE(sim.heal(60 * kSecond));
    REQUIRE(sim.alerts().empty());
    std::vector<std::string> problems;
    const auto old_events = origin_hashes(*sim.log(tree.commune_a), tree.commune_a, problems);
    REQUIRE(old_events.size() == old_lines.size());

    // The district is away long enough for the new log's submits to pass the start gate.
    sim.isolate(tree.district, 10 * kSecond);
    sim.recreate(tree.commune_a);
    const SimWorkload second =
        make_workload(map_2024(), tree, seed + 7, sim.random().engine(), fewer ? 4 : 10, 0);
    std::vector<std::string> new_lines = second.lines.at(tree.commune_a);
    if (fewer) new_lines.resize(old_lines.size() / 2);  // a prefix keeps must_follow
    REQUIRE(fewer == (new_lines.size() < old_lines.size()));
    sim.schedule_submits(tree.commune_a, new_lines, 4 * kSecond, 6 * kSecond);
    sim.run_for(20 * kSecond);
    INFO(sim.describe());
    INFO(alerts_text(sim));

    CHECK(sim.accepted(tree.commune_a) == old_lines.size() + new_lines.size());
    CHECK(sim.rejections().empty());
    // The commune sees the fork (the parent holds other events of its own origin) ...
    size_t at_child = 0, at_parent = 0;
    for (const SimAlert& a : sim.alerts()) {
      if (a.node == tree.commune_a && a.text.find("fork") != std::string::npos) ++at_child;
      if (a.node == tree.district && a.text.find("new log incarnation") != std::string::npos)
        ++at_parent;
    }
    CHECK(at_child >= 1);
    CHECK(at_parent == 1);  // once: the parent recorded the new incarnation
    // ... no ancestor holds a single event of the new log (they keep the old ones), and the
    // commune took none of the old ones.
    for (const UnitCode& holder : {tree.district, tree.province, tree.national}) {
      CAPTURE(holder.str());
      CHECK(origin_hashes(*sim.log(holder), tree.commune_a, problems) == old_events);
    }
    const auto now_held = origin_hashes(*sim.log(tree.commune_a), tree.commune_a, problems);
    CHECK(now_held.size() == new_lines.size());
    for (const auto& [seq, hash] : now_held)
      if (old_events.count(seq) != 0) CHECK(old_events.at(seq) != hash);
    CHECK(problems.empty());
  }
}

TEST_CASE(
    "replication sim: a fork relayed by a node that held less of that origin than its parent is "
    "refused, never merged",
    "[replication][sim]") {
  // Commune b's old log reached only the province (the district was away); b is re-created while
  // every parent is away and appends other events under the same seqs, more of them; then the
  // district (whose uplink session began when it held none of b) relays them to the province.
  for (uint64_t seed : seeds(301, 3)) {
    INFO("replication sim: seed " << seed);
    const SeedReplay replay(seed);
    CAPTURE(seed);
    const SimTree tree = SimTree::pick(map_2024());
    ReplicationSim sim(map_2024(), seed);
    sim.options().faults = SimFaults{};
    tree.add_nodes(sim);
    const UnitCode& b = tree.commune_b;
    const SimWorkload first = make_workload(map_2024(), tree, seed, sim.random().engine(), 4, 0);
    const SimWorkload second =
        make_workload(map_2024(), tree, seed + 7, sim.random().engine(), 10, 0);
    REQUIRE(second.lines.at(b).size() > first.lines.at(b).size());
    sim.start();
    sim.isolate(tree.district, 10 * kSecond);
    sim.schedule_submits(b, first.lines.at(b), 0, 5 * kSecond);
    sim.run_for(8 * kSecond);
    std::vector<std::string> problems;
    const auto old_events = origin_hashes(*sim.log(b), b, problems);
    REQUIRE(origin_hashes(*sim.log(tree.province), b, problems) == old_events);

    sim.isolate(tree.province, 6 * kSecond);  // back at 14 s, after the district (10 s)
    sim.recreate(b);
    sim.isolate(b, 9 * kSecond);  // back at 17 s: the district's uplink began without b's events
    sim.schedule_submits(b, second.lines.at(b), 3 * kSecond + 500'000, 4 * kSecond);
    sim.run_for(20 * kSecond);
    INFO(sim.describe());
    INFO(alerts_text(sim));
    CHECK(sim.accepted(b) == first.lines.at(b).size() + second.lines.at(b).size());
    // The province and VN keep the old events of b and take none of the new ones.
    for (const UnitCode& holder : {tree.province, tree.national}) {
      CAPTURE(holder.str());
      const auto held = origin_hashes(*sim.log(holder), b, problems);
      size_t foreign = 0;
      for (const auto& [seq, hash] : held)
        foreign += old_events.count(seq) == 0 || old_events.at(seq) != hash;
      CHECK(foreign == 0);
      CHECK(held.size() == old_events.size());
    }
    bool fork_seen = false;
    for (const SimAlert& a : sim.alerts())
      fork_seen = fork_seen || a.text.find("fork") != std::string::npos;
    CHECK(fork_seen);
    CHECK(problems.empty());
  }
}

TEST_CASE(
    "replication sim: a commune re-created empty takes its events back from its parent and goes on "
    "after them",
    "[replication][sim]") {
  for (uint64_t seed : seeds(151, 4)) {
    INFO("replication sim: seed " << seed);
    const SeedReplay replay(seed);
    CAPTURE(seed);
    const SimTree tree = SimTree::pick(map_2024());
    ReplicationSim sim(map_2024(), seed);
    tree.add_nodes(sim);
    const SimWorkload workload =
        make_workload(map_2024(), tree, seed, sim.random().engine(), 6, 12);
    const UnitCode& lost = seed % 2 == 0 ? tree.commune_a : tree.commune_b;  // b has two parents
    const auto& lines = workload.lines.at(lost);
    const std::vector<std::string> before(
        lines.begin(), lines.begin() + static_cast<std::ptrdiff_t>(lines.size() / 2));
    const std::vector<std::string> after(
        lines.begin() + static_cast<std::ptrdiff_t>(lines.size() / 2), lines.end());
    for (const auto& [unit, own] : workload.lines)
      if (unit != lost) sim.schedule_submits(unit, own, 0, 30 * kSecond);
    sim.schedule_submits(lost, before, 0, 8 * kSecond);
    sim.run_for(10 * kSecond);
    REQUIRE(sim.heal(60 * kSecond));  // every event of `before` is held by the parents
    // No isolation from here: a parent away for longer than the start gate would let the new
    // log append under seqs the parents hold (a fork, as designed), which is another case.
    sim.options().faults.isolate_per_s = 0;

    sim.recreate(lost);
    sim.schedule_submits(lost, after, 0, 15 * kSecond);  // they wait until the events are back
    sim.run_for(20 * kSecond);
    const bool healed = sim.heal(120 * kSecond);
    INFO(sim.describe());
    INFO("not quiescent: " << sim.not_quiescent().value_or("-"));
    CHECK(healed);
    INFO(join_problems(sim.rejections()));
    CHECK(sim.rejections().empty());
    CHECK(sim.accepted(lost) == lines.size());
    check_invariants(sim, tree, true);
    // The alerts: the commune took its events back, its parent(s) saw a new incarnation.
    INFO(alerts_text(sim));
    size_t taken_back = 0;
    for (const SimAlert& a : sim.alerts()) {
      CAPTURE(a.node.str(), a.text);
      if (a.node == lost) {
        CHECK(a.text.find("Taking those events back") != std::string::npos);
        ++taken_back;
      } else {
        CHECK(a.text.find("child " + lost.str()) != std::string::npos);
        CHECK(a.text.find("new log incarnation") != std::string::npos);
      }
    }
    CHECK(taken_back >= 1);
  }
}

TEST_CASE(
    "replication sim: a commune restored from an older backup takes back what it appended since "
    "and goes on after it",
    "[replication][sim]") {
  for (uint64_t seed : seeds(171, 4)) {
    INFO("replication sim: seed " << seed);
    const SeedReplay replay(seed);
    CAPTURE(seed);
    const SimTree tree = SimTree::pick(map_2024());
    ReplicationSim sim(map_2024(), seed);
    sim.options().faults.isolate_per_s = 0;  // as in the re-created case: no parent away for long
    sim.options().faults.restore_per_s = 0;  // this backup and restore only
    sim.options().faults.backup_per_s = 0;
    tree.add_nodes(sim);
    const SimWorkload workload = make_workload(map_2024(), tree, seed, sim.random().engine(), 6, 12);
    const UnitCode& restored = seed % 2 == 0 ? tree.commune_a : tree.commune_b;  // b has two parents
    const auto& lines = workload.lines.at(restored);
    const auto part = [&](size_t from, size_t to) {
      return std::vector<std::string>(lines.begin() + static_cast<std::ptrdiff_t>(lines.size() * from / 3),
                                      lines.begin() + static_cast<std::ptrdiff_t>(lines.size() * to / 3));
    };
    for (const auto& [unit, own] : workload.lines)
      if (unit != restored) sim.schedule_submits(unit, own, 0, 30 * kSecond);
    sim.schedule_submits(restored, part(0, 1), 0, 4 * kSecond);
    sim.run_for(5 * kSecond);
    REQUIRE(sim.heal(60 * kSecond));
    sim.backup(restored);  // last week's backup
    const uint64_t at_backup = sim.log(restored)->next_own_seq() - 1;
    sim.schedule_submits(restored, part(1, 2), 0, 4 * kSecond);
    sim.run_for(5 * kSecond);
    REQUIRE(sim.heal(60 * kSecond));  // every parent holds what the commune appended since
    const uint64_t before_restore = sim.log(restored)->next_own_seq() - 1;
    REQUIRE(before_restore > at_backup);

    REQUIRE(sim.restore(restored));
    CHECK(sim.log(restored)->next_own_seq() == at_backup + 1);  // the backup's log
    sim.schedule_submits(restored, part(2, 3), 0, 10 * kSecond);  // they wait until the events are back
    sim.run_for(15 * kSecond);
    const bool healed = sim.heal(120 * kSecond);
    INFO(sim.describe());
    INFO("not quiescent: " << sim.not_quiescent().value_or("-"));
    CHECK(healed);
    check_workload_accepted(sim, workload);
    check_invariants(sim, tree, true);
    // The restored commune said it took its events back, and nothing else went wrong.
    INFO(alerts_text(sim));
    size_t taken_back = 0;
    for (const SimAlert& a : sim.alerts()) {
      CAPTURE(a.node.str(), a.text);
      CHECK(a.node == restored);
      taken_back += a.text.find("Taking those events back") != std::string::npos;
    }
    CHECK(taken_back == sim.alerts().size());
    // The first take-back starts where the backup ends (a later one, after a session cut short
    // by a fault, where the first stopped).
    REQUIRE(!sim.alerts().empty());
    CHECK(sim.alerts()[0].text.find("but this log holds only " + std::to_string(at_backup) + ":") !=
          std::string::npos);
    CHECK(sim.log(restored)->forks().value().empty());
  }
}

TEST_CASE(
    "replication sim: a commune restored from a backup while its parent is away forks: found "
    "with its first differing seq, recorded at both ends, and neither side loses an event",
    "[replication][sim]") {
  for (uint64_t seed : seeds(181, 2)) {
    const bool fewer = GENERATE(true, false);  // the restored log ends below / above the parent's
    INFO("replication sim: seed " << seed);
    const SeedReplay replay(seed);
    CAPTURE(seed, fewer);
    const SimTree tree = SimTree::pick(map_2024());
    ReplicationSim sim(map_2024(), seed);
    sim.options().faults = SimFaults{};
    tree.add_nodes(sim);
    const UnitCode& a = tree.commune_a;  // one parent: the district
    const SimWorkload workload = make_workload(map_2024(), tree, seed, sim.random().engine(), 4, 0);
    const auto& lines = workload.lines.at(a);
    const size_t half = lines.size() / 2;
    sim.schedule_submits(a, std::vector<std::string>(lines.begin(), lines.begin() + static_cast<std::ptrdiff_t>(half)), 0,
                         2 * kSecond);
    sim.run_for(3 * kSecond);
    REQUIRE(sim.heal(60 * kSecond));
    sim.backup(a);
    const uint64_t at_backup = sim.log(a)->next_own_seq() - 1;
    sim.schedule_submits(a, std::vector<std::string>(lines.begin() + static_cast<std::ptrdiff_t>(half), lines.end()),
                         0, 2 * kSecond);
    sim.run_for(3 * kSecond);
    REQUIRE(sim.heal(60 * kSecond));
    std::vector<std::string> problems;
    const auto held_above = origin_hashes(*sim.log(tree.district), a, problems);
    REQUIRE(held_above.size() > at_backup);

    // The district is away while the restored commune's clients give up waiting (3 s) and
    // submit: new events under seqs the district already holds.
    sim.isolate(tree.district, 10 * kSecond);
    REQUIRE(sim.restore(a, /*clients_wait_for_parent=*/false));
    const size_t extra = fewer ? 1 : held_above.size() - at_backup + 3;
    std::vector<std::string> reports;
    for (size_t i = 0; i < extra; ++i)
      reports.push_back(R"({"unit":")" + a.str() + R"(","effectiveDate":"2024-09-0)" + std::to_string(1 + i % 9) +
                        R"(","activityReported":{"kind":"forums","count":1,"participants":)" + std::to_string(i + 1) +
                        "}}");
    sim.schedule_submits(a, reports, 4 * kSecond, 5 * kSecond);
    sim.run_for(20 * kSecond);
    INFO(sim.describe());
    INFO(alerts_text(sim));
    CHECK(sim.rejections().empty());

    // Found at the first seq the two histories differ, at both ends of the link.
    const uint64_t first = at_backup + 1;
    bool alerted = false;
    for (const SimAlert& alert : sim.alerts())
      alerted = alerted || (alert.node == a && alert.text.find("fork: origin " + a.str()) != std::string::npos &&
                            alert.text.find("from seq " + std::to_string(first) + " on") != std::string::npos);
    CHECK(alerted);
    const auto child_forks = sim.log(a)->forks().value();
    REQUIRE(child_forks.size() == 1);
    CHECK(child_forks[0].origin == a);
    CHECK(child_forks[0].peer == tree.district);
    CHECK(child_forks[0].first_seq == first);
    const auto parent_forks = sim.log(tree.district)->forks().value();
    REQUIRE(parent_forks.size() == 1);
    CHECK(parent_forks[0].peer == a);
    CHECK(parent_forks[0].first_seq == first);
    // Nothing merged, nothing lost: every ancestor keeps what it had, the commune keeps the
    // backup's events and its new ones.
    for (const UnitCode& holder : {tree.district, tree.province, tree.national}) {
      CAPTURE(holder.str());
      CHECK(origin_hashes(*sim.log(holder), a, problems) == held_above);
    }
    const auto at_commune = origin_hashes(*sim.log(a), a, problems);
    CHECK(at_commune.size() == at_backup + extra);
    for (uint64_t seq = 1; seq <= at_backup; ++seq) CHECK(at_commune.at(seq) == held_above.at(seq));
    CHECK(at_commune.at(first) != held_above.at(first));
    CHECK(problems.empty());
  }
}

TEST_CASE("replication sim: a parent re-created empty is refilled by its children",
          "[replication][sim]") {
  for (uint64_t seed : seeds(201, 4)) {
    INFO("replication sim: seed " << seed);
    const SeedReplay replay(seed);
    CAPTURE(seed);
    const SimTree tree = SimTree::pick(map_2024());
    ReplicationSim sim(map_2024(), seed);
    // No restores from older backups here: each would add its own take-back alert to the one
    // this case counts (seed 203 drew two).
    sim.options().faults.restore_per_s = 0;
    sim.options().faults.backup_per_s = 0;
    tree.add_nodes(sim);
    const SimWorkload workload =
        make_workload(map_2024(), tree, seed, sim.random().engine(), 6, 12);
    for (const auto& [unit, lines] : workload.lines)
      sim.schedule_submits(unit, lines, 0, 20 * kSecond);
    sim.run_for(10 * kSecond);
    sim.recreate(tree.province);  // half the submits done, the rest to come
    sim.run_for(15 * kSecond);
    const bool healed = sim.heal(120 * kSecond);
    INFO(sim.describe());
    INFO("not quiescent: " << sim.not_quiescent().value_or("-"));
    CHECK(healed);
    check_workload_accepted(sim, workload);
    check_invariants(sim, tree, true);
    // The only alert: VN saw its child come back with a new incarnation.
    INFO(alerts_text(sim));
    REQUIRE(sim.alerts().size() == 1);
    CHECK(sim.alerts()[0].node == tree.national);
    CHECK(sim.alerts()[0].text.find("child " + tree.province.str()) != std::string::npos);
  }
}

}  // namespace rollcall::testing
