// Property tests of the projections (C2, C3, C6) over seeded, generated event sets of real units.
//
// - Projection level: arbitrary permutations of a valid set, split into random batches, give
//   byte-identical rows, equal to the naive oracle (tests/support/tally_oracle.h).
// - Log level: relayed in random per-origin interleavings with duplicates and resends, nodes hold
//   byte-identical projections; submitted in random member-respecting orders, a province's year
//   gives the oracle's tallies by month, quarter and year.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include <capnp/message.h>

#include "engine/event_fields.h"
#include "engine/event_json.h"
#include "engine/event_log.h"
#include "engine/keys.h"
#include "engine/metrics.h"
#include "engine/projection.h"
#include "tests/support/event_generator.h"
#include "tests/support/memory_projection_store.h"
#include "tests/support/projection_test_helpers.h"
#include "tests/support/tally_oracle.h"
#include "tests/support/test_dirs.h"
#include "tests/support/test_env.h"

namespace rollcall {
namespace {

using testing::GeneratedEvents;
using testing::MemoryProjectionStore;
using testing::TallyOracle;
using EventSet = std::vector<schema::Event::Reader>;

const UnitMap& map_2024() {
  static const UnitMap map = UnitMap::load_csv_file(testing::units_2024()).value();
  return map;
}

GeneratedEvents generate(const char* root, uint64_t seed, size_t leaves, size_t members) {
  testing::GeneratorOptions options;
  options.seed = seed;
  options.root = UnitCode::parse(root).value();
  options.max_leaf_units = leaves;
  options.members_per_unit = members;
  options.retraction_rate = 0.05;
  return testing::generate_events(map_2024(), options);
}

Date day(int y, unsigned m, unsigned d) { return Date::from_ymd(y, m, d).value(); }

// The periods every comparison covers: each month, quarter and half of the two generated years,
// the years themselves, a few as-of days, and all time.
std::vector<DateRange> periods() {
  std::vector<DateRange> out{DateRange::all_time()};
  for (int year : {2023, 2024, 2025}) {
    out.push_back(parse_period(std::to_string(year)).value());
    for (const char* part : {"-H1", "-H2", "-Q1", "-Q2", "-Q3", "-Q4"})
      out.push_back(parse_period(std::to_string(year) + part).value());
    for (unsigned m = 1; m <= 12; ++m) {
      const std::string month = std::to_string(year) + (m < 10 ? "-0" : "-") + std::to_string(m);
      out.push_back(parse_period(month).value());
    }
  }
  for (auto [m, d] : {std::pair{3u, 17u}, std::pair{6u, 30u}, std::pair{11u, 2u}})
    out.push_back(DateRange::as_of(day(2024, m, d)));
  return out;
}

// The units whose tallies a node at `node` keeps: the node's subtree as far as events reach.
std::set<std::string> units_touched(const EventSet& events, const UnitCode& node) {
  std::set<std::string> units;
  for (auto e : events) {
    UnitCode at = UnitCode::trusted(text_view(e.getUnit()));
    units.insert(at.str());
    for (const UnitCode& up : map_2024().ancestors(at)) {
      if (!map_2024().in_subtree(up, node)) break;
      units.insert(up.str());
    }
  }
  return units;
}

// Sums the rows of one granularity of `store` for unit over buckets [first, last], by metric.
std::map<std::string, int64_t> sum_rows(const MemoryProjectionStore& store, const std::string& unit,
                                        Granularity g, uint32_t first, uint32_t last) {
  std::map<std::string, int64_t> sums;
  const std::string prefix = keys::tally_prefix(unit, static_cast<char>(g));
  for (const auto& [key, value] : store.rows()) {
    if (key.first != Cf::kTallies || !key.second.starts_with(prefix) || key.second.size() < prefix.size() + 4) continue;
    const uint32_t bucket = keys::get_be32(key.second, prefix.size());
    if (bucket < first || bucket > last) continue;
    int64_t n = 0;
    REQUIRE(keys::decode_i64(value, &n));
    sums[key.second.substr(prefix.size() + 4)] += n;
  }
  std::erase_if(sums, [](const auto& entry) { return entry.second == 0; });
  return sums;
}

// Appends, for the first retraction of the set, a second retraction of its target and a
// retraction of the retraction, numbered after the last event of its origin.
void add_adversarial_retractions(const EventSet& generated, testing::ParsedEvents& extras, EventSet& out) {
  std::map<std::string, uint64_t> last_seq;
  for (auto e : generated) {
    auto& seq = last_seq[std::string(text_view(e.getOrigin()))];
    seq = std::max(seq, e.getSeq());
  }
  for (auto e : generated) {
    if (!e.isEventRetracted()) continue;
    const std::string origin(text_view(e.getOrigin()));
    const auto line = [&](uint64_t seq, const std::string& ref) {
      return R"({"origin":")" + origin + R"(","seq":)" + std::to_string(seq) + R"(,"unit":")" +
             std::string(text_view(e.getUnit())) + R"(","effectiveDate":"2025-01-15","eventRetracted":{"ref":")" + ref +
             R"("}})";
    };
    const uint64_t next = last_seq[origin] + 1;
    out.push_back(extras.add(line(next, std::string(text_view(e.getEventRetracted().getRef())))));
    out.push_back(extras.add(line(next + 1, event_id(e))));
    return;
  }
  FAIL("the generated set has no retraction");
}

TallyOracle oracle_of(const EventSet& events, const UnitCode& node) {
  TallyOracle oracle(map_2024(), node);
  for (auto e : events) oracle.add(e);
  return oracle;
}

std::string status_name(const MemberRecord& r) { return member_status_name(r.state.status); }

// C6 against the oracle and C3 for every unit, on the rows of one store.
void check_against_oracle(const MemoryProjectionStore& store, const EventSet& events, const UnitCode& node) {
  const TallyOracle oracle = oracle_of(events, node);
  const auto units = units_touched(events, node);
  for (const std::string& unit : units) {
    const UnitCode code = UnitCode::trusted(unit);
    for (int year : {2023, 2024, 2025}) {
      INFO("unit " << unit << " year " << year);
      const auto expected_year = oracle.values(code, day(year, 1, 1), day(year, 12, 31));
      CHECK(sum_rows(store, unit, Granularity::kYear, year, year) == expected_year);
      for (unsigned m = 1; m <= 12; ++m) {
        INFO("month " << m);
        const uint32_t month = static_cast<uint32_t>(year) * 100 + m;
        const Date first = day(year, m, 1);
        const Date last = Date::from_days(day(m == 12 ? year + 1 : year, m == 12 ? 1 : m + 1, 1).days() - 1);
        const auto expected = oracle.values(code, first, last);
        CHECK(sum_rows(store, unit, Granularity::kMonth, month, month) == expected);
        CHECK(sum_rows(store, unit, Granularity::kDay, month * 100 + 1, month * 100 + 31) == expected);
      }
    }
    CHECK(sum_rows(store, unit, Granularity::kYear, 1900, 2199) ==
          oracle.values(code, DateRange::all_time().first, DateRange::all_time().last));
    int64_t in_transit = 0;
    if (auto v = store.get(Cf::kTallies, keys::current_tally_key(unit, kInTransitMetric)).value())
      REQUIRE(keys::decode_i64(*v, &in_transit));
    CHECK(in_transit == oracle.in_transit(code));

    // C3: a unit's tally is its own events plus its children's tallies.
    auto total = sum_rows(store, unit, Granularity::kYear, 1900, 2199);
    for (const UnitCode& child : map_2024().children(code))
      for (const auto& [metric, n] : sum_rows(store, child.str(), Granularity::kYear, 1900, 2199)) total[metric] -= n;
    std::erase_if(total, [](const auto& entry) { return entry.second == 0; });
    // The unit's own events, from an oracle that holds only those (and the retractions).
    TallyOracle own_oracle(map_2024(), node);
    for (auto e : events)
      if (text_view(e.getUnit()) == unit || e.isEventRetracted()) own_oracle.add(e);
    auto own = own_oracle.values(code, DateRange::all_time().first, DateRange::all_time().last);
    std::erase_if(own, [](const auto& entry) { return entry.second == 0; });
    INFO("C3 at unit " << unit);
    CHECK(total == own);
  }

  // The member registry, member by member.
  const auto expected_members = oracle.members();
  size_t members = 0;
  for (const auto& [key, value] : store.rows()) {
    if (key.first != Cf::kMembers) continue;
    ++members;
    const auto record = decode_member_record(value).value();
    INFO("member " << key.second);
    REQUIRE(expected_members.count(key.second));
    const auto& want = expected_members.at(key.second);
    CHECK(record.state.unit == want.unit);
    CHECK(status_name(record) == want.status);
    CHECK(record.state.to_unit == want.to_unit);
    CHECK(record.state.working_away == want.working_away);
    CHECK(record.state.honorary == want.honorary);
    CHECK(record.state.outstanding == want.outstanding);
    CHECK(record.state.full_name == want.full_name);
    CHECK(record.state.since == want.since);
    CHECK(store.get(Cf::kMemberUnits, keys::member_unit_key(record.state.unit, key.second)).value().has_value());
  }
  CHECK(members == expected_members.size());
}

}  // namespace

TEST_CASE("Tally property: any permutation of a generated set in random batches gives byte-identical projections equal to the oracle",
          "[tally][property]") {
  // Two districts' worth of wards in different provinces' subtrees of the map, seen from the node
  // of their province: transfers inside, across districts and across the border.
  const auto [root, node, seed] = GENERATE(std::tuple{"001", "01", uint64_t{11}}, std::tuple{"06", "06", uint64_t{12}},
                                           std::tuple{"760", "79", uint64_t{13}});
  const GeneratedEvents g = generate(root, seed, 6, 4);
  REQUIRE(g.size() > 200);
  const UnitCode node_code = UnitCode::parse(node).value();
  RollupPaths paths(map_2024(), node_code);
  std::mt19937_64 rng(seed);

  // What submit refuses but a relay could still carry: a second retraction of a retracted event,
  // and a retraction of a retraction, at the end of their origin.
  EventSet events = g.events;
  testing::ParsedEvents extras;
  add_adversarial_retractions(g.events, extras, events);

  std::vector<size_t> order(events.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  const MemoryProjectionStore reference = testing::project_in_batches(events, order, paths, rng);
  check_against_oracle(reference, events, node_code);

  // 700 orders a seed; ROLLCALL_PROPERTY_ORDERS sets fewer under the sanitizers.
  const uint64_t orders = testing::env_number("ROLLCALL_PROPERTY_ORDERS").value_or(700);
  for (uint64_t n = 0; n < orders; ++n) {
    std::shuffle(order.begin(), order.end(), rng);
    const MemoryProjectionStore store = testing::project_in_batches(events, order, paths, rng);
    INFO("order " << n << " of seed " << seed);
    REQUIRE(store == reference);
  }
}

TEST_CASE("Tally property: relayed in per-origin interleavings with duplicates and resends, logs hold byte-identical verified projections",
          "[tally][property]") {
  const GeneratedEvents g = generate("001", 21, 8, 6);
  const UnitCode node = UnitCode::trusted("01");
  std::map<std::string, std::vector<size_t>> by_origin;
  for (size_t i = 0; i < g.size(); ++i) by_origin[std::string(text_view(g.events[i].getOrigin()))].push_back(i);

  std::optional<uint64_t> digest;
  std::mt19937_64 rng(21);
  for (int run = 0; run < 6; ++run) {
    testing::TempDir dir;
    auto log = EventLog::open_writer(LogOptions{dir.path() + "/db", node, 0, 0}, map_2024()).value();
    std::map<std::string, size_t> sent;  // per origin: how many are delivered
    std::vector<std::string> origins;
    for (const auto& [origin, q] : by_origin) origins.push_back(origin);
    while (!origins.empty()) {
      // A relayed batch: runs of a few origins, each resuming a little before where it stopped
      // (a resend after a lost ack), all in seq order per origin.
      std::vector<schema::Event::Reader> batch;
      for (int runs = 0; runs < 3 && !origins.empty(); ++runs) {
        const size_t pick = rng() % origins.size();
        const auto& q = by_origin[origins[pick]];
        size_t& done = sent[origins[pick]];
        const size_t from = done - std::min(done, static_cast<size_t>(rng() % 4));
        const size_t to = std::min(q.size(), done + 1 + static_cast<size_t>(rng() % 40));
        for (size_t k = from; k < to; ++k) batch.push_back(g.events[q[k]]);
        done = to;
        if (done == q.size()) origins.erase(origins.begin() + static_cast<std::ptrdiff_t>(pick));
      }
      auto report = log->ingest(batch);
      INFO((report.ok() ? std::string() : report.error().message()));
      REQUIRE(report.ok());
    }
    CHECK(log->last_lsn().value == g.size());
    auto verified = log->verify_projections(dir.path(), nullptr);
    REQUIRE(verified.ok());
    CHECK(verified->differences == 0);
    const uint64_t d = log->projection_digest().value();
    if (digest) CHECK(d == *digest);
    digest = d;
  }
}

TEST_CASE("Tally property: a generated province year submitted in random order gives the oracle's tallies by month, quarter and year",
          "[tally][property]") {
  testing::GeneratorOptions options;
  options.seed = 31;
  options.root = UnitCode::trusted("06");
  options.members_per_unit = 8;
  const GeneratedEvents g = testing::generate_events(map_2024(), options);
  const UnitCode node = UnitCode::trusted("06");
  std::mt19937_64 rng(31);
  const auto order = testing::random_submit_order(g, rng);
  const auto lines = testing::node_submit_lines(g, order, node);

  testing::TempDir dir;
  auto log = EventLog::open_writer(LogOptions{dir.path() + "/db", node, 0, 0}, map_2024()).value();
  const EventJson json;
  for (size_t at = 0; at < lines.size();) {
    const size_t n = std::min(lines.size() - at, size_t{1} + rng() % 700);
    std::vector<std::unique_ptr<capnp::MallocMessageBuilder>> messages;
    std::vector<schema::Event::Reader> events;
    for (size_t k = at; k < at + n; ++k) {
      messages.push_back(std::make_unique<capnp::MallocMessageBuilder>());
      REQUIRE(json.parse(lines[k], messages.back()->initRoot<schema::Event>()).ok());
      events.push_back(messages.back()->getRoot<schema::Event>().asReader());
    }
    for (const auto& outcome : log->submit(events, Timestamp{1735689600000000})) {
      INFO((outcome.rejected ? outcome.rejected->message : std::string()));
      REQUIRE(outcome.accepted);
    }
    at += n;
  }
  // The oracle recomputes from the events as the node numbered them.
  TallyOracle oracle(map_2024(), node);
  auto held = log->read(Lsn{1}, g.size() + 1).value();
  REQUIRE(held.size() == g.size());
  for (const auto& logged : held) oracle.add(logged.event());

  const auto all_periods = periods();
  for (const std::string& unit : units_touched(g.events, node)) {
    const UnitCode code = UnitCode::trusted(unit);
    for (const DateRange& range : all_periods) {
      INFO("unit " << unit << " from " << range.first.to_string() << " to " << range.last.to_string());
      CHECK(log->tally(code, range).value() == oracle.values(code, range.first, range.last));
    }
    INFO("unit " << unit);
    CHECK(log->in_transit(code).value() == oracle.in_transit(code));
  }
  for (const auto& [id, want] : oracle.members()) {
    INFO("member " << id);
    auto record = log->member(id).value();
    REQUIRE(record);
    CHECK(record->state.unit == want.unit);
    CHECK(member_status_name(record->state.status) == want.status);
    CHECK(record->state.to_unit == want.to_unit);
    CHECK(record->state.working_away == want.working_away);
    CHECK(record->state.honorary == want.honorary);
    CHECK(record->state.outstanding == want.outstanding);
    CHECK(record->state.full_name == want.full_name);
    CHECK(record->state.since == want.since);
  }
  auto verified = log->verify_projections(dir.path(), nullptr);
  REQUIRE(verified.ok());
  CHECK(verified->differences == 0);
}

}  // namespace rollcall
