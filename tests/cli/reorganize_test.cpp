// The 2025 reorganization from the real files of shared/data: the plan `rollcall reorganize`
// submits, and what it does to a node's roll-ups (DESIGN.md "the map is data"; C3, C4, C6).
#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "cli/reorganization.h"
#include "engine/event_fields.h"
#include "engine/event_json.h"
#include "engine/event_log.h"
#include "engine/period.h"
#include "tests/support/event_generator.h"
#include "tests/support/projection_test_helpers.h"
#include "tests/support/test_dirs.h"

namespace rollcall {
namespace {

using testing::plus;

UnitCode code(const char* text) { return UnitCode::parse(text).value(); }

const UnitMap& map_2024() {
  static const UnitMap map = UnitMap::load_csv_file(testing::units_2024()).value();
  return map;
}
const UnitMap& map_2025() {
  static const UnitMap map = UnitMap::load_csv_file(testing::shared_dir() + "/data/vn-units-2025.csv").value();
  return map;
}
const cli::SuccessorMap& successors_2025() {
  static const cli::SuccessorMap successors =
      cli::load_successor_file(testing::shared_dir() + "/data/vn-units-2025-map.csv").value();
  return successors;
}

TEST_CASE("reorganize: the plan from the real 2024 and 2025 files makes the 2025 map, history handed to successors",
          "[map][reorganize]") {
  auto plan = cli::plan_reorganization(map_2024(), code("VN"), map_2025(), successors_2025(), "2025-07-01");
  INFO((plan.ok() ? std::string() : plan.error().message()));
  REQUIRE(plan.ok());
  // Counted here from the files, independently of the plan.
  size_t new_units = 0, kept_wards = 0, gone = 0, split_kept = 0;
  for (const UnitCode& c : map_2025().subtree(code("VN"))) {
    if (c.str() == "VN") continue;
    if (!map_2024().contains(c)) ++new_units;
    else if (map_2025().find(c)->level == "ward") ++kept_wards;
  }
  for (const UnitCode& c : map_2024().subtree(code("VN")))
    if (c.str() != "VN" && !map_2025().contains(c)) ++gone;
  for (const auto& [old_code, into] : successors_2025())
    if (map_2025().contains(old_code) && into.size() > 1) ++split_kept;
  CHECK(new_units == 5);  // the đặc khu made from island districts
  CHECK(plan->counts.at("unitRegistered") == new_units);
  CHECK(plan->counts.at("unitMoved") == kept_wards);  // every kept ward leaves its district
  // Every old unit the 2025 file lacks is merged (wards, island districts, 29 provinces) or
  // closed (districts), and each split that keeps its code is recorded.
  CHECK(plan->counts.at("unitMerged") + plan->counts.at("unitClosed") == gone + split_kept);
  CHECK(plan->counts.at("unitClosed") == 696 - 5);

  UnitMap folded = map_2024();
  for (const MapChange& c : plan->changes) REQUIRE(folded.apply(c).ok());
  for (const UnitCode& c : map_2025().subtree(code("VN"))) {
    const Unit& want = *map_2025().find(c);
    const Unit* got = folded.find(c);
    REQUIRE(got != nullptr);
    CHECK(got->state == UnitState::kActive);
    CHECK(got->name == want.name);
    CHECK(got->parent == want.parent);
  }
  size_t provinces_merged = 0;
  for (const UnitCode& c : map_2024().subtree(code("VN"))) {
    if (map_2025().contains(c)) continue;
    const Unit& old = *folded.find(c);
    INFO(c.str());
    CHECK(old.state != UnitState::kActive);
    if (auto it = successors_2025().find(c); it != successors_2025().end())
      CHECK(folded.heir(c) == it->second.front());  // history to the first listed successor
    if (old.level == "province") {
      ++provinces_merged;
      CHECK(old.state == UnitState::kMerged);
      CHECK(map_2025().find(folded.heir(c))->level == "province");
    }
    // Whatever it was, its history now rolls up to a 2025 province.
    const auto chain = folded.rollup_chain(c, code("VN"));
    REQUIRE(chain.size() >= 2);
    CHECK(map_2025().find(chain[chain.size() - 2])->level == "province");
  }
  CHECK(provinces_merged == 29);
  CHECK(folded.heir(code("02")) == code("08"));  // Hà Giang into Tuyên Quang

  // Run again on the result, nothing is left to do.
  auto again = cli::plan_reorganization(folded, code("VN"), map_2025(), successors_2025(), "2025-07-01");
  INFO((again.ok() ? std::string() : again.error().message()));
  REQUIRE(again.ok());
  CHECK(again->changes.empty());
}

// The tallies of `unit` for every month, quarter, half and year of 2023-2025 and all time.
std::vector<std::pair<std::string, DateRange>> periods() {
  std::vector<std::pair<std::string, DateRange>> out{{"all time", DateRange::all_time()}};
  for (int year : {2023, 2024, 2025}) {
    std::vector<std::string> names{std::to_string(year), std::to_string(year) + "-H1", std::to_string(year) + "-Q4"};
    for (unsigned m = 1; m <= 12; ++m) names.push_back(std::to_string(year) + (m < 10 ? "-0" : "-") + std::to_string(m));
    for (const std::string& name : names) out.emplace_back(name, parse_period(name).value());
  }
  return out;
}

TEST_CASE("reorganize: a year of Hà Giang (02) and Tuyên Quang (08) at VN: after the merge 08 holds the sum of both, "
          "period by period, the old map still answers, old codes keep rolling up, verify is clean",
          "[map][reorganize]") {
  testing::TempDir dir;
  auto log = EventLog::open_writer(LogOptions{.dir = dir / "VN", .unit = code("VN")}, map_2024()).value();
  testing::GeneratorOptions options;
  options.members_per_unit = 3;
  options.retraction_rate = 0.02;
  std::vector<testing::GeneratedEvents> generated;
  for (const char* province : {"02", "08"}) {
    options.root = code(province);
    options.seed = province[1] == '2' ? 202 : 208;
    generated.push_back(testing::generate_events(map_2024(), options));
    const auto& events = generated.back().events;
    for (size_t at = 0; at < events.size(); at += 5000) {
      const auto part = std::span(events).subspan(at, std::min<size_t>(5000, events.size() - at));
      auto ingested = log->ingest(part);
      INFO((ingested.ok() ? std::string() : ingested.error().message()));
      REQUIRE(ingested.ok());
    }
  }
  REQUIRE(generated[0].events.size() > 1000);
  std::map<std::string, std::map<std::string, int64_t>> before_02, before_08, before_vn;
  for (const auto& [name, range] : periods()) {
    before_02[name] = log->tally(code("02"), range).value();
    before_08[name] = log->tally(code("08"), range).value();
    before_vn[name] = log->tally(code("VN"), range).value();
  }
  const int64_t in_transit_before = log->in_transit(code("VN")).value();
  REQUIRE(before_02["2024"].at("members.admitted") > 0);
  REQUIRE(before_08["2024"].at("members.admitted") > 0);

  auto plan = cli::plan_reorganization(*log->map(), code("VN"), map_2025(), successors_2025(), "2025-07-01");
  REQUIRE(plan.ok());
  {
    // As `rollcall reorganize` sends them: JSON lines, submitted in chunks.
    const EventJson json;
    std::vector<std::unique_ptr<capnp::MallocMessageBuilder>> messages;
    std::vector<schema::Event::Reader> events;
    for (const MapChange& c : plan->changes) {
      messages.push_back(std::make_unique<capnp::MallocMessageBuilder>());
      REQUIRE(json.parse(cli::map_change_json_line(c, code("VN")), messages.back()->initRoot<schema::Event>()).ok());
      events.push_back(messages.back()->getRoot<schema::Event>().asReader());
    }
    for (size_t at = 0; at < events.size(); at += 10000) {
      const auto part = std::span(events).subspan(at, std::min<size_t>(10000, events.size() - at));
      for (const SubmitOutcome& o : log->submit(part, Timestamp{1751356800000000})) {
        INFO((o.rejected ? o.rejected->message : std::string()));
        REQUIRE(o.accepted);
      }
    }
  }

  const UnitMap old_map = log->map_as_of("2025-06-30").value();
  for (const auto& [name, range] : periods()) {
    INFO("period " << name);
    CHECK(log->tally(code("08"), range).value() == plus(before_02[name], before_08[name]));
    CHECK(log->tally(code("VN"), range).value() == before_vn[name]);
    CHECK(log->tally(code("02"), range).value().empty());  // merged: its rows moved to 08
    CHECK(log->tally_under(old_map, code("02"), range).value() == before_02[name]);
    CHECK(log->tally_under(old_map, code("08"), range).value() == before_08[name]);
  }
  // Transfers half held: the same at VN, whose subtree holds both ends under either map; below
  // it they follow the map (a transfer from 02 to 08 now lies within 08), checked by verify.
  CHECK(log->in_transit(code("VN")).value() == in_transit_before);
  CHECK(log->in_transit(code("02")).value() == 0);

  // A ward of 02 that was merged away, still sending under its old code: its events roll up
  // into its successor and the new 08, submitted here or relayed from its own node.
  UnitCode old_ward;
  for (const UnitCode& c : map_2024().subtree(code("02")))
    if (map_2024().find(c)->level == "ward" && !map_2025().contains(c)) {
      old_ward = c;
      break;
    }
  REQUIRE_FALSE(old_ward.empty());
  const UnitCode heir = log->map()->heir(old_ward);
  CHECK(heir != old_ward);
  const auto forums = [&](const UnitCode& u) {
    auto sums = log->tally(u, DateRange::all_time()).value();
    return sums["activity.forums.count"];
  };
  const int64_t heir_before = forums(heir), province_before = forums(code("08"));
  {
    const EventJson json;
    capnp::MallocMessageBuilder submitted, relayed;
    REQUIRE(json.parse(R"({"unit":")" + old_ward.str() +
                           R"(","effectiveDate":"2025-08-01","activityReported":{"kind":"forums","count":"3","participants":"30"}})",
                       submitted.initRoot<schema::Event>())
                .ok());
    const auto one = submitted.getRoot<schema::Event>().asReader();
    REQUIRE(log->submit(std::span(&one, 1), Timestamp{1754006400000000})[0].accepted);
    uint64_t next = 1;
    const std::vector<Watermark> marks = log->watermarks().value();
    for (const Watermark& w : marks)
      if (w.origin == old_ward) next = w.seq + 1;
    REQUIRE(json.parse(R"({"origin":")" + old_ward.str() + R"(","seq":)" + std::to_string(next) +
                           R"(,"unit":")" + old_ward.str() +
                           R"(","effectiveDate":"2025-08-02","activityReported":{"kind":"forums","count":"4","participants":"40"}})",
                       relayed.initRoot<schema::Event>())
                .ok());
    const auto two = relayed.getRoot<schema::Event>().asReader();
    REQUIRE(log->ingest(std::span(&two, 1)).ok());
  }
  CHECK(forums(heir) == heir_before + 7);
  CHECK(forums(code("08")) == province_before + 7);

  const std::string scratch = dir / "scratch";
  std::filesystem::create_directories(scratch);
  auto report = log->verify_projections(scratch, nullptr).value();
  INFO((report.first.empty() ? std::string() : report.first[0].what + ": " + report.first[0].stored + " / " +
                                                    report.first[0].recomputed));
  CHECK(report.differences == 0);
}

}  // namespace
}  // namespace rollcall
