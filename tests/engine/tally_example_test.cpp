// The first end-to-end check of the tallies: shared/examples holds a year of events for the
// wards of Ba Đình and the tallies they must give, computed independently of rollcall.
#include <capnp/compat/json.h>
#include <capnp/message.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>

#include "engine/event_log.h"
#include "engine/event_fields.h"
#include "engine/metrics.h"
#include "tests/engine/event_log_fixture.h"
#include "tests/support/test_dirs.h"

namespace rollcall {
namespace {

using log_test::Events;
using log_test::TempDir;

std::vector<std::string> example_lines() {
  auto lines = testing::split_lines(testing::read_text(testing::ba_dinh_events()));
  REQUIRE(lines.size() == 400);
  return lines;
}

DateRange range_of(const std::string& period) {
  if (period == "all") return DateRange::all_time();
  if (period.starts_with("asOf:")) return DateRange::as_of(Date::parse(period.substr(5)).value());
  return parse_period(period).value();
}

// Checks every unit x period x metric of the expected file against the log's tallies.
void check_expected_tallies(const EventLog& log) {
  const std::string text = testing::read_text(testing::shared_dir() + "/examples/ba-dinh-2024.tallies.json");
  capnp::JsonCodec codec;
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<capnp::JsonValue>();
  codec.decodeRaw(kj::ArrayPtr<const char>(text.data(), text.size()), root);
  size_t checked = 0;
  for (auto unit : root.asReader().getObject()) {
    for (auto period : unit.getValue().getObject()) {
      const std::string name = period.getName().cStr();
      auto sums = log.tally(UnitCode::parse(unit.getName().cStr()).value(), range_of(name));
      REQUIRE(sums.ok());
      for (auto metric : period.getValue().getObject()) {
        const std::string m = metric.getName().cStr();
        INFO("unit " << unit.getName().cStr() << " period " << name << " metric " << m);
        REQUIRE(is_dated_metric(m));
        const auto found = sums->count(m) ? sums->at(m) : 0;
        CHECK(found == static_cast<int64_t>(metric.getValue().getNumber()));
        ++checked;
      }
    }
  }
  CHECK(checked == 741);  // every value the file lists
}

std::unique_ptr<EventLog> open_province(const TempDir& dir, const UnitMap& map) {
  auto log = EventLog::open_writer(LogOptions{dir.str(), UnitCode::parse("01").value()}, map);
  REQUIRE(log.ok());
  return std::move(log).value();
}

}  // namespace

TEST_CASE("Tallies: the Ba Dinh example year gives exactly the independently computed tallies", "[tally]") {
  const auto map = UnitMap::load_csv_file(testing::units_2024()).value();
  TempDir dir;
  auto log = open_province(dir, map);
  Events events;
  for (const auto& line : example_lines()) events.add(line);
  auto outcomes = log->submit(events.all(), log_test::kNow);
  for (size_t i = 0; i < outcomes.size(); ++i) {
    INFO("line " << i + 1 << ": " << (outcomes[i].rejected ? outcomes[i].rejected->message : ""));
    REQUIRE(outcomes[i].accepted);
  }
  check_expected_tallies(*log);
  // The transfers of the example are between Ba Đình's own wards: both halves are held.
  CHECK(log->in_transit(UnitCode::parse("001").value()).value() == 0);
  CHECK(log->in_transit(UnitCode::parse("01").value()).value() == 0);

  // C6: a recomputation from the log finds nothing different.
  auto report = log->verify_projections(dir.str(), nullptr);
  REQUIRE(report.ok());
  CHECK(report->events == events.all().size());
  CHECK(report->differences == 0);
}

TEST_CASE("Tallies: the example submitted in random member-respecting orders, one line per write, gives the same tallies", "[tally]") {
  const auto map = UnitMap::load_csv_file(testing::units_2024()).value();
  const auto lines = example_lines();
  // Each member's lines keep their file order; everything else is shuffled.
  Events parsed;
  for (const auto& line : lines) parsed.add(line);
  std::map<std::string, std::vector<size_t>> by_member;
  std::vector<size_t> free_lines;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (auto id = event_member_id(parsed.all()[i])) by_member[std::string(*id)].push_back(i);
    else free_lines.push_back(i);
  }
  std::mt19937_64 rng(GENERATE(1, 2, 3));
  std::vector<std::vector<size_t>> queues;
  for (auto& [id, q] : by_member) queues.push_back(q);
  for (size_t i : free_lines) queues.push_back({i});
  std::vector<size_t> order;
  std::vector<size_t> next(queues.size(), 0);
  std::vector<size_t> open(queues.size());
  std::iota(open.begin(), open.end(), size_t{0});
  while (!open.empty()) {
    const size_t pick = std::uniform_int_distribution<size_t>(0, open.size() - 1)(rng);
    const size_t q = open[pick];
    order.push_back(queues[q][next[q]++]);
    if (next[q] == queues[q].size()) {
      open[pick] = open.back();
      open.pop_back();
    }
  }

  TempDir dir;
  auto log = open_province(dir, map);
  for (size_t i : order) {
    auto outcome = log->submit(parsed.range(i, 1), log_test::kNow);
    INFO(lines[i] << " -> " << (outcome[0].rejected ? outcome[0].rejected->message : ""));
    REQUIRE(outcome[0].accepted);
  }
  check_expected_tallies(*log);
  auto report = log->verify_projections(dir.str(), nullptr);
  REQUIRE(report.ok());
  CHECK(report->differences == 0);
}

}  // namespace rollcall
