// Replication between real rollcalld processes on loopback: a tree of real units from
// ../shared/data (two wards of Ba Đình -> district 001 -> the city of Hà Nội 01 -> VN; the
// levels are the units file's), with the wards' links to the district through LinkProxies that
// cut and heal them, while both wards take submits and the district and the city are killed
// with SIGKILL and restarted. After healing: every accepted event is at every ancestor exactly
// once (C1), roll-ups add up (C3), every level's tally of each ward equals the ward's own (C4),
// and every node's projections verify against its log (C6).
#include <catch2/catch.hpp>

#include <atomic>
#include <random>
#include <thread>

#include "engine/unit_map.h"
#include "tests/support/event_generator.h"
#include "cli/link_proxy.h"
#include "cli/ports.h"
#include "tests/support/node_harness.h"
#include "tests/support/test_dirs.h"
#include "tests/support/tree_checks.h"

using namespace rollcall;
using namespace rollcall::testing;
using rollcall::cli::free_port_below_ephemeral;
using rollcall::cli::LinkProxy;
using namespace std::chrono_literals;

namespace {

const UnitCode kWardA = UnitCode::trusted("00001");
const UnitCode kWardB = UnitCode::trusted("00004");
const UnitCode kDistrict = UnitCode::trusted("001");
const UnitCode kCity = UnitCode::trusted("01");
const UnitCode kTop = UnitCode::trusted("VN");

const UnitMap& units() {
  static const UnitMap map = UnitMap::load_csv_file(units_2024()).value();
  return map;
}

// Each ward's lines: the generator's year for the district's first two wards, the ward's own
// events in generation order (which respects each member's history), ids rewritten for the ward.
std::map<UnitCode, std::vector<std::string>> ward_lines(uint64_t seed, size_t members_per_unit) {
  GeneratorOptions options;
  options.seed = seed;
  options.root = kDistrict;
  options.max_leaf_units = 2;
  options.members_per_unit = members_per_unit;
  auto generated = generate_events(units(), options);
  std::map<UnitCode, std::vector<std::string>> lines;
  for (const UnitCode& ward : {kWardA, kWardB}) lines[ward] = origin_submit_lines(generated, ward);
  return lines;
}

// Submits `lines` in small messages, reconnecting when the node is away; counts acceptances.
void submit_all(const std::string& address, const std::vector<std::string>& lines, std::atomic<uint64_t>& accepted,
                std::atomic<uint64_t>& rejected) {
  size_t next = 0;
  while (next < lines.size()) {
    auto client = NodeClient::connect(address, 2s);
    if (!client.ok()) {
      std::this_thread::sleep_for(50ms);
      continue;
    }
    while (next < lines.size()) {
      const size_t end = std::min(lines.size(), next + 15);
      std::vector<std::string> chunk(lines.begin() + static_cast<std::ptrdiff_t>(next),
                                     lines.begin() + static_cast<std::ptrdiff_t>(end));
      auto outcomes = submit_lines(**client, chunk);
      if (outcomes.size() != chunk.size()) break;  // connection lost: resend on a new one
      for (const auto& o : outcomes) (o.accepted ? accepted : rejected)++;
      next = end;
      std::this_thread::sleep_for(15ms);
    }
  }
}

struct Tree {
  TempDir dir;
  std::unique_ptr<NodeProcess> top, city, district, ward_a, ward_b;
  std::unique_ptr<LinkProxy> link_a, link_b;

  // With `city_fallback`, the wards' second parent is the city, directly.
  void start(bool city_fallback = false) {
    top = std::make_unique<NodeProcess>("VN", dir / "vn", units_2024());
    REQUIRE(top->start());
    city = std::make_unique<NodeProcess>("01", dir / "city", units_2024(),
                                         std::vector<std::string>{"--parent", top->address()});
    REQUIRE(city->start());
    district = std::make_unique<NodeProcess>("001", dir / "district", units_2024(),
                                             std::vector<std::string>{"--parent", city->address()});
    REQUIRE(district->start());
    link_a = std::make_unique<LinkProxy>(district->address());
    link_b = std::make_unique<LinkProxy>(district->address());
    std::vector<std::string> args_a = {"--parent", link_a->address()}, args_b = {"--parent", link_b->address()};
    if (city_fallback) {
      args_a.insert(args_a.end(), {"--parent", city->address()});
      args_b.insert(args_b.end(), {"--parent", city->address()});
    }
    ward_a = std::make_unique<NodeProcess>(kWardA.str(), dir / "ward_a", units_2024(), args_a);
    ward_b = std::make_unique<NodeProcess>(kWardB.str(), dir / "ward_b", units_2024(), args_b);
    REQUIRE(ward_a->start());
    REQUIRE(ward_b->start());
  }

  std::string logs() {
    return "--- ward A ---\n" + ward_a->log() + "--- ward B ---\n" + ward_b->log() + "--- district ---\n" +
           district->log() + "--- city ---\n" + city->log() + "--- top ---\n" + top->log();
  }
};

// C1, C3, C4 and C6 over the stopped tree, given how many events each ward accepted.
void check_converged(Tree& tree, uint64_t accepted_a, uint64_t accepted_b) {
  const std::map<UnitCode, uint64_t> expected{{kWardA, accepted_a}, {kWardB, accepted_b}};
  const std::map<UnitCode, std::string> origin_dirs{{kWardA, tree.ward_a->data_dir()},
                                                    {kWardB, tree.ward_b->data_dir()}};
  const auto own_a = all_time_tally(tree.ward_a->data_dir(), kWardA);
  const auto own_b = all_time_tally(tree.ward_b->data_dir(), kWardB);
  REQUIRE(!own_a.empty());
  for (const std::string& dir : {tree.district->data_dir(), tree.city->data_dir(), tree.top->data_dir()}) {
    INFO("node data dir " << dir);
    const auto problems = exactly_once_problems(dir, expected, origin_dirs);
    CHECK(problems.empty());
    for (const auto& p : problems) UNSCOPED_INFO(p);
    // C4: each level's tally of each ward equals the ward's own.
    CHECK(all_time_tally(dir, kWardA) == own_a);
    CHECK(all_time_tally(dir, kWardB) == own_b);
    // C3: the district is the sum of its wards (only these two have events).
    CHECK(all_time_tally(dir, kDistrict) == sum_tallies({own_a, own_b}));
    // C6
    auto log = open_log_reader(dir);
    TempDir scratch;
    auto report = log->verify_projections(scratch.path(), nullptr);
    REQUIRE(report.ok());
    CHECK(report->differences == 0);
  }
  CHECK(all_time_tally(tree.top->data_dir(), kTop) == sum_tallies({own_a, own_b}));
  CHECK(all_time_tally(tree.top->data_dir(), kCity) == sum_tallies({own_a, own_b}));
}

// Ward A's generated year, submitted and held by the district; how many events it accepted.
uint64_t submit_ward_a_year(Tree& tree) {
  std::atomic<uint64_t> accepted{0}, rejected{0};
  submit_all(tree.ward_a->address(), ward_lines(5, 4).at(kWardA), accepted, rejected);
  CHECK(rejected == 0);
  REQUIRE(wait_for_watermarks(tree.district->data_dir(), {{kWardA, accepted}}, 20s));
  return accepted;
}

}  // namespace

TEST_CASE("rollcalld: replication: a 4-level tree converges exactly once through kill -9 of the district and city and cut links",
          "[integration][fault][replication]") {
  for (const UnitCode& code : {kWardA, kWardB, kDistrict, kCity, kTop}) REQUIRE(units().contains(code));
  CHECK(units().find(kWardA)->parent == kDistrict);
  CHECK(units().find(kDistrict)->parent == kCity);
  CHECK(units().find(kCity)->parent == kTop);

  Tree tree;
  tree.start();
  const auto lines = ward_lines(7, 12);
  std::atomic<uint64_t> accepted_a{0}, accepted_b{0}, rejected{0};
  std::jthread submit_a([&] { submit_all(tree.ward_a->address(), lines.at(kWardA), accepted_a, rejected); });
  std::jthread submit_b([&] { submit_all(tree.ward_b->address(), lines.at(kWardB), accepted_b, rejected); });

  // Faults while the wards take submits: seeded, bounded, each healed before the next.
  std::mt19937_64 rng(20261125);
  const auto pause = [&](int low_ms, int high_ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(low_ms + static_cast<int>(rng() % static_cast<uint64_t>(high_ms - low_ms))));
  };
  for (int round = 0; round < 8; ++round) {
    pause(100, 300);
    switch (rng() % 4) {
      case 0:
        tree.district->kill9();
        pause(100, 500);
        REQUIRE(tree.district->start());
        break;
      case 1:
        tree.link_a->cut();
        pause(200, 700);
        tree.link_a->heal();
        break;
      case 2:
        tree.link_b->cut();
        tree.link_a->cut();
        pause(200, 700);
        tree.link_a->heal();
        tree.link_b->heal();
        break;
      default:
        tree.city->kill9();
        pause(100, 500);
        REQUIRE(tree.city->start());
        break;
    }
  }
  submit_a.join();
  submit_b.join();
  CHECK(rejected == 0);
  INFO("accepted: ward A " << accepted_a << ", ward B " << accepted_b);
  REQUIRE(accepted_a == lines.at(kWardA).size());
  REQUIRE(accepted_b == lines.at(kWardB).size());

  const bool converged = wait_for_watermarks(tree.top->data_dir(), {{kWardA, accepted_a}, {kWardB, accepted_b}}, 60s);
  if (!converged) FAIL("the top node did not receive every event within 60 s\n" << tree.logs());
  for (NodeProcess* node : {tree.ward_a.get(), tree.ward_b.get(), tree.district.get(), tree.city.get(), tree.top.get()})
    CHECK(node->stop() == 0);
  check_converged(tree, accepted_a, accepted_b);
}

TEST_CASE("rollcalld: replication: a ward fails over to its second parent and moves back, and a re-created district is refilled",
          "[integration][fault][replication]") {
  Tree tree;
  tree.start(/*city_fallback=*/true);
  const auto lines = ward_lines(11, 6);
  std::atomic<uint64_t> accepted_a{0}, accepted_b{0}, rejected{0};
  const auto& all_a = lines.at(kWardA);
  const size_t third = all_a.size() / 3;

  // 1. Through the district.
  submit_all(tree.ward_a->address(), {all_a.begin(), all_a.begin() + static_cast<std::ptrdiff_t>(third)}, accepted_a, rejected);
  REQUIRE(wait_for_watermarks(tree.city->data_dir(), {{kWardA, accepted_a}}, 20s));
  // 2. The link to the district is cut: the ward goes to the city directly.
  tree.link_a->cut();
  submit_all(tree.ward_a->address(), {all_a.begin() + static_cast<std::ptrdiff_t>(third), all_a.begin() + static_cast<std::ptrdiff_t>(2 * third)},
             accepted_a, rejected);
  if (!wait_for_watermarks(tree.top->data_dir(), {{kWardA, accepted_a}}, 20s)) FAIL(tree.logs());
  CHECK(watermark_of(tree.district->data_dir(), kWardA) < accepted_a);
  // 3. The link returns: the ward moves back to the district, which catches up.
  tree.link_a->heal();
  submit_all(tree.ward_a->address(), {all_a.begin() + static_cast<std::ptrdiff_t>(2 * third), all_a.end()}, accepted_a, rejected);
  if (!wait_for_watermarks(tree.district->data_dir(), {{kWardA, accepted_a}}, 20s)) FAIL(tree.logs());
  std::this_thread::sleep_for(300ms);
  CHECK(tree.ward_a->log().find("moving back to parent " + tree.link_a->address()) != std::string::npos);

  // 4. The district's data dir is lost: it is re-created empty and refilled by its wards.
  submit_all(tree.ward_b->address(), lines.at(kWardB), accepted_b, rejected);
  REQUIRE(wait_for_watermarks(tree.top->data_dir(), {{kWardA, accepted_a}, {kWardB, accepted_b}}, 20s));
  tree.district->kill9();
  std::filesystem::remove_all(tree.district->data_dir());
  REQUIRE(tree.district->start());
  if (!wait_for_watermarks(tree.district->data_dir(), {{kWardA, accepted_a}, {kWardB, accepted_b}}, 30s)) FAIL(tree.logs());
  CHECK(rejected == 0);
  for (NodeProcess* node : {tree.ward_a.get(), tree.ward_b.get(), tree.district.get(), tree.city.get(), tree.top.get()})
    CHECK(node->stop() == 0);
  check_converged(tree, accepted_a, accepted_b);
}

TEST_CASE("rollcalld: replication: a ward whose data dir was re-created takes its events back before taking submits",
          "[integration][fault][replication]") {
  Tree tree;
  tree.start();
  std::atomic<uint64_t> rejected{0};
  const uint64_t before = submit_ward_a_year(tree);
  const auto own_before = all_time_tally(tree.ward_a->data_dir(), kWardA);

  // The ward's disk is replaced: an empty data dir for the same unit. It takes its events back
  // from the district before it numbers a new one.
  tree.ward_a->kill9();
  std::filesystem::remove_all(tree.ward_a->data_dir());
  REQUIRE(tree.ward_a->start());
  auto client = NodeClient::connect(tree.ward_a->address(), 5s);
  REQUIRE(client.ok());
  // Submits wait for the district's answer, then are refused while the ward takes its events
  // back ("unavailable": retry), then land after them.
  std::vector<LineOutcome> outcomes;
  int refused = 0;
  for (int attempt = 0; attempt < 100; ++attempt) {
    outcomes = submit_lines(**client, {R"({"unit":"00001","effectiveDate":"2024-06-01","activityReported":{"kind":"forums","count":1,"participants":30}})"});
    REQUIRE(outcomes.size() == 1);
    if (outcomes[0].accepted || outcomes[0].code != wire::RejectCode::UNAVAILABLE) break;
    CHECK(outcomes[0].message.find("taking back") != std::string::npos);
    ++refused;
    std::this_thread::sleep_for(20ms);
  }
  INFO(tree.logs() << "\nrefused while taking back: " << refused);
  REQUIRE(outcomes[0].accepted);
  CHECK(outcomes[0].id == "00001:" + std::to_string(before + 1));
  CHECK(tree.district->log().find("came back with a new log incarnation") != std::string::npos);
  CHECK(tree.ward_a->log().find("but this log holds only 0") != std::string::npos);
  REQUIRE(wait_for_watermarks(tree.top->data_dir(), {{kWardA, before + 1}}, 20s));
  for (NodeProcess* node : {tree.ward_a.get(), tree.ward_b.get(), tree.district.get(), tree.city.get(), tree.top.get()})
    CHECK(node->stop() == 0);
  // The ward's own tally is what it was, plus the report; every level agrees.
  auto own_after = all_time_tally(tree.ward_a->data_dir(), kWardA);
  const int64_t forums_before = own_before.count("activity.forums.count") ? own_before.at("activity.forums.count") : 0;
  CHECK(own_after["activity.forums.count"] == forums_before + 1);
  check_converged(tree, before + 1, 0);
}

TEST_CASE("rollcalld: replication: a ward restored from a copy of its data dir taken after 40 of its 100 events takes the 60 back and goes on at 101",
          "[integration][fault][replication]") {
  Tree tree;
  tree.start();
  // Line i (from 1) of the ward: an admission every third line, else an activity report.
  const auto line = [](int i) {
    if (i % 3 == 0)
      return R"({"unit":"00001","effectiveDate":"2024-02-01","memberAdmitted":{"memberId":"00001-b)" +
             std::to_string(i) + R"(","fullName":"Vũ Thị Hoa","birthDate":"2003-01-09"}})";
    return R"({"unit":"00001","effectiveDate":"2024-03-01","activityReported":{"kind":"eidLevel2","count":)" +
           std::to_string(i) + R"(,"participants":2}})";
  };
  const auto lines = [&](int from, int to) {
    std::vector<std::string> out;
    for (int i = from; i <= to; ++i) out.push_back(line(i));
    return out;
  };
  std::atomic<uint64_t> accepted{0}, rejected{0};
  submit_all(tree.ward_a->address(), lines(1, 40), accepted, rejected);
  REQUIRE(wait_for_watermarks(tree.district->data_dir(), {{kWardA, 40}}, 20s));
  // The operator's copy of the ward's data dir, taken with the node stopped.
  REQUIRE(tree.ward_a->stop() == 0);
  const std::string copy = tree.dir / "ward_a_after_40";
  std::filesystem::copy(tree.ward_a->data_dir(), copy, std::filesystem::copy_options::recursive);
  REQUIRE(tree.ward_a->start());
  submit_all(tree.ward_a->address(), lines(41, 100), accepted, rejected);
  REQUIRE(accepted == 100);
  REQUIRE(rejected == 0);
  REQUIRE(wait_for_watermarks(tree.top->data_dir(), {{kWardA, 100}}, 20s));
  const auto own_before = all_time_tally(tree.ward_a->data_dir(), kWardA);

  // The disk is replaced by the copy: the ward's log ends at 40 again.
  tree.ward_a->kill9();
  std::filesystem::remove_all(tree.ward_a->data_dir());
  std::filesystem::copy(copy, tree.ward_a->data_dir(), std::filesystem::copy_options::recursive);
  REQUIRE(watermark_of(tree.ward_a->data_dir(), kWardA) == 40);
  REQUIRE(tree.ward_a->start());
  auto client = NodeClient::connect(tree.ward_a->address(), 5s);
  REQUIRE(client.ok());
  std::vector<LineOutcome> outcomes;
  std::string refusal;
  for (int attempt = 0; attempt < 200; ++attempt) {
    outcomes = submit_lines(**client, {line(101)});
    REQUIRE(outcomes.size() == 1);
    if (outcomes[0].accepted || outcomes[0].code != wire::RejectCode::UNAVAILABLE) break;
    refusal = outcomes[0].message;
    std::this_thread::sleep_for(10ms);
  }
  INFO(tree.logs());
  REQUIRE(outcomes[0].accepted);
  CHECK(outcomes[0].id == "00001:101");  // no seq up to 100 is given out again
  // A submit refused meanwhile named the missing range.
  INFO("refused while taking back: " << (refusal.empty() ? "never" : refusal));
  if (!refusal.empty()) CHECK(refusal.find("taking back seqs 41..100 of its own origin 00001") != std::string::npos);
  CHECK(tree.ward_a->log().find("holds 100 events of this node's own origin 00001 but this log holds only 40") !=
        std::string::npos);
  REQUIRE(wait_for_watermarks(tree.top->data_dir(), {{kWardA, 101}}, 20s));
  for (NodeProcess* node : {tree.ward_a.get(), tree.ward_b.get(), tree.district.get(), tree.city.get(), tree.top.get()})
    CHECK(node->stop() == 0);
  // The ward holds its 60 events again, with the content they had, and every level each once.
  auto own_after = all_time_tally(tree.ward_a->data_dir(), kWardA);
  own_after["activity.eidLevel2.count"] -= 101;
  own_after["activity.eidLevel2.participants"] -= 2;
  own_after["activity.eidLevel2.reports"] -= 1;
  CHECK(sum_tallies({own_after}) == own_before);
  CHECK(open_log_reader(tree.ward_a->data_dir())->forks().value().empty());
  check_converged(tree, 101, 0);
}

TEST_CASE("rollcalld: replication: a re-created ward that took submits while its parent was away is a fork, reported and never merged",
          "[integration][fault][replication]") {
  Tree tree;
  tree.start();
  std::atomic<uint64_t> rejected{0};
  const uint64_t before = submit_ward_a_year(tree);

  // Re-created while its link is cut: after the startup wait it takes a submit as seq 1.
  tree.link_a->cut();
  tree.ward_a->kill9();
  std::filesystem::remove_all(tree.ward_a->data_dir());
  REQUIRE(tree.ward_a->start());
  std::atomic<uint64_t> accepted_again{0};
  submit_all(tree.ward_a->address(),
             {R"({"unit":"00001","effectiveDate":"2024-06-01","activityReported":{"kind":"forums","count":1,"participants":30}})"},
             accepted_again, rejected);
  REQUIRE(accepted_again == 1);
  tree.link_a->heal();
  std::this_thread::sleep_for(1500ms);

  // Both sides say so loudly; the district keeps what it had: seq 1 is still the old event.
  INFO(tree.logs());
  CHECK(tree.ward_a->log().find("ALERT: fork: origin 00001") != std::string::npos);
  CHECK(watermark_of(tree.district->data_dir(), kWardA) == before);
  auto district = open_log_reader(tree.district->data_dir());
  auto first = district->find(OriginSeq{kWardA, 1});
  REQUIRE(first.ok());
  REQUIRE(first->has_value());
  CHECK((*first)->event().which() != schema::Event::ACTIVITY_REPORTED);
  CHECK(watermark_of(tree.ward_a->data_dir(), kWardA) == 1);
  // Located at its first differing seq (1: the new log numbered from 1) and listed by status at
  // both ends, from the running nodes and from the data dirs alone once they are stopped.
  CHECK(tree.ward_a->log().find("parent 001 holds other events than this node from seq 1 on") != std::string::npos);
  for (bool running : {true, false}) {
    CAPTURE(running);
    if (!running)
      for (NodeProcess* node : {tree.ward_a.get(), tree.ward_b.get(), tree.district.get()}) CHECK(node->stop() == 0);
    const auto ward_status = run_rollcall({"status", "--data-dir", tree.ward_a->data_dir()});
    CHECK_THAT(ward_status.out, Catch::Contains("FORKS: 1"));
    CHECK_THAT(ward_status.out, Catch::Matches("(.|\n)*\n00001 +001 +1 +20(.|\n)*"));
    const auto district_status = run_rollcall({"status", "--data-dir", tree.district->data_dir()});
    CHECK_THAT(district_status.out, Catch::Matches("(.|\n)*\n00001 +00001 +1 +20(.|\n)*"));
  }
  auto forks = open_log_reader(tree.district->data_dir())->forks().value();
  REQUIRE(forks.size() == 1);
  CHECK(forks[0].origin == kWardA);
  CHECK(forks[0].peer == kWardA);
  CHECK(forks[0].first_seq == 1);
  // And in the ward's metrics, after a restart: the record stays until resolved.
  const uint16_t http = free_port_below_ephemeral();
  tree.ward_a->set_extra_args({"--http", "127.0.0.1:" + std::to_string(http)});
  REQUIRE(tree.ward_a->start());
  const auto metrics = http_get(http, "/metrics");
  CHECK(metric_value(metrics.body, "rollcall_forks", R"(unit="00001")") == 1.0);
  CHECK(metric_value(metrics.body, "rollcall_fork_first_seq", R"(unit="00001",origin="00001",peer="001")") == 1.0);
}

TEST_CASE("rollcalld: replication: a full parent pushes back and nothing is dropped",
          "[integration][fault][replication]") {
  Tree tree;
  tree.start();
  // The district restarts below its free-space reserve: every batch it is sent is refused as
  // storageFull, and the wards back off and keep their events.
  REQUIRE(tree.district->stop() == 0);
  const std::vector<std::string> normal = {"--parent", tree.city->address()};
  auto full = normal;
  full.insert(full.end(), {"--min-free-mb", "1000000000"});
  tree.district->set_extra_args(full);
  REQUIRE(tree.district->start());
  const auto lines = ward_lines(9, 4);
  std::atomic<uint64_t> accepted_a{0}, accepted_b{0}, rejected{0};
  submit_all(tree.ward_a->address(), lines.at(kWardA), accepted_a, rejected);
  submit_all(tree.ward_b->address(), lines.at(kWardB), accepted_b, rejected);
  REQUIRE(rejected == 0);
  std::this_thread::sleep_for(2s);
  INFO(tree.logs());
  CHECK(watermark_of(tree.district->data_dir(), kWardA) == 0);
  CHECK(tree.ward_a->log().find("storageFull") != std::string::npos);

  // Space returns: everything drains, once.
  REQUIRE(tree.district->stop() == 0);
  tree.district->set_extra_args(normal);
  REQUIRE(tree.district->start());
  if (!wait_for_watermarks(tree.top->data_dir(), {{kWardA, accepted_a}, {kWardB, accepted_b}}, 30s))
    FAIL(tree.logs());
  for (NodeProcess* node : {tree.ward_a.get(), tree.ward_b.get(), tree.district.get(), tree.city.get(), tree.top.get()})
    CHECK(node->stop() == 0);
  check_converged(tree, accepted_a, accepted_b);
}
