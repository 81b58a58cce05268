// The changing map: the fold of map events (UnitMap::apply), roll-ups that follow it at once
// (ProjectionBatch moving own rows), C2 with map events in the set, C3 under the final map, and
// the log's checks of submitted map events.
#include <capnp/message.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/event_fields.h"
#include "engine/event_json.h"
#include "engine/keys.h"
#include "engine/map_change.h"
#include "engine/projection.h"
#include "engine/replication.h"
#include "tests/engine/event_log_fixture.h"
#include "tests/support/event_generator.h"
#include "tests/support/memory_projection_store.h"
#include "tests/support/projection_test_helpers.h"
#include "tests/support/test_dirs.h"
#include "tests/support/test_env.h"

namespace rollcall {
namespace {

using testing::MemoryProjectionStore;
using EventSet = std::vector<schema::Event::Reader>;

UnitCode code(const char* text) { return UnitCode::parse(text).value(); }

const UnitMap& map_2024() {
  static const UnitMap map = UnitMap::load_csv_file(testing::units_2024()).value();
  return map;
}

MapChange change(MapChange::Kind kind, const char* unit, const char* date = "2025-07-01") {
  MapChange c;
  c.kind = kind;
  c.code = code(unit);
  c.date = date;
  return c;
}
MapChange moved(const char* unit, const char* parent) {
  MapChange c = change(MapChange::Kind::kMoved, unit);
  c.parent = code(parent);
  return c;
}
MapChange merged(const char* unit, std::vector<const char*> into) {
  MapChange c = change(MapChange::Kind::kMerged, unit);
  for (const char* u : into) c.into.push_back(code(u));
  return c;
}
MapChange registered(const char* unit, const char* parent) {
  MapChange c = change(MapChange::Kind::kRegistered, unit);
  c.name = "Phường Mới " + std::string(unit);
  c.level = "ward";
  c.parent = code(parent);
  return c;
}

std::vector<std::string> strs(const std::vector<UnitCode>& codes) {
  std::vector<std::string> out;
  for (const UnitCode& c : codes) out.push_back(c.str());
  return out;
}

TEST_CASE("UnitMap::apply: registrations, renames, moves, merges and closes fold into the map", "[map]") {
  UnitMap map = UnitMap::parse_csv(testing::kSmallMapCsv).value();
  REQUIRE(map.apply(registered("99001", "002")).ok());
  CHECK(map.find(code("99001"))->parent == code("002"));
  CHECK(strs(map.children(code("002"))) == std::vector<std::string>{"00037", "99001"});

  MapChange rename = change(MapChange::Kind::kRenamed, "001");
  rename.name = "Quận Mới";
  REQUIRE(map.apply(rename).ok());
  CHECK(map.find(code("001"))->name == "Quận Mới");

  REQUIRE(map.apply(moved("00004", "002")).ok());
  CHECK(map.find(code("00004"))->parent == code("002"));
  CHECK(map.find(code("00004"))->former_parents == std::vector<UnitCode>{code("001")});
  CHECK(map.ever_in_subtree(code("00004"), code("001")));  // a relay under the older map
  CHECK_FALSE(map.in_subtree(code("00004"), code("001")));
  CHECK(strs(map.rollup_chain(code("00004"), code("01"))) == std::vector<std::string>{"00004", "002", "01"});

  // A merge hands the history to the first successor; the unit stays known, with its parent.
  REQUIRE(map.apply(merged("00001", {"00037", "00004"})).ok());
  CHECK(map.find(code("00001"))->state == UnitState::kMerged);
  CHECK(map.heir(code("00001")) == code("00037"));
  CHECK(strs(map.rollup_chain(code("00001"), code("01"))) == std::vector<std::string>{"00037", "002", "01"});
  CHECK(strs(map.rollup_chain(code("00001"), code("001"))) == std::vector<std::string>{"00001"});  // no longer below 001
  // A split that keeps the code leaves the history where it is.
  REQUIRE(map.apply(merged("00037", {"00037", "99001"})).ok());
  CHECK(map.find(code("00037"))->state == UnitState::kActive);
  CHECK(map.heir(code("00037")) == code("00037"));

  // A merged district: its units roll up into its heir's chain.
  REQUIRE(map.apply(merged("002", {"001"})).ok());
  CHECK(strs(map.rollup_chain(code("00004"), code("01"))) == std::vector<std::string>{"00004", "001", "01"});
  CHECK(strs(map.rollup_chain(code("00001"), code("01"))) == std::vector<std::string>{"00037", "001", "01"});

  // A closed unit keeps its history where it is and takes no new units.
  REQUIRE(map.apply(change(MapChange::Kind::kClosed, "001")).ok());
  CHECK(strs(map.rollup_chain(code("00004"), code("01"))) == std::vector<std::string>{"00004", "001", "01"});
  // A unit may still be registered below it (by a child that has not seen the close).
  CHECK(map.apply(registered("99002", "001")).ok());
}

TEST_CASE("UnitMap::apply refuses what cannot apply and leaves the map as it was", "[map]") {
  UnitMap map = UnitMap::parse_csv(testing::kSmallMapCsv).value();
  const std::string before = map.to_csv();
  const auto refused = [&](const MapChange& c, const std::string& why) {
    auto applied = map.apply(c);
    INFO(describe(c));
    REQUIRE_FALSE(applied.ok());
    CHECK_THAT(applied.error().message(), Catch::Contains(why));
    CHECK(map.to_csv() == before);
  };
  refused(registered("00001", "001"), "already in the map");
  refused(registered("99001", "77777"), "parent 77777 is not in the map");
  refused(moved("001", "00001"), "lies below the unit");
  refused(moved("00001", "001"), "already under 001");
  refused(moved("VN", "001"), "root cannot move");  // the small map hangs 01 under VN
  refused(merged("001", {"00004"}), "lies below the unit");
  refused(merged("00001", {"55555"}), "not in the map");
  refused(change(MapChange::Kind::kClosed, "VN"), "root cannot be closed");
  REQUIRE(map.apply(merged("00004", {"00001"})).ok());
  refused(merged("00037", {"00004"}), "successor 00004 is merged");
  refused(moved("00004", "002"), "was merged");
}

TEST_CASE("UnitMap::apply refuses a move or merge that would make a roll-up chain loop through merged units",
          "[map]") {
  // 002 merged into 001; then 001 merged into 00037, a ward of 002, would send 001's heir up
  // through 002 (whose heir would then be 00037) back to 00037: a loop that would hide both
  // districts' wards from the province.
  UnitMap map = UnitMap::parse_csv(testing::kSmallMapCsv).value();
  REQUIRE(map.apply(merged("002", {"001"})).ok());
  auto looped = map.apply(merged("001", {"00037"}));
  REQUIRE_FALSE(looped.ok());
  CHECK_THAT(looped.error().message(), Catch::Contains("would roll up into itself"));
  // The same through a move: 001 under 00037, whose parent 002 now resolves to 001.
  auto moved_under = map.apply(moved("001", "00037"));
  REQUIRE_FALSE(moved_under.ok());
  CHECK_THAT(moved_under.error().message(), Catch::Contains("rolls up into the unit"));
  // Every unit still reaches the root.
  for (const char* unit : {"00001", "00004", "00037", "001", "002"})
    CHECK(map.rollup_chain(code(unit), code("VN")).back() == code("VN"));
}

TEST_CASE("UnitMap::apply registers a unit under a closed or merged parent: it rolls up through the heirs", "[map]") {
  // A district node that has not seen its parent close it still registers wards under itself;
  // the parent's fold takes them, so their events are neither refused nor lost.
  UnitMap map = UnitMap::parse_csv(testing::kSmallMapCsv).value();
  REQUIRE(map.apply(change(MapChange::Kind::kClosed, "001")).ok());
  REQUIRE(map.apply(registered("99001", "001")).ok());
  CHECK(strs(map.rollup_chain(code("99001"), code("VN"))) == std::vector<std::string>{"99001", "001", "01", "VN"});
  REQUIRE(map.apply(merged("002", {"01"})).ok());
  REQUIRE(map.apply(registered("99002", "002")).ok());
  CHECK(strs(map.rollup_chain(code("99002"), code("VN"))) == std::vector<std::string>{"99002", "01", "VN"});
  CHECK(map.ever_in_subtree(code("99002"), code("002")));
}

// A unit's own rows summed over a year ('O' rows), and its tally rows of a granularity.
std::map<std::string, int64_t> year_rows(const MemoryProjectionStore& store, const std::string& unit, char g,
                                         uint32_t year) {
  std::map<std::string, int64_t> sums;
  const std::string prefix = keys::tally_prefix(unit, g);
  for (const auto& [key, value] : store.rows()) {
    if (key.first != Cf::kTallies || !key.second.starts_with(prefix)) continue;
    const uint32_t bucket = keys::get_be32(key.second, prefix.size());
    if ((g == 'Y' ? bucket : bucket / 10000) != year) continue;
    int64_t n = 0;
    REQUIRE(keys::decode_i64(value, &n));
    sums[key.second.substr(prefix.size() + 4)] += n;
  }
  std::erase_if(sums, [](const auto& e) { return e.second == 0; });
  return sums;
}

void add_into(std::map<std::string, int64_t>& sums, const std::map<std::string, int64_t>& more) {
  for (const auto& [metric, n] : more) sums[metric] += n;
  std::erase_if(sums, [](const auto& e) { return e.second == 0; });
}

std::string numbered(const std::string& origin, uint64_t seq, const std::string& unit, const std::string& date,
                     const std::string& payload) {
  return R"({"origin":")" + origin + R"(","seq":)" + std::to_string(seq) + R"(,"unit":")" + unit + R"(","effectiveDate":")" + date + R"(",)" + payload + "}";
}

TEST_CASE("map events in any order give byte-identical projections, equal to the final map applied from the start (C2, C3)",
          "[map][property]") {
  // Two districts of Hà Nội, a year of generated events each, and map events of the province's
  // node and of district 002's, dated before, inside and after the generated year; one of them
  // (a move under a closed district) does not apply where it falls in the fold.
  testing::GeneratorOptions options;
  options.members_per_unit = 4;
  options.retraction_rate = 0.05;
  options.max_leaf_units = 6;
  options.seed = GENERATE(31, 32, 33);
  options.root = code("001");
  const auto g1 = testing::generate_events(map_2024(), options);
  options.root = code("002");
  const auto g2 = testing::generate_events(map_2024(), options);
  EventSet events = g1.events;
  events.insert(events.end(), g2.events.begin(), g2.events.end());
  const size_t data_events = events.size();

  testing::ParsedEvents extras;
  uint64_t seq = 0;
  const auto map_event = [&](const std::string& origin, const std::string& date, const std::string& payload) {
    events.push_back(extras.add(numbered(origin, ++seq + (origin == "01" ? 0 : 100), origin, date, payload)));
  };
  map_event("01", "2024-02-01", R"("unitRegistered":{"code":"99001","name":"Phường Mới","level":"ward","parent":"001"})");
  map_event("01", "2024-03-15", R"("unitMoved":{"code":"00004","parent":"002"})");
  map_event("01", "2024-05-10", R"("unitMerged":{"code":"00006","into":["00007"]})");
  map_event("01", "2024-06-01", R"("unitMerged":{"code":"00008","into":["00013","00037"]})");
  map_event("01", "2024-07-01", R"("unitMoved":{"code":"00013","parent":"002"})");
  map_event("01", "2024-08-01", R"("unitMerged":{"code":"002","into":["001"]})");
  map_event("01", "2024-09-01", R"("unitClosed":{"code":"003"})");
  map_event("01", "2024-10-01", R"("unitRenamed":{"code":"001","name":"Quận Ba Đình Mới"})");
  map_event("01", "2024-11-01", R"("unitMoved":{"code":"00037","parent":"003"})");  // 003 is closed: skipped
  map_event("01", "2025-01-15", R"("unitMoved":{"code":"00040","parent":"001"})");
  map_event("002", "2024-04-20", R"("unitRegistered":{"code":"99002","name":"Phường Hai","level":"ward","parent":"002"})");
  // Events of the new units, from a node that knows them (before or after its registration arrives).
  events.push_back(extras.add(numbered("99001", 1, "99001", "2024-03-02",
                                       R"("activityReported":{"kind":"eidLevel1","count":"135","participants":"20"})")));
  events.push_back(extras.add(numbered("99002", 1, "99002", "2024-05-02",
                                       R"("activityReported":{"kind":"forums","count":"2","participants":"60"})")));

  const UnitCode node = code("01");
  std::mt19937_64 rng(options.seed);
  // Reference: the map events first, so no row ever moves.
  std::vector<size_t> reference_order;
  for (size_t i = data_events; i < events.size(); ++i) reference_order.push_back(i);
  for (size_t i = 0; i < data_events; ++i) reference_order.push_back(i);
  std::shared_ptr<const UnitMap> final_map;
  std::mt19937_64 reference_rng(1);
  const auto seed = std::make_shared<const UnitMap>(map_2024());
  RollupPaths reference_paths(seed, seed, node);
  const MemoryProjectionStore reference =
      testing::project_in_batches(events, reference_order, reference_paths, reference_rng, 48);
  final_map = reference_paths.map_ptr();
  CHECK(final_map->find(code("00037"))->parent == code("002"));  // the skipped move
  CHECK(final_map->heir(code("00008")) == code("00013"));
  REQUIRE(final_map->find(code("002"))->state == UnitState::kMerged);

  // 12 orders a seed; fewer under the sanitizers (ROLLCALL_PROPERTY_ORDERS, 700 by default).
  const uint64_t rounds = std::max<uint64_t>(2, testing::env_number("ROLLCALL_PROPERTY_ORDERS").value_or(700) / 60);
  for (uint64_t round = 0; round < rounds; ++round) {
    std::vector<size_t> order(events.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    // Duplicates too: a relay may bring an event twice; the set is the same.
    RollupPaths paths(seed, seed, node);
    const MemoryProjectionStore shuffled = testing::project_in_batches(events, order, paths, rng, 48);
    INFO("seed " << options.seed << " round " << round);
    REQUIRE(shuffled == reference);
  }

  // C3 under the final map, for every unit the events reach, year by year: a unit's tally is
  // the own rows of every unit whose heir it is, plus its children's tallies.
  std::set<std::string> units;
  for (const auto& [key, value] : reference.rows())
    if (key.first == Cf::kTallies) units.insert(key.second.substr(0, key.second.find('\0')));
  for (uint32_t year : {2023u, 2024u, 2025u}) {
    for (const std::string& u : units) {
      const Unit* unit = final_map->find(UnitCode::trusted(u));
      if (unit != nullptr && unit->state == UnitState::kMerged) {
        CHECK(year_rows(reference, u, 'Y', year).empty());  // its history counts at its heir
        continue;
      }
      std::map<std::string, int64_t> expected;
      for (const std::string& x : units) {
        if (final_map->heir(UnitCode::trusted(x)).str() == u) add_into(expected, year_rows(reference, x, 'O', year));
      }
      for (const std::string& child : units) {
        const Unit* c = final_map->find(UnitCode::trusted(child));
        if (c == nullptr || c->state == UnitState::kMerged || c->parent.empty()) continue;
        if (final_map->heir(c->parent).str() == u) add_into(expected, year_rows(reference, child, 'Y', year));
      }
      INFO("unit " << u << " year " << year);
      CHECK(year_rows(reference, u, 'Y', year) == expected);
    }
  }
  // Everything rolls up to the node, whatever moved: its tally is the sum of every own row.
  std::map<std::string, int64_t> all;
  for (const std::string& u : units) add_into(all, year_rows(reference, u, 'O', 2024));
  CHECK(year_rows(reference, "01", 'Y', 2024) == all);
}

using log_test::Events;
using log_test::TempDir;

TEST_CASE("EventLog: submitted map events change the roll-ups at once, are checked in order, and verify clean",
          "[map]") {
  TempDir dir;
  const UnitMap map = UnitMap::parse_csv(testing::kSmallMapCsv).value();
  auto log = EventLog::open_writer(LogOptions{.dir = dir.str(), .unit = code("01")}, map).value();
  Events data;
  data.add(R"({"unit":"00001","effectiveDate":"2024-03-01","activityReported":{"kind":"forums","count":"2","participants":"40"}})");
  data.add(R"({"unit":"00037","effectiveDate":"2024-03-02","activityReported":{"kind":"forums","count":"1","participants":"10"}})");
  for (const auto& o : log->submit(data.all(), log_test::kNow)) REQUIRE(o.accepted);
  const auto forums = [&](const char* unit) {
    auto sums = log->tally(code(unit), DateRange::all_time()).value();
    return sums["activity.forums.count"];
  };
  REQUIRE(forums("001") == 2);
  REQUIRE(forums("002") == 1);

  Events changes;
  changes.add(R"({"unit":"01","effectiveDate":"2025-07-01","unitRegistered":{"code":"99001","name":"Phường Mới","level":"ward","parent":"002"}})");
  changes.add(R"({"unit":"01","effectiveDate":"2025-07-01","unitMerged":{"code":"00001","into":["99001"]}})");
  changes.add(R"({"unit":"99001","effectiveDate":"2025-07-02","activityReported":{"kind":"forums","count":"5","participants":"50"}})");
  changes.add(R"({"unit":"00001","effectiveDate":"2025-07-03","activityReported":{"kind":"forums","count":"7","participants":"70"}})");
  auto outcomes = log->submit(changes.all(), log_test::kNow);
  for (const auto& o : outcomes) {
    INFO((o.rejected ? o.rejected->message : std::string()));
    REQUIRE(o.accepted);
  }
  // 00001's history and its later events under the old code roll up through its heir 99001.
  CHECK(forums("99001") == 2 + 5 + 7);
  CHECK(forums("002") == 1 + 2 + 5 + 7);
  CHECK(forums("001") == 0);
  CHECK(forums("01") == 15);
  CHECK(log->map()->heir(code("00001")) == code("99001"));
  // Under the map of the day before, 00001 and district 001 hold what they held then, and the
  // events under 00001's code since.
  const UnitMap before = log->map_as_of("2025-06-30").value();
  CHECK(log->tally_under(before, code("001"), DateRange::all_time()).value()["activity.forums.count"] == 2 + 7);
  CHECK(log->tally_under(before, code("002"), DateRange::all_time()).value()["activity.forums.count"] == 1);
  CHECK(log->tally_under(*log->map(), code("002"), DateRange::all_time()).value() ==
        log->tally(code("002"), DateRange::all_time()).value());

  Events refused;
  refused.add(R"({"unit":"01","effectiveDate":"2025-06-01","unitClosed":{"code":"002"}})");          // dated before
  refused.add(R"({"unit":"01","effectiveDate":"2025-08-01","unitMoved":{"code":"00004","parent":"00004"}})");  // itself
  refused.add(R"({"unit":"01","effectiveDate":"2025-08-01","unitMerged":{"code":"00037","into":["00001"]}})");  // merged
  refused.add(R"({"unit":"001","effectiveDate":"2025-08-01","unitClosed":{"code":"00004"}})");       // unit not the node
  refused.add(R"({"unit":"01","effectiveDate":"2025-08-01","unitClosed":{"code":"01"}})");           // the node itself
  refused.add(R"({"unit":"01","effectiveDate":"2025-08-01","eventRetracted":{"ref":"01:3"}})");      // a map event
  const auto refusals = log->submit(refused.all(), log_test::kNow);
  const std::vector<std::string> why{"map changes are issued in date order", "lies below the unit", "is merged",
                                     "a map event's unit is the node", "this node itself", "cannot be retracted"};
  for (size_t i = 0; i < refusals.size(); ++i) {
    INFO(i);
    REQUIRE(refusals[i].rejected);
    CHECK_THAT(refusals[i].rejected->message, Catch::Contains(why[i]));
  }

  TempDir scratch;
  std::filesystem::create_directories(scratch.str());
  auto report = log->verify_projections(scratch.str(), nullptr).value();
  CHECK(report.differences == 0);
  const uint64_t digest = log->projection_digest().value();
  REQUIRE(log->rebuild_projections(nullptr).ok());
  CHECK(log->projection_digest().value() == digest);
  CHECK(log->map()->heir(code("00001")) == code("99001"));

  // A reader beside it folds the same map.
  log.reset();
  auto reader = EventLog::open_reader(dir.str()).value();
  CHECK(reader->map()->heir(code("00001")) == code("99001"));
  CHECK(reader->map()->find(code("99001"))->parent == code("002"));
}

TEST_CASE("SubtreeCheck: a child relaying under an older map is not refused, foreign units and changes are refused",
          "[map]") {
  UnitMap map = UnitMap::parse_csv(testing::kSmallMapCsv).value();
  REQUIRE(map.apply(moved("00004", "002")).ok());
  const auto shared = std::make_shared<const UnitMap>(map);
  testing::ParsedEvents extras;
  const auto event = [&](const char* origin, const char* unit, const std::string& payload) {
    return extras.add(numbered(origin, 1, unit, "2025-07-02", payload));
  };
  const std::string activity = R"("activityReported":{"kind":"forums","count":"1","participants":"1"})";
  SubtreeCheck from_001(shared, code("001"));
  CHECK_FALSE(from_001.outside(event("00004", "00004", activity)));  // 00004 was below 001
  CHECK(from_001.outside(event("00037", "00037", activity)));        // never was
  // A unit registered earlier in the same batch is known to the events after it.
  SubtreeCheck batch(shared, code("001"));
  CHECK_FALSE(batch.outside(event("001", "001", R"("unitRegistered":{"code":"99009","name":"N","level":"ward","parent":"001"})")));
  CHECK_FALSE(batch.outside(event("001", "99009", activity)));
  CHECK(batch.outside(event("001", "001", R"("unitMerged":{"code":"00037","into":["00001"]})")));
  CHECK(batch.outside(event("001", "001", R"("unitRegistered":{"code":"99010","name":"N","level":"ward","parent":"002"})")));
}

}  // namespace
}  // namespace rollcall
