// Strong types for identities and positions (STYLE.md): never bare integers or strings in
// signatures where a role is meant.
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "engine/status.h"

namespace rollcall {

// An official unit code ("79", "760", "26734", "VN"): an opaque string; leading zeros matter.
class UnitCode {
 public:
  static constexpr size_t kMaxLength = 32;

  UnitCode() = default;
  // Checks the syntax: 1..32 characters of [A-Za-z0-9._-].
  static Result<UnitCode> parse(std::string_view text);
  // For codes already validated (read back from our own storage).
  static UnitCode trusted(std::string_view text) { return UnitCode(std::string(text)); }

  const std::string& str() const { return code_; }
  bool empty() const { return code_.empty(); }
  auto operator<=>(const UnitCode&) const = default;

 private:
  explicit UnitCode(std::string code) : code_(std::move(code)) {}
  std::string code_;
};

// A node's local log position: every event a node holds, its own or relayed, numbered from 1.
struct Lsn {
  uint64_t value = 0;
  auto operator<=>(const Lsn&) const = default;
  Lsn next() const { return Lsn{value + 1}; }
};

// The global identity of an event: the unit of the node that first appended it, and the
// dense per-origin sequence number starting at 1.
struct OriginSeq {
  UnitCode origin;
  uint64_t seq = 0;

  // "origin:seq", e.g. "00001:17".
  static Result<OriginSeq> parse(std::string_view text);
  std::string to_string() const;
  auto operator<=>(const OriginSeq&) const = default;
};

// A calendar day, as days since 1970-01-01 (proleptic Gregorian).
class Date {
 public:
  Date() = default;
  static Date from_days(int32_t days) { return Date(days); }
  static std::optional<Date> from_ymd(int year, unsigned month, unsigned day);
  // Strict `YYYY-MM-DD` with a real day, years 1900..2199.
  static Result<Date> parse(std::string_view text);

  int32_t days() const { return days_; }
  int year() const;
  unsigned month() const;
  unsigned day() const;
  std::string to_string() const;
  auto operator<=>(const Date&) const = default;

 private:
  explicit Date(int32_t days) : days_(days) {}
  int32_t days_ = 0;
};

// Microseconds since the Unix epoch, UTC.
struct Timestamp {
  int64_t micros = 0;
  auto operator<=>(const Timestamp&) const = default;
  // RFC 3339 UTC with microseconds: 2026-11-25T12:30:00.123456Z.
  std::string to_string() const;
  static Result<Timestamp> parse(std::string_view text);
  // A time point of the system clock. The engine never reads a clock: callers pass `now`.
  static Timestamp of(std::chrono::system_clock::time_point t) {
    return Timestamp{std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count()};
  }
};

}  // namespace rollcall

template <>
struct std::hash<rollcall::UnitCode> {
  size_t operator()(const rollcall::UnitCode& code) const noexcept {
    return std::hash<std::string>()(code.str());
  }
};
