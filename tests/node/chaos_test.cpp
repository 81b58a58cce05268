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

uint64_t env_or(const char* name, uint64_t fallback) {
  const char* text = std::getenv(name);
  return text && *text ? std::strtoull(text, nullptr, 10) : fallback;
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

  void run(const std::string& address, Clock::duration spread, Clock::time_point give_up) {
    const size_t chunks = (lines.size() + 14) / 15;
    const auto pause = spread / std::max<size_t>(chunks, 1);
    size_t next = 0;
    while (next < lines.size() && Clock::now() < give_up) {
      auto client = NodeClient::connect(address, 2s);
      if (!client.ok()) {
        std::this_thread::sleep_for(50ms);
        continue;
      }
      while (next < lines.size() && Clock::now() < give_up) {
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
        std::this_thread::sleep_for(pause);
      }
    }
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

}  // namespace

TEST_CASE("chaos: a 4-level tree under seeded link faults and kill -9 of every node converges within 30 s of "
          "healing, and the history checker finds nothing lost, duplicated, out of order or mis-tallied",
          "[integration][fault][chaos]") {
  const uint64_t seed = env_or("ROLLCALL_CHAOS_SEED", 20261203);
  const auto length = std::chrono::seconds(env_or("ROLLCALL_CHAOS_SECONDS", 20));
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
  INFO("resends: ward A " << client_a.resends << ", ward B " << client_b.resends);
  for (const auto& r : client_a.rejections) UNSCOPED_INFO("ward A rejected: " << r);
  for (const auto& r : client_b.rejections) UNSCOPED_INFO("ward B rejected: " << r);
  CHECK(client_a.rejected + client_b.rejected == 0);
  for (WardClient* client : {&client_a, &client_b}) {
    const auto answered = std::count_if(client->acks.begin(), client->acks.end(), [](const Ack& a) { return a.id; });
    CHECK(static_cast<size_t>(answered) == client->lines.size());
  }

  // Everything each ward holds (acknowledged or not) must reach VN within 30 s of the heal.
  const std::map<UnitCode, uint64_t> held{{kWardA, watermark_of(tree.ward_a->data_dir(), kWardA)},
                                          {kWardB, watermark_of(tree.ward_b->data_dir(), kWardB)}};
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
  for (NodeProcess* node : tree.nodes()) CHECK(node->stop() == 0);

  std::vector<Ack> acks = client_a.acks;
  acks.insert(acks.end(), client_b.acks.begin(), client_b.acks.end());
  const std::vector<NodeDir> nodes = {{kWardA, tree.ward_a->data_dir()},
                                      {kWardB, tree.ward_b->data_dir()},
                                      {kDistrict, tree.district->data_dir()},
                                      {UnitCode::trusted("01"), tree.city->data_dir()},
                                      {UnitCode::trusted("VN"), tree.top->data_dir()}};
  const auto report = check_history(units(), acks, nodes);
  INFO(report.summary());
  CHECK(report.clean());
  CHECK(report.acks_checked == client_a.lines.size() + client_b.lines.size());
  // And each node's projections against its own log (C6).
  for (const NodeDir& node : nodes) {
    auto log = open_log_reader(node.dir);
    TempDir scratch;
    auto verified = log->verify_projections(scratch.path(), nullptr);
    REQUIRE(verified.ok());
    CHECK(verified->differences == 0);
  }
}
