// Periods of a tally query and the date buckets tallies are stored in.
//
// A query covers a closed range of days: `--period 2024`, `2024-H1`, `2024-Q3`, `2024-03`, or
// `--as-of 2024-06-30` (every day up to it), or all time. Tallies are stored per day, per month
// and per year (engine/FORMAT.md), so any range is a handful of bucket ranges: whole years,
// then whole months, then days at the edges.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"
#include "engine/types.h"

namespace rollcall {

struct DateRange {
  Date first;
  Date last;  // inclusive

  // Every day a Date can hold (1900-01-01 .. 2199-12-31).
  static DateRange all_time();
  // Every day up to `day` inclusive.
  static DateRange as_of(Date day);
  bool contains(Date day) const { return first <= day && day <= last; }
  bool operator==(const DateRange&) const = default;
};

// "2024", "2024-H1", "2024-Q1".."2024-Q4", "2024-01".."2024-12". The error names the forms.
Result<DateRange> parse_period(std::string_view text);

// Bucket numbers read as dates: year 2024, month 202403, day 20240326.
enum class Granularity : char { kDay = 'D', kMonth = 'M', kYear = 'Y' };

inline uint32_t year_bucket(Date d) { return static_cast<uint32_t>(d.year()); }
inline uint32_t month_bucket(Date d) { return year_bucket(d) * 100 + d.month(); }
inline uint32_t day_bucket(Date d) { return month_bucket(d) * 100 + d.day(); }

struct BucketRange {
  Granularity granularity;
  uint32_t first;
  uint32_t last;  // inclusive
  bool operator==(const BucketRange&) const = default;
};

// The fewest bucket ranges whose days are exactly `range`: whole years where the range covers
// them, whole months where it covers those, single days elsewhere.
std::vector<BucketRange> decompose(const DateRange& range);

}  // namespace rollcall
