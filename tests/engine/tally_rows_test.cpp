// tally_rows: the packed rows a projection batch sums, and the flat table it sums them in.
// What the batch relies on: renumbered by the ranks of their names, packed rows sort exactly as
// their RocksDB keys do; the table's sums are the sums, whatever it had to grow through.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "engine/keys.h"
#include "engine/tally_rows.h"

namespace rollcall {
namespace {

namespace tr = tally_rows;

std::string key_of(uint64_t row, const std::vector<std::string>& units, const std::vector<std::string>& metrics) {
  const std::string& unit = units[tr::unit(row)];
  const std::string& metric = metrics[tr::metric(row)];
  return tr::granularity(row) == keys::kCurrentGranularity
             ? keys::current_tally_key(unit, metric)
             : keys::tally_key(unit, tr::granularity(row), tr::bucket(row), metric);
}

}  // namespace

TEST_CASE("tally_rows: a row packs and unpacks its unit, granularity, bucket and metric", "[projection]") {
  const uint64_t day = tr::row(tr::kMaxUnits - 1, tr::kDay, 99991231, tr::kMaxMetrics - 1);
  CHECK(tr::unit(day) == tr::kMaxUnits - 1);
  CHECK(tr::granularity(day) == 'D');
  CHECK(tr::bucket(day) == 99991231u);
  CHECK(tr::metric(day) == tr::kMaxMetrics - 1);
  const uint64_t current = tr::row(0, tr::kCurrent, 0, 0);
  CHECK(current != 0);  // 0 marks a free slot of RowSums
  CHECK(tr::granularity(current) == keys::kCurrentGranularity);
  CHECK(tr::granularity(tr::row(3, tr::kOwn, 20240326, 2)) == keys::kOwnGranularity);
  CHECK(tr::granularity(tr::row(3, tr::kMonth, 202403, 2)) == 'M');
  CHECK(tr::granularity(tr::row(3, tr::kYear, 2024, 2)) == 'Y');
  const uint64_t moved = tr::renumbered(tr::row(5, tr::kMonth, 202403, 7), 9, 1);
  CHECK(tr::unit(moved) == 9);
  CHECK(tr::granularity(moved) == 'M');
  CHECK(tr::bucket(moved) == 202403u);
  CHECK(tr::metric(moved) == 1);
}

TEST_CASE("tally_rows: rows renumbered by the ranks of their names sort as their keys do", "[projection]") {
  // Unit codes that are prefixes of one another, and metrics sharing prefixes: the cases where
  // the key's 0x00 after the unit and the byte order of the names decide.
  const std::vector<std::string> units = {"79", "01", "0", "010", "00001", "0101", "7", "001", "VN", "01001"};
  const std::vector<std::string> metrics = {"members.admitted", "members.active", "members.in",
                                            "activity.forums.count", "members.inTransit", "members"};
  const auto [unit_rank, unit_by_rank] = tr::ranks(units);
  const auto [metric_rank, metric_by_rank] = tr::ranks(metrics);
  for (uint32_t i = 0; i < units.size(); ++i) CHECK(unit_by_rank[unit_rank[i]] == i);

  std::mt19937 rng(7);
  const uint64_t granularities[] = {tr::kDay, tr::kMonth, tr::kYear, tr::kOwn, tr::kCurrent};
  std::vector<uint64_t> rows;
  for (int i = 0; i < 2000; ++i) {
    const uint64_t g = granularities[rng() % 5];
    const uint32_t year = 2015 + rng() % 20, month = 1 + rng() % 12, d = 1 + rng() % 28;
    const uint32_t bucket = g == tr::kYear ? year
                            : g == tr::kMonth ? year * 100 + month
                            : g == tr::kCurrent ? 0
                                                : (year * 100 + month) * 100 + d;
    rows.push_back(tr::row(rng() % units.size(), g, bucket, rng() % metrics.size()));
  }
  std::sort(rows.begin(), rows.end());
  rows.erase(std::unique(rows.begin(), rows.end()), rows.end());

  std::vector<std::string> expected;
  for (const uint64_t r : rows) expected.push_back(key_of(r, units, metrics));
  std::sort(expected.begin(), expected.end());  // byte order: RocksDB's

  std::vector<uint64_t> ranked;
  for (const uint64_t r : rows) ranked.push_back(tr::renumbered(r, unit_rank[tr::unit(r)], metric_rank[tr::metric(r)]));
  std::sort(ranked.begin(), ranked.end());
  std::vector<std::string> got;
  for (const uint64_t r : ranked)
    got.push_back(key_of(tr::renumbered(r, unit_by_rank[tr::unit(r)], metric_by_rank[tr::metric(r)]), units, metrics));
  CHECK(got == expected);
}

TEST_CASE("tally_rows: RowSums sums like a map through its growth and leaves out the rows that sum to 0", "[projection]") {
  std::mt19937_64 rng(11);
  tr::RowSums sums;  // starts at 16 slots: many doublings below
  std::map<uint64_t, int64_t> expected;
  for (int i = 0; i < 50000; ++i) {
    const uint64_t row = tr::row(rng() % 3000, tr::kDay, 20240101 + rng() % 28, rng() % 8);
    const int64_t delta = static_cast<int64_t>(rng() % 7) - 3;
    sums.add(row, delta);
    expected[row] += delta;
  }
  // Cancel some rows out exactly.
  int cancelled = 0;
  for (auto& [row, sum] : expected) {
    if (sum != 0 && cancelled < 500) {
      sums.add(row, -sum);
      sum = 0;
      ++cancelled;
    }
  }
  std::erase_if(expected, [](const auto& entry) { return entry.second == 0; });
  std::map<uint64_t, int64_t> got;
  sums.for_each([&](uint64_t row, int64_t sum) { CHECK(got.emplace(row, sum).second); });
  CHECK(cancelled == 500);
  CHECK(got == expected);
}

}  // namespace rollcall
