// ProjectionBatch over an in-memory store: the rules of C2 one by one, each event order
// giving byte-identical rows.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>

#include "engine/event_fields.h"
#include "engine/keys.h"
#include "engine/metrics.h"
#include "engine/projection.h"
#include "tests/engine/event_log_fixture.h"
#include "tests/support/memory_projection_store.h"

namespace rollcall {
namespace {

using log_test::Events;
using testing::MemoryProjectionStore;

// `body` with origin and seq set: {"origin":..,"seq":..,<rest of body>}.
std::string numbered(const std::string& origin, uint64_t seq, const std::string& body) {
  return R"({"origin":")" + origin + R"(","seq":)" + std::to_string(seq) + "," + body.substr(1);
}

class Harness {
 public:
  Harness() : map_(UnitMap::parse_csv(testing::kSmallMapCsv).value()), paths_(map_, UnitCode::trusted("01")) {}

  // Applies events (indexes into `events`) one ProjectionBatch per group.
  void apply(const Events& events, const std::vector<std::vector<size_t>>& groups) {
    for (const auto& group : groups) {
      ProjectionBatch batch(store_, paths_);
      for (size_t i : group) {
        auto e = events.all()[i];
        auto applied = batch.apply(e, [&](const OriginSeq& id) -> Result<std::optional<HeldEvent>> {
          auto it = held_.find(id.to_string());
          if (it == held_.end()) return std::optional<HeldEvent>();
          return std::optional<HeldEvent>(HeldEvent{it->second, nullptr});
        });
        REQUIRE(applied.ok());
        held_.emplace(event_id(e), e);
      }
      auto changes = batch.changes();
      REQUIRE(changes.ok());
      store_.apply(*changes);
    }
  }
  void apply_in_order(const Events& events, const std::vector<size_t>& order) {
    std::vector<std::vector<size_t>> groups;
    for (size_t i : order) groups.push_back({i});
    apply(events, groups);
  }

  int64_t tally(const char* unit, Granularity g, uint32_t bucket, std::string_view metric) const {
    return value(keys::tally_key(unit, static_cast<char>(g), bucket, metric));
  }
  int64_t in_transit(const char* unit) const { return value(keys::current_tally_key(unit, kInTransitMetric)); }
  std::optional<MemberRecord> member(const char* id) const {
    auto v = store_.get(Cf::kMembers, id).value();
    if (!v) return std::nullopt;
    return decode_member_record(*v).value();
  }
  bool indexed(const char* unit, const char* member) const {
    return store_.get(Cf::kMemberUnits, keys::member_unit_key(unit, member)).value().has_value();
  }
  const MemoryProjectionStore& store() const { return store_; }

 private:
  int64_t value(const std::string& key) const {
    auto v = store_.get(Cf::kTallies, key).value();
    int64_t n = 0;
    if (v) REQUIRE(keys::decode_i64(*v, &n));
    return n;
  }

  UnitMap map_;
  RollupPaths paths_;
  MemoryProjectionStore store_;
  std::map<std::string, schema::Event::Reader> held_;
};

std::vector<std::vector<size_t>> all_orders(size_t n) {
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::vector<std::vector<size_t>> out;
  do out.push_back(order);
  while (std::next_permutation(order.begin(), order.end()));
  return out;
}

constexpr auto kYear = Granularity::kYear;

}  // namespace

TEST_CASE("Projection: the halves of a transfer in any order count out and in, and inTransit only while one is held", "[projection]") {
  Events events;
  events.add(numbered("00001", 1, log_test::admit("00001", "m")));
  events.add(numbered("00001", 2, log_test::transfer_out("00001", "m", "00037")));
  events.add(numbered("00037", 1, log_test::transfer_in("00037", "m", "00001")));

  Harness reference;
  reference.apply_in_order(events, {0, 1, 2});
  for (const auto& order : all_orders(3)) {
    Harness h;
    h.apply_in_order(events, order);
    CHECK(h.store() == reference.store());
  }
  const auto& h = reference;
  CHECK(h.tally("00001", kYear, 2024, "members.active") == 0);
  CHECK(h.tally("00001", kYear, 2024, "members.transferredOut") == 1);
  CHECK(h.tally("00037", kYear, 2024, "members.active") == 1);
  CHECK(h.tally("002", kYear, 2024, "members.transferredIn") == 1);
  CHECK(h.tally("001", kYear, 2024, "members.active") == 0);
  // The common ancestor sees the member stay: admitted, out and in net to one active member.
  CHECK(h.tally("01", kYear, 2024, "members.active") == 1);
  CHECK(h.tally("01", Granularity::kMonth, 202404, "members.active") == 0);
  CHECK(h.tally("01", Granularity::kDay, 20240401, "members.active") == -1);
  CHECK(h.in_transit("01") == 0);
  REQUIRE(h.member("m"));
  CHECK(h.member("m")->state.unit == "00037");
  CHECK(h.indexed("00037", "m"));
  CHECK_FALSE(h.indexed("00001", "m"));

  // Only the out half: in transit at the province (both ends below it), not at either district.
  Harness half;
  half.apply_in_order(events, {0, 1});
  CHECK(half.in_transit("01") == 1);
  CHECK(half.in_transit("001") == 0);
  CHECK(half.in_transit("002") == 0);
  CHECK(half.member("m")->state.status == storage::MemberStatus::TRANSFERRED_OUT);
  // Only the in half: the same count.
  Harness other_half;
  other_half.apply_in_order(events, {2});
  CHECK(other_half.in_transit("01") == 1);
  CHECK(other_half.member("m")->state.unit == "00037");
}

TEST_CASE("Projection: a transfer to a unit outside the node's map is never in transit", "[projection]") {
  Events events;
  events.add(numbered("00001", 1, log_test::admit("00001", "m")));
  events.add(numbered("00001", 2, log_test::transfer_out("00001", "m", "26734")));
  Harness h;
  h.apply_in_order(events, {0, 1});
  CHECK(h.in_transit("01") == 0);
  CHECK(h.tally("01", kYear, 2024, "members.active") == 0);
  CHECK(h.tally("01", kYear, 2024, "members.transferredOut") == 1);
}

TEST_CASE("Projection: a retraction before or after its target removes exactly its contribution", "[projection]") {
  Events events;
  events.add(numbered("00001", 1, log_test::activity("00001", 7)));
  events.add(numbered("00001", 2, log_test::activity("00001", 5)));
  events.add(numbered("00001", 3, log_test::retract("00001:1")));
  Harness reference;
  reference.apply_in_order(events, {0, 1, 2});
  CHECK(reference.tally("01", kYear, 2024, "activity.forums.count") == 5);
  CHECK(reference.tally("00001", kYear, 2024, "activity.forums.reports") == 1);
  CHECK(reference.store().get(Cf::kRetracted, "00001:1").value() == std::optional<std::string>("00001:3"));
  for (const auto& order : all_orders(3)) {
    Harness h;
    h.apply_in_order(events, order);
    CHECK(h.store() == reference.store());
  }
  // All three in one batch, retraction first.
  Harness batched;
  batched.apply(events, {{2, 0, 1}});
  CHECK(batched.store() == reference.store());
}

TEST_CASE("Projection: two retractions of one event keep the smaller id whatever the order", "[projection]") {
  Events events;
  events.add(numbered("00001", 1, log_test::activity("00001", 7)));
  events.add(numbered("00001", 2, log_test::retract("00001:1")));
  events.add(numbered("00001", 3, log_test::retract("00001:1")));
  Harness reference;
  reference.apply_in_order(events, {0, 1, 2});
  CHECK(reference.store().get(Cf::kRetracted, "00001:1").value() == std::optional<std::string>("00001:2"));
  CHECK(reference.tally("00001", kYear, 2024, "activity.forums.count") == 0);
  for (const auto& order : all_orders(3)) {
    Harness h;
    h.apply_in_order(events, order);
    CHECK(h.store() == reference.store());
  }
}

TEST_CASE("Projection: a member's state is the fold of its events by effective date, not by arrival", "[projection]") {
  Events events;
  events.add(numbered("00001", 1, log_test::admit("00001", "m")));  // 2024-03-01
  events.add(numbered("00001", 2, R"({"unit":"00001","effectiveDate":"2024-06-30","memberMatured":{"memberId":"m"}})"));
  events.add(numbered("00001", 3, R"({"unit":"00001","effectiveDate":"2024-04-10","honoraryRecognized":{"memberId":"m"}})"));
  events.add(numbered("00001", 4, R"({"unit":"00001","effectiveDate":"2024-05-02","eventRetracted":{"ref":"00001:2"}})"));
  Harness reference;
  reference.apply_in_order(events, {0, 1, 2});
  REQUIRE(reference.member("m"));
  CHECK(reference.member("m")->state.status == storage::MemberStatus::MATURED);
  CHECK(reference.member("m")->state.honorary);
  CHECK(reference.member("m")->state.since == "2024-06-30");
  REQUIRE(reference.member("m")->history.size() == 3);
  CHECK(reference.member("m")->history[1].date == "2024-04-10");
  for (const auto& order : all_orders(3)) {
    Harness h;
    h.apply_in_order(events, order);
    CHECK(h.store() == reference.store());
  }
  // Retracting the maturing makes the member active again, in the index and in the tallies.
  Harness with_retraction;
  with_retraction.apply_in_order(events, {0, 1, 2, 3});
  for (const auto& order : all_orders(4)) {
    Harness h;
    h.apply_in_order(events, order);
    CHECK(h.store() == with_retraction.store());
    REQUIRE(h.member("m"));
    CHECK(h.member("m")->state.status == storage::MemberStatus::ACTIVE);
    CHECK(h.member("m")->history.size() == 2);
    CHECK(h.indexed("00001", "m"));
    CHECK(h.tally("01", kYear, 2024, "members.active") == 1);
    CHECK(h.tally("01", kYear, 2024, "members.matured") == 0);
  }
}

TEST_CASE("Projection: retracting a member's only event removes the member and its index entry", "[projection]") {
  Events events;
  events.add(numbered("00001", 1, log_test::admit("00001", "m")));
  events.add(numbered("00001", 2, log_test::retract("00001:1")));
  Harness h;
  h.apply_in_order(events, {0, 1});
  CHECK_FALSE(h.member("m"));
  CHECK_FALSE(h.indexed("00001", "m"));
  // Nothing but the retraction mark is left: no zero rows.
  REQUIRE(h.store().rows().size() == 1);
  CHECK(h.store().rows().begin()->first.first == Cf::kRetracted);
}

TEST_CASE("RollupPaths: an event rolls up to the node and no further", "[projection]") {
  const auto map = UnitMap::parse_csv(testing::kSmallMapCsv).value();
  RollupPaths at_district(map, UnitCode::trusted("001"));
  CHECK(at_district.chain("00001") == std::vector<std::string>{"00001", "001"});
  CHECK(at_district.chain("001") == std::vector<std::string>{"001"});
  CHECK(at_district.chain("00037") == std::vector<std::string>{"00037"});  // outside the subtree
  CHECK(at_district.chain("99999") == std::vector<std::string>{"99999"});  // not in the map
  RollupPaths at_province(map, UnitCode::trusted("01"));
  CHECK(at_province.chain("00004") == std::vector<std::string>{"00004", "001", "01"});
  CHECK(at_province.common_chain("00001", "00004") == std::vector<std::string>{"001", "01"});
  CHECK(at_province.common_chain("00001", "00037") == std::vector<std::string>{"01"});
  CHECK(at_province.common_chain("00001", "99999").empty());
  CHECK(at_district.common_chain("00001", "00037").empty());
}

}  // namespace rollcall
