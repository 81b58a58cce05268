// Chaos on a 4-level tree of real rollcalld processes on loopback: wards 00001 and 00004 ->
// district 001 -> city 01 -> VN, every one of the four links through a LinkProxy. While both
// wards take a generated year of submits (every line with a requestId, resent after any lost
// answer), a seeded schedule of overlapping faults runs: delays, throttles, blackholes, dropped
// and reset connections, cuts, and kill -9 of any node (wards included) with a restart. Then
// everything heals; the tree must converge within 30 s, and the history checker, over the
// clients' acknowledgements and every node's log, must find nothing lost, duplicated, out of
// order, altered or mis-tallied.
//
// ROLLCALL_CHAOS_SECONDS sets the faulty phase (20 s by default; scripts/extended.sh runs 600),
// ROLLCALL_CHAOS_SEED the schedule's seed (a failure prints both and the line that replays it).
//
// The crash loop (at the end) runs the same tree with healthy links through hundreds of kill -9
// cycles instead, and ends with the same checks.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "cli/link_proxy.h"
#include "engine/unit_map.h"
#include "tests/support/event_generator.h"
#include "tests/support/history_checker.h"
#include "tests/support/node_harness.h"
#include "tests/support/test_dirs.h"
#include "tests/support/test_env.h"
#include "tests/support/tree_checks.h"

using namespace rollcall;
using namespace rollcall::testing;
using rollcall::cli::LinkProxy;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

const UnitCode kWardA = UnitCode::trusted("00001");
const UnitCode kWardB = UnitCode::trusted("00004");
const UnitCode kDistrict = UnitCode::trusted("001");

const UnitMap& units() {
  static const UnitMap map = UnitMap::load_csv_file(units_2024()).value();
  return map;
}

// Each ward's generated lines (the ward's own events in an order its member rules accept), each
// with a requestId so that a resend after a lost answer appends nothing.
std::map<UnitCode, std::vector<std::string>> ward_lines(uint64_t seed, size_t members_per_unit) {
  GeneratorOptions options;
  options.seed = seed;
  options.root = kDistrict;
  options.max_leaf_units = 2;
  options.members_per_unit = members_per_unit;
  auto generated = generate_events(units(), options);
  std::map<UnitCode, std::vector<std::string>> lines;
  for (const UnitCode& ward : {kWardA, kWardB}) {
    auto ward_lines = origin_submit_lines(generated, ward);
    for (size_t i = 0; i < ward_lines.size(); ++i) {
      REQUIRE(ward_lines[i].starts_with("{"));
      REQUIRE(ward_lines[i].find("\"requestId\"") == std::string::npos);
      ward_lines[i].insert(1, "\"requestId\":\"chaos-" + ward.str() + "-" + std::to_string(i) + "\",");
    }
    lines[ward] = std::move(ward_lines);
  }
  return lines;
}

// A client of one ward: sends its lines 15 at a time, paced over `spread`; after a lost
// connection (the ward killed, the answer lost) it sends the same chunk again on a new one. Every
// answer is recorded as an Ack; a rejection is counted (there must be none).
struct WardClient {
  UnitCode ward;
  std::vector<std::string> lines;
  std::vector<Ack> acks{};
  size_t rejected = 0;
  size_t resends = 0;
  std::vector<std::string> rejections{};
  // When set, called before each chunk after the first with the lines sent so far: it waits
  // until the next may go (instead of the even pause over `spread`).
  std::function<void(size_t sent)> pace{};
  // Set when the test fails before the client is done: it stops at once.
  std::atomic<bool> abandoned{false};

  void run(const std::string& address, Clock::duration spread, Clock::time_point give_up) {
    const size_t chunks = (lines.size() + 14) / 15;
    const auto pause = spread / std::max<size_t>(chunks, 1);
    size_t next = 0;
    while (next < lines.size() && Clock::now() < give_up && !abandoned) {
      auto client = NodeClient::connect(address, 2s);
      if (!client.ok()) {
        std::this_thread::sleep_for(50ms);
        continue;
      }
      while (next < lines.size() && Clock::now() < give_up && !abandoned) {
        const size_t end = std::min(lines.size(), next + 15);
        std::vector<std::string> chunk(lines.begin() + static_cast<std::ptrdiff_t>(next),
                                       lines.begin() + static_cast<std::ptrdiff_t>(end));
        std::vector<LineOutcome> outcomes;
        try {
          outcomes = submit_lines(**client, chunk);
        } catch (const std::exception&) {  // the node closed the connection
        }
        if (outcomes.size() != chunk.size()) {  // the connection was lost: no answer, send again
          for (const auto& line : chunk) acks.push_back(Ack{ward, line, std::nullopt});
          ++resends;
          break;
        }
        for (size_t i = 0; i < chunk.size(); ++i) {
          if (outcomes[i].accepted) {
            acks.push_back(Ack{ward, chunk[i], OriginSeq::parse(outcomes[i].id).value()});
          } else {
            ++rejected;
            rejections.push_back(outcomes[i].message + ": " + chunk[i]);
          }
        }
        next = end;
        if (pace) pace(next);
        else std::this_thread::sleep_for(pause);
      }
    }
  }
};

// Abandons the clients when the test leaves its scope (a failed REQUIRE), so that joining
// their threads does not wait for them to give up. Declared after the threads.
struct AbandonClients {
  std::vector<WardClient*> clients;
  ~AbandonClients() {
    for (WardClient* c : clients) c->abandoned = true;
  }
};

struct ChaosTree {
  TempDir dir;
  std::unique_ptr<NodeProcess> top, city, district, ward_a, ward_b;
  // The links: ward A -> district, ward B -> district, district -> city, city -> VN.
  std::unique_ptr<LinkProxy> link_a, link_b, link_district, link_city;

  void start() {
    top = std::make_unique<NodeProcess>("VN", dir / "vn", units_2024());
    REQUIRE(top->start());
    link_city = std::make_unique<LinkProxy>(top->address());
    city = std::make_unique<NodeProcess>("01", dir / "city", units_2024(),
                                         std::vector<std::string>{"--parent", link_city->address()});
    REQUIRE(city->start());
    link_district = std::make_unique<LinkProxy>(city->address());
    district = std::make_unique<NodeProcess>("001", dir / "district", units_2024(),
                                             std::vector<std::string>{"--parent", link_district->address()});
    REQUIRE(district->start());
    link_a = std::make_unique<LinkProxy>(district->address());
    link_b = std::make_unique<LinkProxy>(district->address());
    ward_a = std::make_unique<NodeProcess>(kWardA.str(), dir / "ward_a", units_2024(),
                                           std::vector<std::string>{"--parent", link_a->address()});
    ward_b = std::make_unique<NodeProcess>(kWardB.str(), dir / "ward_b", units_2024(),
                                           std::vector<std::string>{"--parent", link_b->address()});
    REQUIRE(ward_a->start());
    REQUIRE(ward_b->start());
  }
  std::vector<LinkProxy*> links() { return {link_a.get(), link_b.get(), link_district.get(), link_city.get()}; }
  std::vector<NodeProcess*> nodes() { return {ward_a.get(), ward_b.get(), district.get(), city.get(), top.get()}; }
  std::string logs() {
    std::string out;
    const char* names[] = {"ward A", "ward B", "district", "city", "VN"};
    size_t i = 0;
    for (NodeProcess* node : nodes()) out += std::string("--- ") + names[i++] + " ---\n" + node->log();
    return out;
  }
};

// One fault of the schedule: when it starts, what it does, and (for the lasting ones) when it is
// undone.
struct Fault {
  Clock::duration at{};
  Clock::duration lasts{};
  std::string what;
  std::function<void()> start;
  std::function<void()> undo;  // empty: nothing to undo (a drop, a reset)
};

// The seeded schedule: a fault every 0.3 to 1.5 s, each on a link or a node, overlapping.
std::vector<Fault> schedule(ChaosTree& tree, uint64_t seed, std::chrono::seconds length) {
  std::mt19937_64 rng(seed);
  const auto between = [&rng](int low, int high) {
    return low + static_cast<int>(rng() % static_cast<uint64_t>(high - low + 1));
  };
  const char* link_names[] = {"link 00001->001", "link 00004->001", "link 001->01", "link 01->VN"};
  const char* node_names[] = {"ward 00001", "ward 00004", "district 001", "city 01", "VN"};
  std::vector<Fault> faults;
  for (auto at = std::chrono::milliseconds(between(200, 800)); at < length;
       at += std::chrono::milliseconds(between(300, 1500))) {
    Fault f;
    f.at = at;
    const int kind = between(0, 9);
    if (kind <= 6) {
      const size_t index = static_cast<size_t>(between(0, 3));
      LinkProxy* link = tree.links()[index];
      const std::string name = link_names[index];
      switch (kind) {
        case 0: {
          const auto delay = std::chrono::milliseconds(between(20, 300));
          f.what = name + " delayed " + std::to_string(delay.count()) + " ms";
          f.lasts = std::chrono::milliseconds(between(1000, 4000));
          f.start = [link, delay] { link->set_delay(delay); };
          f.undo = [link] { link->set_delay(0ms); };
          break;
        }
        case 1: {
          const uint64_t rate = static_cast<uint64_t>(between(2, 50)) * 1024;
          f.what = name + " throttled to " + std::to_string(rate / 1024) + " KiB/s";
          f.lasts = std::chrono::milliseconds(between(1000, 4000));
          f.start = [link, rate] { link->set_throttle(rate); };
          f.undo = [link] { link->set_throttle(0); };
          break;
        }
        case 2:
          f.what = name + " blackholed";
          f.lasts = std::chrono::milliseconds(between(1000, 8000));  // past the 5 s idle timeout or not
          f.start = [link] { link->set_blackhole(true); };
          f.undo = [link] { link->set_blackhole(false); };
          break;
        case 3:
          f.what = name + " connections dropped (FIN)";
          f.start = [link] { link->drop_connections(); };
          break;
        case 4:
          f.what = name + " connections reset (RST)";
          f.start = [link] { link->reset_connections(); };
          break;
        default:
          f.what = name + " cut";
          f.lasts = std::chrono::milliseconds(between(500, 3000));
          f.start = [link] { link->cut(); };
          f.undo = [link] { link->heal(); };
          break;
      }
    } else {
      const size_t index = static_cast<size_t>(between(0, 4));
      NodeProcess* node = tree.nodes()[index];
      f.what = std::string(node_names[index]) + " killed with SIGKILL";
      f.lasts = std::chrono::milliseconds(between(100, 1000));
      f.start = [node] {
        if (node->running()) node->kill9();
      };
      f.undo = [node] {
        if (!node->running()) REQUIRE(node->start());
      };
    }
    f.what = std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(at).count()) + " ms: " + f.what;
    if (f.undo)
      f.what += " for " + std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(f.lasts).count()) + " ms";
    faults.push_back(std::move(f));
  }
  return faults;
}

// Runs the schedule from now: starts and undoes in time order. Returns when the last is undone.
void run_schedule(std::vector<Fault>& faults) {
  const auto begin = Clock::now();
  std::multimap<Clock::duration, std::function<void()>> actions;
  for (auto& f : faults) {
    actions.emplace(f.at, f.start);
    if (f.undo) actions.emplace(f.at + f.lasts, f.undo);
  }
  for (auto& [at, action] : actions) {
    std::this_thread::sleep_until(begin + at);
    action();
  }
}

// After the faults, with the clients joined: none of their lines was rejected, and each got an
// answer in the end (after resends).
void check_clients(const WardClient& a, const WardClient& b) {
  INFO("resends: ward A " << a.resends << ", ward B " << b.resends);
  for (const auto& r : a.rejections) UNSCOPED_INFO("ward A rejected: " << r);
  for (const auto& r : b.rejections) UNSCOPED_INFO("ward B rejected: " << r);
  CHECK(a.rejected + b.rejected == 0);
  for (const WardClient* client : {&a, &b}) {
    const auto answered = std::count_if(client->acks.begin(), client->acks.end(), [](const Ack& ack) { return ack.id; });
    CHECK(static_cast<size_t>(answered) == client->lines.size());
  }
}

// What each ward holds now, acknowledged or not: what VN must come to hold.
std::map<UnitCode, uint64_t> wards_held(ChaosTree& tree) {
  return {{kWardA, watermark_of(tree.ward_a->data_dir(), kWardA)},
          {kWardB, watermark_of(tree.ward_b->data_dir(), kWardB)}};
}

// Stops every node (each must exit 0), then the history checker over the clients'
// acknowledgements and every node's log, and each node's projections against its log (C6).
void check_stopped_tree(ChaosTree& tree, const WardClient& a, const WardClient& b) {
  for (NodeProcess* node : tree.nodes()) CHECK(node->stop() == 0);
  std::vector<Ack> acks = a.acks;
  acks.insert(acks.end(), b.acks.begin(), b.acks.end());
  const std::vector<NodeDir> nodes = {{kWardA, tree.ward_a->data_dir()},
                                      {kWardB, tree.ward_b->data_dir()},
                                      {kDistrict, tree.district->data_dir()},
                                      {UnitCode::trusted("01"), tree.city->data_dir()},
                                      {UnitCode::trusted("VN"), tree.top->data_dir()}};
  const auto report = check_history(units(), acks, nodes);
  INFO(report.summary());
  CHECK(report.clean());
  CHECK(report.acks_checked == a.lines.size() + b.lines.size());
  for (const NodeDir& node : nodes) {
    auto log = open_log_reader(node.dir);
    TempDir scratch;
    auto verified = log->verify_projections(scratch.path(), nullptr);
    REQUIRE(verified.ok());
    CHECK(verified->differences == 0);
  }
}

}  // namespace

TEST_CASE("chaos: a 4-level tree under seeded link faults and kill -9 of every node converges within 30 s of "
          "healing, and the history checker finds nothing lost, duplicated, out of order or mis-tallied",
          "[integration][fault][chaos]") {
  const uint64_t seed = testing::env_number("ROLLCALL_CHAOS_SEED").value_or(20261203);
  const auto length = std::chrono::seconds(testing::env_number("ROLLCALL_CHAOS_SECONDS").value_or(20));
  const std::string replay = "ROLLCALL_CHAOS_SEED=" + std::to_string(seed) +
                             " ROLLCALL_CHAOS_SECONDS=" + std::to_string(length.count()) +
                             " build/tests/rollcall_node_tests \"chaos: *\"";
  INFO("chaos seed " << seed << ", " << length.count() << " s; replay the schedule with: " << replay);

  ChaosTree tree;
  tree.start();
  auto faults = schedule(tree, seed, length);
  // About 80 events a ward for each 10 s of chaos (324-365 for both wards in 20 s here).
  const auto lines = ward_lines(seed, std::max<size_t>(4, static_cast<size_t>(length.count())));
  WardClient client_a{kWardA, lines.at(kWardA)}, client_b{kWardB, lines.at(kWardB)};
  const auto give_up = Clock::now() + length + 90s;
  std::jthread submit_a([&] { client_a.run(tree.ward_a->address(), length, give_up); });
  std::jthread submit_b([&] { client_b.run(tree.ward_b->address(), length, give_up); });
  const AbandonClients abandon_on_failure{{&client_a, &client_b}};

  run_schedule(faults);
  // Healed: every fault undone; make sure of it.
  for (LinkProxy* link : tree.links()) {
    link->clear_faults();
    link->heal();
  }
  const auto healed = Clock::now();
  submit_a.join();
  submit_b.join();
  std::ostringstream what_happened;
  for (const auto& f : faults) what_happened << f.what << "\n";
  INFO("the schedule:\n" << what_happened.str());
  check_clients(client_a, client_b);

  // Everything each ward holds (acknowledged or not) must reach VN within 30 s of the heal.
  const std::map<UnitCode, uint64_t> held = wards_held(tree);
  const auto deadline = healed + 30s;
  const bool converged =
      wait_for_watermarks(tree.top->data_dir(), held,
                          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()) + 1ms);
  const double took = std::chrono::duration<double>(Clock::now() - healed).count();
  WARN("chaos seed " << seed << ": " << faults.size() << " faults in " << length.count() << " s, "
                     << held.at(kWardA) + held.at(kWardB) << " events, "
                     << client_a.resends + client_b.resends << " resends, VN converged " << took
                     << " s after healing");
  if (!converged) FAIL("VN did not hold every ward's events within 30 s of healing\n" << tree.logs());
  check_stopped_tree(tree, client_a, client_b);
}

// The crash loop: the same tree with healthy links, and one node after another killed with
// SIGKILL at a random moment -- while it takes submits, relays to its parent or serves its
// children, or while it is still opening its data dir and recovering -- and restarted at once,
// for ROLLCALL_CRASH_CYCLES cycles (200 by default) while both wards take a generated year with
// request ids. Then the tree must converge, the history checker must find nothing wrong and every
// node must verify clean. ROLLCALL_CRASH_SEED replays the victims and moments.
TEST_CASE("crash loop: hundreds of kill -9 of every node at random moments, under submits and while "
          "recovering, lose no acknowledged event and count none twice",
          "[integration][fault][crash]") {
  const uint64_t seed = testing::env_number("ROLLCALL_CRASH_SEED").value_or(20261204);
  const uint64_t cycles = testing::env_number("ROLLCALL_CRASH_CYCLES").value_or(200);
  const std::string replay = "ROLLCALL_CRASH_SEED=" + std::to_string(seed) +
                             " ROLLCALL_CRASH_CYCLES=" + std::to_string(cycles) +
                             " build/tests/rollcall_node_tests \"crash loop: *\"";
  INFO("crash loop seed " << seed << ", " << cycles << " cycles; replay with: " << replay);

  ChaosTree tree;
  tree.start();
  std::mt19937_64 rng(seed);
  const auto between = [&rng](int low, int high) {
    return low + static_cast<int>(rng() % static_cast<uint64_t>(high - low + 1));
  };
  // The submits are spread over the cycles: a ward sends its next chunk once the loop has
  // reached the cycle where its share of the lines so far falls (about 8 lines a ward a cycle).
  const auto lines = ward_lines(seed, std::max<size_t>(4, cycles / 2));
  WardClient client_a{kWardA, lines.at(kWardA)}, client_b{kWardB, lines.at(kWardB)};
  std::atomic<uint64_t> cycle_now{0};
  const auto give_up = Clock::now() + std::chrono::seconds(cycles) * 3 + 120s;
  for (WardClient* client : {&client_a, &client_b}) {
    client->pace = [&cycle_now, cycles, give_up, client, total = client->lines.size()](size_t sent) {
      while (cycle_now * total < sent * cycles && Clock::now() < give_up && !client->abandoned)
        std::this_thread::sleep_for(5ms);
    };
  }
  const auto spread = 0s;  // paced by the loop instead
  std::atomic<int> submitting{2};
  std::jthread submit_a([&] {
    client_a.run(tree.ward_a->address(), spread, give_up);
    --submitting;
  });
  std::jthread submit_b([&] {
    client_b.run(tree.ward_b->address(), spread, give_up);
    --submitting;
  });
  const AbandonClients abandon_on_failure{{&client_a, &client_b}};

  // Victims: the wards most (they take the submits), VN least.
  const char* names[] = {"ward 00001", "ward 00004", "district 001", "city 01", "VN"};
  const int weights[] = {30, 30, 20, 12, 8};
  uint64_t while_recovering = 0, while_running = 0, while_submitting = 0;
  std::ostringstream history;
  const auto began = Clock::now();
  for (uint64_t cycle = 0; cycle < cycles; ++cycle) {
    int pick = between(0, 99);
    size_t victim = 0;
    while (pick >= weights[victim]) pick -= weights[victim++];
    NodeProcess* node = tree.nodes()[victim];
    if (submitting > 0) ++while_submitting;
    if (between(0, 4) == 0) {
      // Killed again while it opens its data dir and recovers: 0-40 ms after it was spawned.
      const int after = between(0, 40);
      node->kill9();
      REQUIRE(node->launch());
      std::this_thread::sleep_for(std::chrono::milliseconds(after));
      node->kill9();
      ++while_recovering;
      if (cycle < 40) history << cycle << ": " << names[victim] << " killed " << after << " ms after spawn\n";
    } else {
      const int after = between(0, 200);
      std::this_thread::sleep_for(std::chrono::milliseconds(after));
      node->kill9();
      ++while_running;
      if (cycle < 40) history << cycle << ": " << names[victim] << " killed after " << after << " ms\n";
    }
    if (!node->start()) FAIL("cycle " << cycle << ": " << names[victim] << " did not restart\n" << node->log());
    ++cycle_now;
  }
  cycle_now = cycles;
  const double loop_seconds = std::chrono::duration<double>(Clock::now() - began).count();
  const auto healed = Clock::now();
  submit_a.join();
  submit_b.join();
  INFO("the first cycles:\n" << history.str());
  check_clients(client_a, client_b);
  // The load must really have run through the loop, or the cycles prove little.
  CHECK(while_submitting * 2 >= cycles);

  const std::map<UnitCode, uint64_t> held = wards_held(tree);
  const bool converged = wait_for_watermarks(tree.top->data_dir(), held, 30s);
  const double took = std::chrono::duration<double>(Clock::now() - healed).count();
  WARN("crash loop seed " << seed << ": " << cycles << " kill -9 cycles in " << loop_seconds << " s ("
                          << while_running << " of a running node, " << while_recovering
                          << " while recovering; " << while_submitting << " while the wards submitted), "
                          << held.at(kWardA) + held.at(kWardB) << " events, "
                          << client_a.resends + client_b.resends << " resends, VN converged " << took
                          << " s after the last cycle");
  if (!converged) FAIL("VN did not hold every ward's events within 30 s of the last cycle\n" << tree.logs());
  check_stopped_tree(tree, client_a, client_b);
}
