#include <catch2/catch.hpp>

#include "engine/period.h"

namespace rollcall {
namespace {

Date day(const char* text) { return Date::parse(text).value(); }

}  // namespace

TEST_CASE("Period: years, halves, quarters and months give their exact days", "[period]") {
  CHECK(*parse_period("2024") == DateRange{day("2024-01-01"), day("2024-12-31")});
  CHECK(*parse_period("2024-H1") == DateRange{day("2024-01-01"), day("2024-06-30")});
  CHECK(*parse_period("2024-H2") == DateRange{day("2024-07-01"), day("2024-12-31")});
  CHECK(*parse_period("2024-Q1") == DateRange{day("2024-01-01"), day("2024-03-31")});
  CHECK(*parse_period("2023-Q4") == DateRange{day("2023-10-01"), day("2023-12-31")});
  CHECK(*parse_period("2024-02") == DateRange{day("2024-02-01"), day("2024-02-29")});
  CHECK(*parse_period("2023-02") == DateRange{day("2023-02-01"), day("2023-02-28")});
  CHECK(*parse_period("2100-02") == DateRange{day("2100-02-01"), day("2100-02-28")});
}

TEST_CASE("Period: a malformed period is refused naming the accepted forms", "[period]") {
  for (const char* bad : {"", "24", "2024-", "2024-Q5", "2024-Q0", "2024-H3", "2024-13", "2024-00",
                          "2024-1", "2024-001", "1899", "2200", "abcd", "2024-q1", "2024 "}) {
    INFO(bad);
    auto parsed = parse_period(bad);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.error().kind() == ErrorKind::kInvalidInput);
    CHECK_THAT(parsed.error().message(), Catch::Contains("YYYY-Q1..Q4"));
  }
}

TEST_CASE("Period: a range decomposes into whole years, whole months and edge days", "[period]") {
  using G = Granularity;
  CHECK(decompose(*parse_period("2024")) == std::vector<BucketRange>{{G::kYear, 2024, 2024}});
  CHECK(decompose(*parse_period("2024-Q2")) == std::vector<BucketRange>{{G::kMonth, 202404, 202406}});
  CHECK(decompose(DateRange::as_of(day("2024-06-30"))) ==
        std::vector<BucketRange>{{G::kYear, 1900, 2023}, {G::kMonth, 202401, 202406}});
  CHECK(decompose(DateRange::as_of(day("2024-03-26"))) ==
        std::vector<BucketRange>{{G::kYear, 1900, 2023}, {G::kMonth, 202401, 202402}, {G::kDay, 20240301, 20240326}});
  CHECK(decompose(DateRange{day("2023-12-30"), day("2025-01-02")}) ==
        std::vector<BucketRange>{{G::kDay, 20231230, 20231231}, {G::kYear, 2024, 2024}, {G::kDay, 20250101, 20250102}});
  CHECK(decompose(DateRange{day("2024-01-15"), day("2024-03-10")}) ==
        std::vector<BucketRange>{{G::kDay, 20240115, 20240131}, {G::kMonth, 202402, 202402}, {G::kDay, 20240301, 20240310}});
  CHECK(decompose(DateRange::all_time()) == std::vector<BucketRange>{{G::kYear, 1900, 2199}});
}

TEST_CASE("Period: every day of a decomposed range is covered exactly once", "[period]") {
  // Walk ranges with awkward edges and count the days the buckets stand for.
  const auto days_in = [](const BucketRange& r) {
    int64_t days = 0;
    for (Date d = day("1999-01-01"); d <= day("2026-12-31"); d = Date::from_days(d.days() + 1)) {
      const uint32_t b = r.granularity == Granularity::kYear ? year_bucket(d)
                         : r.granularity == Granularity::kMonth ? month_bucket(d) : day_bucket(d);
      if (b >= r.first && b <= r.last) ++days;
    }
    return days;
  };
  for (auto [from, to] : {std::pair{"2000-02-29", "2004-03-01"}, std::pair{"2024-01-01", "2024-01-01"},
                          std::pair{"2019-07-31", "2021-08-01"}, std::pair{"2024-05-01", "2026-04-30"}}) {
    INFO(from << ".." << to);
    const DateRange range{day(from), day(to)};
    int64_t covered = 0;
    for (const BucketRange& r : decompose(range)) covered += days_in(r);
    CHECK(covered == range.last.days() - range.first.days() + 1);
  }
}

}  // namespace rollcall
