// Tests of the test data: the event generator's sets are reproducible, cover every member
// operation and are accepted whole by a node; the tally oracle computes what DESIGN.md
// "Projections" defines, checked by hand on a tiny set and for self-consistency on a province.
#include <catch2/catch.hpp>

#include <capnp/message.h>

#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/enum_name.h"
#include "engine/event_fields.h"
#include "engine/event_json.h"
#include "engine/event_log.h"
#include "tests/support/event_generator.h"
#include "tests/support/small_map.h"
#include "tests/support/tally_oracle.h"
#include "tests/support/test_dirs.h"

namespace rollcall::testing {
namespace {

UnitCode code(const char* text) {
  return UnitCode::parse(text).value();
}
Date day(const char* text) {
  return Date::parse(text).value();
}
const Date kFirstDay = day("1900-01-01"), kLastDay = day("2199-12-31");

const UnitMap& map_2024() {
  static const UnitMap map = UnitMap::load_csv_file(units_2024()).value();
  return map;
}

// Bắc Kạn, a small province: 8 districts, 108 communes.
GeneratorOptions bac_kan(uint64_t seed, size_t max_leaf_units = 0) {
  GeneratorOptions options;
  options.seed = seed;
  options.root = code("06");
  options.max_leaf_units = max_leaf_units;
  return options;
}

// Events parsed from JSON lines, kept alive for their readers.
class Parsed {
 public:
  void add(const std::string& line) {
    messages_.push_back(std::make_unique<capnp::MallocMessageBuilder>(256));
    auto status = json_.parse(line, messages_.back()->initRoot<schema::Event>());
    INFO(line << "\n" << (status.ok() ? std::string() : status.error().message()));
    REQUIRE(status.ok());
    readers_.push_back(messages_.back()->getRoot<schema::Event>().asReader());
  }
  const std::vector<schema::Event::Reader>& readers() const { return readers_; }

 private:
  EventJson json_;
  std::vector<std::unique_ptr<capnp::MallocMessageBuilder>> messages_;
  std::vector<schema::Event::Reader> readers_;
};

std::vector<std::string> all_json(const GeneratedEvents& generated) {
  std::vector<std::string> lines;
  for (size_t i = 0; i < generated.size(); ++i) lines.push_back(generated.json(i));
  return lines;
}

std::string str(capnp::Text::Reader text) {
  return std::string(text_view(text));
}

// Submits every line at one new node of unit `node`, in chunks, requiring each to be accepted
// with the id node:position (what node_submit_lines assumed for the retraction refs).
void submit_all_at_one_node(const std::vector<std::string>& lines, const UnitCode& node) {
  TempDir dir;
  LogOptions options;
  options.dir = dir / "data";
  options.unit = node;
  options.min_free_bytes = 0;
  auto log = EventLog::open_writer(options, map_2024());
  REQUIRE(log.ok());
  constexpr size_t kChunk = 500;
  for (size_t first = 0; first < lines.size(); first += kChunk) {
    Parsed chunk;
    for (size_t i = first; i < std::min(lines.size(), first + kChunk); ++i) chunk.add(lines[i]);
    const auto outcomes = log.value()->submit(chunk.readers(), Timestamp{1735689600000000});
    for (size_t k = 0; k < outcomes.size(); ++k) {
      if (!outcomes[k].accepted)
        FAIL("line " << first + k << " refused: " << outcomes[k].rejected->message << "\n"
                     << lines[first + k]);
      if (outcomes[k].accepted->seq != first + k + 1)
        FAIL("line " << first + k << " got seq " << outcomes[k].accepted->seq);
    }
  }
}

// The lines of a random submit order that respects must_follow, for the province's node.
std::vector<std::string> shuffled_lines(const GeneratedEvents& g, uint64_t seed) {
  std::mt19937_64 random(seed);
  const std::vector<size_t> order = random_submit_order(g, random);
  REQUIRE(order.size() == g.size());
  return node_submit_lines(g, order, code("06"));
}

}  // namespace

TEST_CASE(
    "Event generator: the same seed gives byte-identical events and another seed other events",
    "[generator]") {
  const auto first = all_json(generate_events(map_2024(), bac_kan(7, 12)));
  const auto again = all_json(generate_events(map_2024(), bac_kan(7, 12)));
  const auto other = all_json(generate_events(map_2024(), bac_kan(8, 12)));
  REQUIRE(first.size() > 1000);
  CHECK(first == again);
  CHECK(first != other);
}

TEST_CASE("Event generator: events are numbered per unit and every history runs forward in time",
          "[generator]") {
  const GeneratedEvents g = generate_events(map_2024(), bac_kan(3, 20));
  std::map<std::string, uint64_t> last_seq;
  std::map<std::string, int64_t> last_recorded;
  std::map<std::string, std::string> last_date_of_member;
  for (size_t i = 0; i < g.size(); ++i) {
    const auto e = g.events[i];
    INFO(g.json(i));
    REQUIRE(str(e.getOrigin()) == str(e.getUnit()));
    CHECK(e.getSeq() == ++last_seq[str(e.getOrigin())]);
    CHECK(e.getRecordedAt() > last_recorded[str(e.getOrigin())]);
    last_recorded[str(e.getOrigin())] = e.getRecordedAt();
    for (size_t before : g.must_follow[i]) CHECK(before < i);
    if (auto member = event_member_id(e)) {
      std::string& last = last_date_of_member[std::string(*member)];
      CHECK(last <= str(e.getEffectiveDate()));
      last = str(e.getEffectiveDate());
    }
  }
}

TEST_CASE(
    "Event generator: a province covers every operation and activity kind and rating and "
    "every transfer shape and retractions",
    "[generator]") {
  const GeneratedEvents g = generate_events(map_2024(), bac_kan(1));
  const UnitCode province = code("06");
  std::set<std::string> kinds, activities, ratings, reasons, measures;
  size_t same_district = 0, across_districts = 0, lone_out = 0, lone_in = 0, retractions = 0;
  std::set<std::string> retracted;
  for (size_t i = 0; i < g.size(); ++i) {
    const auto e = g.events[i];
    const UnitCode unit = UnitCode::trusted(text_view(e.getUnit()));
    REQUIRE(map_2024().in_subtree(unit, province));
    kinds.insert(std::string(event_kind_name(e)));
    if (e.isActivityReported()) activities.insert(enum_name(e.getActivityReported().getKind()));
    if (e.isMemberRated()) ratings.insert(enum_name(e.getMemberRated().getRating()));
    if (e.isMemberRemoved()) reasons.insert(enum_name(e.getMemberRemoved().getReason()));
    if (e.isDisciplineImposed()) measures.insert(enum_name(e.getDisciplineImposed().getMeasure()));
    if (e.isMemberAdmitted()) {
      const int born = day(e.getMemberAdmitted().getBirthDate().cStr()).year();
      CHECK(day(e.getEffectiveDate().cStr()).year() - born >= 16);
      CHECK(2024 - born <= 31);  // the oldest age out during the two years
      CHECK(str(e.getMemberAdmitted().getMemberId()).starts_with(unit.str() + "-"));
    }
    if (e.isMemberTransferredOut()) {
      const auto to = UnitCode::trusted(text_view(e.getMemberTransferredOut().getToUnit()));
      if (!map_2024().in_subtree(to, province)) ++lone_out;
    }
    if (e.isMemberTransferredIn()) {
      const auto from = UnitCode::trusted(text_view(e.getMemberTransferredIn().getFromUnit()));
      if (!map_2024().in_subtree(from, province)) {
        ++lone_in;  // a member never seen before, its id from the admitting ward elsewhere
        CHECK(g.must_follow[i].empty());
        CHECK(str(e.getMemberTransferredIn().getMemberId()).starts_with(from.str() + "-"));
      } else {
        REQUIRE(g.must_follow[i].size() == 1);
        const auto out = g.events[g.must_follow[i][0]];
        REQUIRE(out.isMemberTransferredOut());
        CHECK(out.getMemberTransferredOut().getToUnit() == e.getUnit());
        const bool same = map_2024().find(from)->parent == map_2024().find(unit)->parent;
        ++(same ? same_district : across_districts);
      }
    }
    if (e.isEventRetracted()) {
      ++retractions;
      REQUIRE(g.retraction_target[i].has_value());
      const auto target = g.events[*g.retraction_target[i]];
      CHECK(*g.retraction_target[i] < i);
      CHECK(e.getEventRetracted().getRef() == event_id(target));
      CHECK(target.getOrigin() == e.getOrigin());
      CHECK_FALSE(target.isEventRetracted());
      CHECK(retracted.insert(event_id(target)).second);  // never twice
    }
  }
  CAPTURE(kinds, same_district, across_districts, lone_out, lone_in, retractions);
  CHECK(kinds.size() == 17);  // the 15 member kinds, activityReported and eventRetracted
  CHECK(activities.size() == 11);
  CHECK(ratings.size() == 4);
  CHECK(reasons.size() == 3);
  CHECK(measures.size() == 2);
  CHECK(same_district > 10);
  CHECK(across_districts > 10);
  CHECK(lone_out > 5);
  CHECK(lone_in > 5);
  CHECK(retractions > 50);
}

TEST_CASE("Event generator: one node accepts every event of a whole province in a random order",
          "[generator]") {
  const GeneratedEvents g = generate_events(map_2024(), bac_kan(1));
  submit_all_at_one_node(shuffled_lines(g, 1000), code("06"));
}

TEST_CASE("Event generator: one node accepts every event in random submit orders of several seeds",
          "[generator]") {
  for (uint64_t seed = 2; seed <= 5; ++seed) {
    INFO("seed " << seed);
    const GeneratedEvents g = generate_events(map_2024(), bac_kan(seed, 16));
    submit_all_at_one_node(shuffled_lines(g, seed * 1000), code("06"));
  }
}

TEST_CASE("Tally oracle: on a generated province tallies agree with the registry and roll up",
          "[generator][oracle]") {
  const GeneratedEvents g = generate_events(map_2024(), bac_kan(5, 24));
  TallyOracle oracle(map_2024(), code("06"));
  TallyOracle national(map_2024(), code("VN"));
  for (const auto e : g.events) {
    oracle.add(e);
    national.add(e);
  }
  // members.active of a commune, over all time, is the number of members the registry has there.
  std::map<std::string, int64_t> active_at;
  for (const auto& [id, m] : oracle.members())
    if (m.status == "active") ++active_at[m.unit];
  // C3: a district's tallies are the sum of its communes' (districts have no events of their own).
  std::map<std::string, int64_t> province_sum;
  for (const UnitCode& district : map_2024().children(code("06"))) {
    std::map<std::string, int64_t> sum;
    for (const UnitCode& ward : map_2024().children(district)) {
      CHECK(oracle.value(ward, "members.active", kFirstDay, kLastDay) == active_at[ward.str()]);
      for (const auto& [metric, value] : oracle.values(ward, day("2024-01-01"), day("2024-06-30")))
        sum[metric] += value;
    }
    std::erase_if(sum, [](const auto& entry) { return entry.second == 0; });
    CHECK(oracle.values(district, day("2024-01-01"), day("2024-06-30")) == sum);
    for (const auto& [metric, value] : sum) province_sum[metric] += value;
    CHECK(oracle.in_transit(district) == 0);
  }
  CHECK(oracle.values(code("06"), day("2024-01-01"), day("2024-06-30")) == province_sum);
  CHECK(oracle.in_transit(code("06")) == 0);
  // At the national node a transfer to or from another province lacks its other half.
  std::set<size_t> retracted;
  for (const auto& target : g.retraction_target)
    if (target) retracted.insert(*target);
  int64_t lone_halves = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    const auto e = g.events[i];
    const bool out =
        e.isMemberTransferredOut() &&
        !map_2024().in_subtree(
            UnitCode::trusted(text_view(e.getMemberTransferredOut().getToUnit())), code("06"));
    const bool in = e.isMemberTransferredIn() && g.must_follow[i].empty();
    if ((out || in) && !retracted.contains(i)) ++lone_halves;
  }
  CHECK(lone_halves > 0);
  CHECK(national.in_transit(code("VN")) == lone_halves);
  CHECK(national.in_transit(code("06")) == 0);
}

namespace {

// The tiny set's lines carry their identity, as a node holding them would.
std::string line(const char* origin, int seq, const char* unit, const char* date,
                 const std::string& kind) {
  return std::string(R"({"origin":")") + origin + R"(","seq":)" + std::to_string(seq) +
         R"(,"unit":")" + unit + R"(","effectiveDate":")" + date + R"(",)" + kind + "}";
}
std::string admitted(const char* member, const char* name) {
  return std::string(R"("memberAdmitted":{"memberId":")") + member + R"(","fullName":")" + name +
         R"(","birthDate":"2000-01-01"})";
}
std::string moved_out(const char* member, const char* to) {
  return std::string(R"("memberTransferredOut":{"memberId":")") + member + R"(","toUnit":")" + to +
         "\"}";
}
std::string moved_in(const char* member, const char* from) {
  return std::string(R"("memberTransferredIn":{"memberId":")") + member + R"(","fromUnit":")" +
         from + "\"}";
}
std::string about(const char* kind, const char* member) {
  return std::string("\"") + kind + R"(":{"memberId":")" + member + "\"}";
}
std::string forums(int count, int participants) {
  return R"("activityReported":{"kind":"forums","count":)" + std::to_string(count) +
         R"(,"participants":)" + std::to_string(participants) + "}";
}
std::string retracting(const char* ref) {
  return std::string(R"("eventRetracted":{"ref":")") + ref + "\"}";
}

// Hà Nội 01 > Ba Đình 001 > wards 00001, 00004; Hoàn Kiếm 002 > ward 00037.
const std::vector<std::string> kTinySet = {
    line("00001", 1, "00001", "2024-01-10", admitted("m1", "Phạm Minh Tuấn")),
    line("00001", 2, "00001", "2024-01-12", admitted("m2", "Lê Thị Lan")),
    line("00004", 1, "00004", "2024-02-01", admitted("m3", "Vũ Đức Nam")),
    line("00001", 3, "00001", "2024-03-01", moved_out("m1", "00004")),
    line("00004", 2, "00004", "2024-03-03", moved_in("m1", "00001")),
    line("00004", 3, "00004", "2024-04-01", moved_out("m3", "00037")),  // its in-half is not held
    line("00001", 4, "00001", "2024-05-01", forums(3, 40)),
    line("00001", 5, "00001", "2024-05-10", forums(2, 10)),
    line("00001", 6, "00001", "2024-05-11", retracting("00001:5")),
};

std::string describe(const std::map<std::string, TallyOracle::Member>& members) {
  std::string text;
  for (const auto& [id, m] : members)
    text += id + ": " + m.unit + " " + m.status + " " + m.to_unit +
            " away=" + std::to_string(m.working_away) + " honorary=" + std::to_string(m.honorary) +
            " " + m.full_name + " since " + m.since + "\n";
  return text;
}

}  // namespace

TEST_CASE("Tally oracle: hand-computed tallies and roll-ups and inTransit of a tiny set",
          "[oracle]") {
  const UnitMap map = UnitMap::parse_csv(kSmallMapCsv).value();
  Parsed events;
  for (const std::string& l : kTinySet) events.add(l);
  TallyOracle oracle(map, code("01"));
  // Fed backwards: the oracle, like the projections, must not care about order.
  for (auto it = events.readers().rbegin(); it != events.readers().rend(); ++it) oracle.add(*it);
  const Date from = day("2024-01-01"), to = day("2024-12-31");
  using Values = std::map<std::string, int64_t>;
  const Values ward1 = {{"members.active", 1},
                        {"members.admitted", 2},
                        {"members.transferredOut", 1},
                        {"activity.forums.count", 3},
                        {"activity.forums.participants", 40},
                        {"activity.forums.reports", 1}};
  const Values ward4 = {{"members.active", 1},
                        {"members.admitted", 1},
                        {"members.transferredIn", 1},
                        {"members.transferredOut", 1}};
  const Values district = {{"members.active", 2},         {"members.admitted", 3},
                           {"members.transferredIn", 1},  {"members.transferredOut", 2},
                           {"activity.forums.count", 3},  {"activity.forums.participants", 40},
                           {"activity.forums.reports", 1}};
  CHECK(oracle.values(code("00001"), from, to) == ward1);
  CHECK(oracle.values(code("00004"), from, to) == ward4);
  CHECK(oracle.values(code("001"), from, to) == district);  // C3: 001 = 00001 + 00004
  CHECK(oracle.values(code("00037"), from, to).empty());
  CHECK(oracle.values(code("002"), from, to).empty());
  CHECK(oracle.values(code("01"), from, to) == district);  // C3: 01 = 001 + 002
  // A period holding both halves of the transfer leaves their common ancestor unchanged.
  CHECK(oracle.value(code("001"), "members.active", day("2024-03-01"), day("2024-03-03")) == 0);
  CHECK(oracle.value(code("001"), "members.active", day("2024-03-01"), day("2024-03-02")) == -1);
  CHECK(oracle.value(code("00001"), "members.active", from, day("2024-02-29")) == 2);
  // The second forum report was retracted.
  CHECK(oracle.value(code("01"), "activity.forums.count", day("2024-05-10"), to) == 0);
  // m3 left 00004 for 00037: both ends are in 01's subtree only.
  CHECK(oracle.in_transit(code("01")) == 1);
  CHECK(oracle.in_transit(code("001")) == 0);
  CHECK(oracle.in_transit(code("002")) == 0);
  CHECK(oracle.in_transit(code("00004")) == 0);

  // At Ba Đình's node, Hà Nội is outside the subtree: nothing rolls up into it.
  TallyOracle ba_dinh(map, code("001"));
  for (const auto e : events.readers()) ba_dinh.add(e);
  CHECK(ba_dinh.values(code("001"), from, to) == district);
  CHECK(ba_dinh.values(code("01"), from, to).empty());
  CHECK(ba_dinh.in_transit(code("01")) == 0);
}

TEST_CASE(
    "Tally oracle: the member registry folds by effective date and ignores retracted and "
    "stale events",
    "[oracle]") {
  const UnitMap map = UnitMap::parse_csv(kSmallMapCsv).value();
  Parsed events;
  for (const std::string& l : kTinySet) events.add(l);
  events.add(line("00001", 7, "00001", "2024-06-01", about("memberMatured", "m2")));
  events.add(line("00001", 8, "00001", "2024-06-02", retracting("00001:7")));
  events.add(line("00004", 4, "00004", "2024-03-05", about("honoraryRecognized", "m1")));
  events.add(line("00004", 5, "00004", "2024-03-06",
                  R"("workingAwayStarted":{"memberId":"m1","place":"Hàn Quốc"})"));
  // m4 arrives at 00004 (recorded first) a day before 00001 reports it leaving: stale there.
  events.add(line("00004", 6, "00004", "2024-07-01", moved_in("m4", "00001")));
  events.add(line("00001", 9, "00001", "2024-07-02", moved_out("m4", "00004")));
  // m5: the same day, origin 00004 sorts before 00037: out first, then in.
  events.add(line("00037", 1, "00037", "2024-08-01", moved_in("m5", "00004")));
  events.add(line("00004", 7, "00004", "2024-08-01", moved_out("m5", "00037")));
  TallyOracle oracle(map, code("01"));
  for (const auto e : events.readers()) oracle.add(e);

  using Member = TallyOracle::Member;
  const std::map<std::string, Member> expected = {
      {"m1", Member{"00004", "active", "", true, true, false, "Phạm Minh Tuấn", "2024-03-03"}},
      {"m2", Member{"00001", "active", "", false, false, false, "Lê Thị Lan", "2024-01-12"}},
      {"m3",
       Member{"00004", "transferredOut", "00037", false, false, false, "Vũ Đức Nam", "2024-04-01"}},
      {"m4", Member{"00004", "active", "", false, false, false, "", "2024-07-01"}},
      {"m5", Member{"00037", "active", "", false, false, false, "", "2024-08-01"}},
  };
  const auto members = oracle.members();
  INFO(describe(members));
  CHECK(members == expected);
}

}  // namespace rollcall::testing
