#include "engine/types.h"

#include <charconv>
#include <cstdio>

namespace rollcall {
namespace {

bool is_code_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '.' ||
         c == '_' || c == '-';
}

// Howard Hinnant's days_from_civil / civil_from_days.
int32_t days_from_civil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int>(doe) - 719468;
}

struct Civil {
  int y;
  unsigned m, d;
};

Civil civil_from_days(int32_t z) {
  z += 719468;
  const int era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int y = static_cast<int>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return Civil{y + (m <= 2), m, d};
}

bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in_month(int y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

// Parses exactly `width` decimal digits at text[pos...].
std::optional<int> digits(std::string_view text, size_t pos, size_t width) {
  if (pos + width > text.size()) return std::nullopt;
  int value = 0;
  for (size_t i = pos; i < pos + width; ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

}  // namespace

Result<UnitCode> UnitCode::parse(std::string_view text) {
  if (text.empty()) return invalid_input("empty unit code");
  if (text.size() > kMaxLength)
    return invalid_input("unit code longer than " + std::to_string(kMaxLength) + " characters");
  for (char c : text) {
    if (!is_code_char(c))
      return invalid_input("unit code '" + std::string(text) +
                           "' has a character other than letters, digits, '.', '_' or '-'");
  }
  return UnitCode(std::string(text));
}

Result<OriginSeq> OriginSeq::parse(std::string_view text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos)
    return invalid_input("'" + std::string(text) + "' is not ORIGIN:SEQ");
  auto origin = UnitCode::parse(text.substr(0, colon));
  if (!origin.ok())
    return invalid_input("'" + std::string(text) + "': " + origin.error().message());
  const std::string_view seq_text = text.substr(colon + 1);
  uint64_t seq = 0;
  auto [end, ec] = std::from_chars(seq_text.data(), seq_text.data() + seq_text.size(), seq);
  if (seq_text.empty() || ec != std::errc() || end != seq_text.data() + seq_text.size() ||
      seq == 0)
    return invalid_input("'" + std::string(text) + "': seq must be a positive integer");
  // One spelling per id: marks and lookups key by the text.
  if (seq_text[0] == '0')
    return invalid_input("'" + std::string(text) + "': seq must be written without leading zeros");
  return OriginSeq{std::move(origin).value(), seq};
}

std::string OriginSeq::to_string() const { return origin.str() + ":" + std::to_string(seq); }

std::optional<Date> Date::from_ymd(int year, unsigned month, unsigned day) {
  if (year < 1900 || year > 2199 || month < 1 || month > 12 || day < 1 ||
      day > days_in_month(year, month))
    return std::nullopt;
  return Date(days_from_civil(year, month, day));
}

Result<Date> Date::parse(std::string_view text) {
  const auto bad = [&] {
    return invalid_input("'" + std::string(text) + "' is not a date of the form YYYY-MM-DD");
  };
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return bad();
  auto y = digits(text, 0, 4), m = digits(text, 5, 2), d = digits(text, 8, 2);
  if (!y || !m || !d) return bad();
  auto date = from_ymd(*y, static_cast<unsigned>(*m), static_cast<unsigned>(*d));
  if (!date) return invalid_input("'" + std::string(text) + "' is not a real day (1900..2199)");
  return *date;
}

int Date::year() const { return civil_from_days(days_).y; }
unsigned Date::month() const { return civil_from_days(days_).m; }
unsigned Date::day() const { return civil_from_days(days_).d; }

std::string Date::to_string() const {
  const Civil c = civil_from_days(days_);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", c.y, c.m, c.d);
  return buf;
}

std::string Timestamp::to_string() const {
  int64_t secs = micros / 1000000;
  int64_t frac = micros % 1000000;
  if (frac < 0) {
    frac += 1000000;
    secs -= 1;
  }
  int64_t days = secs / 86400;
  int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    days -= 1;
  }
  const Civil c = civil_from_days(static_cast<int32_t>(days));
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%06dZ", c.y, c.m, c.d,
                static_cast<int>(rem / 3600), static_cast<int>(rem / 60 % 60),
                static_cast<int>(rem % 60), static_cast<int>(frac));
  return buf;
}

Result<Timestamp> Timestamp::parse(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.ffffff]Z
  const auto bad = [&] {
    return invalid_input("'" + std::string(text) +
                         "' is not an RFC 3339 UTC timestamp (YYYY-MM-DDTHH:MM:SS[.ffffff]Z)");
  };
  if (text.size() < 20 || text.back() != 'Z' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':')
    return bad();
  auto date = Date::parse(text.substr(0, 10));
  if (!date.ok()) return bad();
  auto hh = digits(text, 11, 2), mm = digits(text, 14, 2), ss = digits(text, 17, 2);
  if (!hh || !mm || !ss || *hh > 23 || *mm > 59 || *ss > 59) return bad();
  int64_t frac = 0;
  const size_t frac_end = text.size() - 1;
  if (frac_end > 19) {
    if (text[19] != '.' || frac_end - 20 < 1 || frac_end - 20 > 6) return bad();
    auto f = digits(text, 20, frac_end - 20);
    if (!f) return bad();
    frac = *f;
    for (size_t i = frac_end - 20; i < 6; ++i) frac *= 10;
  } else if (frac_end != 19) {
    return bad();
  }
  const int64_t secs = int64_t{date->days()} * 86400 + *hh * 3600 + *mm * 60 + *ss;
  return Timestamp{secs * 1000000 + frac};
}

}  // namespace rollcall
