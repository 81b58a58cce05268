#include "engine/period.h"

#include <charconv>

namespace rollcall {
namespace {

Date ymd(int y, unsigned m, unsigned d) { return Date::from_ymd(y, m, d).value(); }

unsigned days_in_month(int y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

Date end_of_month(Date d) { return ymd(d.year(), d.month(), days_in_month(d.year(), d.month())); }
Date end_of_year(Date d) { return ymd(d.year(), 12, 31); }
Date next_day(Date d) { return Date::from_days(d.days() + 1); }

std::optional<int> parse_number(std::string_view text) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

DateRange DateRange::all_time() { return {ymd(1900, 1, 1), ymd(2199, 12, 31)}; }

DateRange DateRange::as_of(Date day) { return {all_time().first, day}; }

Result<DateRange> parse_period(std::string_view text) {
  const auto bad = [&] {
    return invalid_input("period '" + std::string(text) +
                         "' is not one of YYYY, YYYY-H1|H2, YYYY-Q1..Q4, YYYY-MM (e.g. 2024-Q1)");
  };
  if (text.size() < 4) return bad();
  const auto year = parse_number(text.substr(0, 4));
  if (!year || *year < 1900 || *year > 2199) return bad();
  if (text.size() == 4) return DateRange{ymd(*year, 1, 1), ymd(*year, 12, 31)};
  if (text.size() != 7 || text[4] != '-') return bad();
  unsigned first_month = 0;
  unsigned months = 0;
  const auto rest = text.substr(5);
  if (rest[0] == 'H' || rest[0] == 'Q') {
    const auto n = parse_number(rest.substr(1));
    const int parts = rest[0] == 'H' ? 2 : 4;
    if (!n || *n < 1 || *n > parts) return bad();
    months = 12 / static_cast<unsigned>(parts);
    first_month = static_cast<unsigned>(*n - 1) * months + 1;
  } else {
    const auto month = parse_number(rest);
    if (!month || *month < 1 || *month > 12) return bad();
    first_month = static_cast<unsigned>(*month);
    months = 1;
  }
  const unsigned last_month = first_month + months - 1;
  return DateRange{ymd(*year, first_month, 1),
                   ymd(*year, last_month, days_in_month(*year, last_month))};
}

std::vector<BucketRange> decompose(const DateRange& range) {
  std::vector<BucketRange> out;
  const auto add = [&](Granularity g, uint32_t first, uint32_t last) {
    if (!out.empty() && out.back().granularity == g) {
      out.back().last = last;  // runs of one granularity are contiguous
      return;
    }
    out.push_back({g, first, last});
  };
  for (Date day = range.first; day <= range.last;) {
    const Date year_end = end_of_year(day);
    const Date month_end = end_of_month(day);
    if (day.month() == 1 && day.day() == 1 && year_end <= range.last) {
      add(Granularity::kYear, year_bucket(day), year_bucket(day));
      day = next_day(year_end);
    } else if (day.day() == 1 && month_end <= range.last) {
      add(Granularity::kMonth, month_bucket(day), month_bucket(day));
      day = next_day(month_end);
    } else {
      add(Granularity::kDay, day_bucket(day), day_bucket(day));
      day = next_day(day);
    }
    if (day.year() > 2199) break;
  }
  return out;
}

}  // namespace rollcall
