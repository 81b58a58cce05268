// `rollcall reorganize` with the real files at a running national node holding a generated
// national year: every 2025 province then holds the sum of its predecessors, the old map still
// answers, and verify is clean.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "engine/event_log.h"
#include "engine/period.h"
#include "tests/support/event_generator.h"
#include "tests/support/node_harness.h"
#include "tests/support/projection_test_helpers.h"
#include "tests/support/test_dirs.h"

namespace rollcall {
namespace {

using testing::NodeProcess;
using testing::rollcall_path;
using testing::run_command;
using testing::run_rollcall;
using testing::plus;

UnitCode code(const char* text) { return UnitCode::parse(text).value(); }

TEST_CASE("rollcall reorganize: the real 2025 files at a running national node with a generated year, each new "
          "province holds its predecessors' sum, the old map still answers, verify clean (national)",
          "[map][reorganize][national]") {
  testing::TempDir dir;
  const std::string data_dir = dir / "VN";
  const std::string units_2025 = testing::shared_dir() + "/data/vn-units-2025.csv";
  const std::string map_2025 = testing::shared_dir() + "/data/vn-units-2025-map.csv";
  const UnitMap map_2024 = UnitMap::load_csv_file(testing::units_2024()).value();

  // A national year: every commune of the 2024 map, relayed to VN as its children would.
  std::map<std::string, std::map<std::string, int64_t>> before;  // old province -> all-time tally
  std::map<std::string, int64_t> before_2024_vn;
  {
    testing::GeneratorOptions options;
    options.root = code("VN");
    options.seed = 2025;
    options.members_per_unit = 1;
    options.retraction_rate = 0.01;
    const auto generated = testing::generate_events(map_2024, options);
    REQUIRE(generated.events.size() > 30000);
    auto log = EventLog::open_writer(LogOptions{.dir = data_dir, .unit = code("VN")}, map_2024).value();
    for (size_t at = 0; at < generated.events.size(); at += 5000) {
      const auto part = std::span(generated.events).subspan(at, std::min<size_t>(5000, generated.events.size() - at));
      REQUIRE(log->ingest(part).ok());
    }
    for (const UnitCode& province : map_2024.children(code("VN")))
      before[province.str()] = log->tally(province, DateRange::all_time()).value();
    before_2024_vn = log->tally(code("VN"), parse_period("2024").value()).value();
    WARN("national year: " << generated.events.size() << " events of " << map_2024.size() << " units");
  }

  NodeProcess node("VN", data_dir, testing::units_2024());
  REQUIRE(node.start());
  const auto started = std::chrono::steady_clock::now();
  const auto reorganized = run_command({rollcall_path(), "reorganize", "--data-dir", data_dir, "--units", units_2025,
                                        "--map", map_2025, "--node", node.address()},
                                       "", 600);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  INFO(reorganized.err << node.log());
  REQUIRE(reorganized.exit_code == 0);
  CHECK_THAT(reorganized.err, Catch::Contains("unitMerged") && Catch::Contains("unitClosed 691"));
  WARN("reorganize at VN: " << seconds << " s; " << reorganized.err);

  auto reader = EventLog::open_reader(data_dir).value();
  const auto map = reader->map();
  std::map<std::string, std::map<std::string, int64_t>> expected;
  for (const auto& [province, tally] : before) expected[map->heir(UnitCode::trusted(province)).str()] =
      plus(expected[map->heir(UnitCode::trusted(province)).str()], tally);
  CHECK(expected.size() == 34);
  for (const auto& [province, tally] : expected) {
    INFO("2025 province " << province);
    CHECK(reader->tally(UnitCode::trusted(province), DateRange::all_time()).value() == tally);
  }
  CHECK(reader->tally(code("VN"), parse_period("2024").value()).value() == before_2024_vn);

  // Through the CLI: a merged province names its successor; the old map answers for it.
  const auto merged = run_rollcall({"tally", "--data-dir", data_dir, "--unit", "02"});
  CHECK(merged.exit_code == 2);
  CHECK_THAT(merged.err, Catch::Contains("was merged into 08 on 2025-07-01"));
  const auto old_map = run_rollcall({"tally", "--data-dir", data_dir, "--unit", "02", "--map-as-of", "2025-06-30",
                                     "--metric", "members.admitted"});
  INFO(old_map.err);
  REQUIRE(old_map.exit_code == 0);
  CHECK(old_map.out == "members.admitted " + std::to_string(before["02"]["members.admitted"]) + "\n");

  // A ward's node that still runs under its old 2024 code, below VN: its events roll up into
  // its successor and the new province.
  UnitCode old_ward;
  for (const UnitCode& c : map_2024.subtree(code("02")))
    if (map_2024.find(c)->level == "ward" && map->find(c)->state == UnitState::kMerged) {
      old_ward = c;
      break;
    }
  REQUIRE_FALSE(old_ward.empty());
  const UnitCode heir = map->heir(old_ward);
  const auto reports = [&](const UnitCode& unit) {
    REQUIRE(reader->refresh().ok());
    auto sums = reader->tally(unit, DateRange::all_time()).value();
    return sums["activity.forums.count"];
  };
  const int64_t heir_before = reports(heir), province_before = reports(code("08"));
  NodeProcess ward(old_ward.str(), dir / "ward", testing::units_2024(), {"--parent", node.address()});
  REQUIRE(ward.start());
  const std::string line = R"({"unit":")" + old_ward.str() +
                           R"(","effectiveDate":"2025-09-01","activityReported":{"kind":"forums","count":"9","participants":"90"}})";
  // The new data dir first takes back from VN the generated events of its origin.
  const std::string file = testing::write_lines(dir, "old.jsonl", {line});
  auto submitted = run_command({rollcall_path(), "submit", "--node", ward.address(), file});
  for (int tries = 0; submitted.exit_code != 0 && tries < 100; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    submitted = run_command({rollcall_path(), "submit", "--node", ward.address(), file});
  }
  INFO(submitted.out << submitted.err << ward.log());
  REQUIRE(submitted.exit_code == 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (reports(heir) == heir_before && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(reports(heir) == heir_before + 9);
  CHECK(reports(code("08")) == province_before + 9);
  ward.stop();

  // The map as `rollcall units` shows it: the 34 provinces now, and the changes in fold order.
  const auto provinces = run_rollcall({"units", "--data-dir", data_dir, "--depth", "1", "--json"});
  REQUIRE(provinces.exit_code == 0);
  CHECK(testing::split_lines(provinces.out).size() == 1 + 34);
  const auto listed = run_rollcall({"units", "--data-dir", data_dir, "--changes", "--json"});
  REQUIRE(listed.exit_code == 0);
  const auto change_lines = testing::split_lines(listed.out);
  CHECK(change_lines.size() == 13089);
  CHECK(std::count_if(change_lines.begin(), change_lines.end(), [](const std::string& l) {
          return l.find(R"("skipped":null)") == std::string::npos;
        }) == 0);

  // Run again: nothing left to plan.
  const auto again = run_command({rollcall_path(), "reorganize", "--data-dir", data_dir, "--units", units_2025, "--map",
                                  map_2025, "--node", node.address()});
  CHECK(again.exit_code == 0);
  CHECK_THAT(again.err, Catch::Contains("nothing to submit"));

  const auto verified = run_command({rollcall_path(), "verify", "--data-dir", data_dir}, "", 600);
  INFO(verified.out << verified.err);
  CHECK(verified.exit_code == 0);
}

}  // namespace
}  // namespace rollcall
