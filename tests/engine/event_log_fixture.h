// Shared by the EventLog tests: a temp dir per test, events from JSON lines, a
// small map.
#pragma once

#include <capnp/message.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/event_json.h"
#include "engine/event_log.h"
#include "tests/support/small_map.h"

namespace rollcall::log_test {

namespace fs = std::filesystem;

inline const char* const kUnits = testing::kSmallMapCsv;

inline const Timestamp kNow{1711440000000000};  // 2024-03-26T08:00:00Z

inline UnitCode code(const char* text) { return UnitCode::parse(text).value(); }

// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("rollcall-log-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string str() const { return path_.string(); }

 private:
  fs::path path_;
};

// Events parsed from JSON lines, kept alive for the readers handed to the log.
class Events {
 public:
  Events& add(const std::string& line) {
    messages_.push_back(std::make_unique<capnp::MallocMessageBuilder>());
    auto status = json().parse(line, messages_.back()->initRoot<schema::Event>());
    INFO(line);
    INFO((status.ok() ? std::string() : status.error().message()));
    REQUIRE(status.ok());
    readers_.push_back(messages_.back()->getRoot<schema::Event>().asReader());
    return *this;
  }
  std::span<const schema::Event::Reader> all() const { return readers_; }
  std::span<const schema::Event::Reader> range(size_t first, size_t count) const {
    return all().subspan(first, count);
  }
  static const EventJson& json() {
    static const EventJson instance;
    return instance;
  }

 private:
  std::vector<std::unique_ptr<capnp::MallocMessageBuilder>> messages_;
  std::vector<schema::Event::Reader> readers_;
};

inline std::string admit(const std::string& unit, const std::string& member) {
  return R"({"unit":")" + unit +
         R"(","effectiveDate":"2024-03-01","memberAdmitted":{"memberId":")" + member +
         R"(","fullName":"Phạm Minh Tuấn","birthDate":"2002-08-15"}})";
}
inline std::string rate(const std::string& unit, const std::string& member) {
  return R"({"unit":")" + unit + R"(","effectiveDate":"2024-12-20","memberRated":{"memberId":")" +
         member + R"(","year":2024,"rating":"good"}})";
}
inline std::string transfer_out(const std::string& unit, const std::string& member,
                                const std::string& to) {
  return R"({"unit":")" + unit +
         R"(","effectiveDate":"2024-04-01","memberTransferredOut":{"memberId":")" + member +
         R"(","toUnit":")" + to + "\"}}";
}
inline std::string transfer_in(const std::string& unit, const std::string& member,
                               const std::string& from) {
  return R"({"unit":")" + unit +
         R"(","effectiveDate":"2024-04-03","memberTransferredIn":{"memberId":")" + member +
         R"(","fromUnit":")" + from + "\"}}";
}
inline std::string activity(const std::string& unit, int count) {
  return R"({"unit":")" + unit +
         R"(","effectiveDate":"2024-05-01","activityReported":{"kind":"forums","count":)" +
         std::to_string(count) + R"(,"participants":10}})";
}
inline std::string retract(const std::string& ref) {
  return R"({"unit":"001","effectiveDate":"2024-05-02","eventRetracted":{"ref":")" + ref + "\"}}";
}

class LogFixture {
 public:
  LogFixture() : map_(UnitMap::parse_csv(kUnits).value()) {}

  std::unique_ptr<EventLog> open(const TempDir& dir, const char* unit = "001",
                                 uint64_t max_dir_bytes = 0) {
    auto log = EventLog::open_writer(options(dir, unit, max_dir_bytes), map_);
    INFO((log.ok() ? std::string() : log.error().message()));
    REQUIRE(log.ok());
    return std::move(log).value();
  }
  static LogOptions options(const TempDir& dir, const char* unit, uint64_t max_dir_bytes = 0) {
    LogOptions o;
    o.dir = dir.str();
    o.unit = code(unit);
    o.min_free_bytes = 0;
    o.max_dir_bytes = max_dir_bytes;
    return o;
  }

  // Submits and requires every event to be accepted; returns the ids.
  static std::vector<OriginSeq> submit_all(EventLog& log,
                                           std::span<const schema::Event::Reader> events) {
    std::vector<OriginSeq> ids;
    for (const SubmitOutcome& o : log.submit(events, kNow)) {
      INFO((o.rejected ? o.rejected->message : std::string()));
      REQUIRE(o.accepted.has_value());
      ids.push_back(*o.accepted);
    }
    return ids;
  }

  const UnitMap& map() const { return map_; }

 private:
  UnitMap map_;
};

inline std::vector<LoggedEvent> read_all(const EventLog& log) {
  auto events = log.read(Lsn{1}, 1u << 20);
  REQUIRE(events.ok());
  return std::move(events).value();
}

inline std::vector<schema::Event::Reader> readers_of(const std::vector<LoggedEvent>& events) {
  std::vector<schema::Event::Reader> out;
  for (const auto& e : events) out.push_back(e.event());
  return out;
}

inline std::optional<Watermark> watermark_of(const EventLog& log, const char* origin) {
  auto marks = log.watermarks();
  REQUIRE(marks.ok());
  for (const Watermark& w : *marks)
    if (w.origin == code(origin)) return w;
  return std::nullopt;
}

inline std::string member_of(const LoggedEvent& e) {
  auto event = e.event();
  if (event.isMemberAdmitted()) return event.getMemberAdmitted().getMemberId().cStr();
  if (event.isMemberRated()) return event.getMemberRated().getMemberId().cStr();
  return {};
}

}  // namespace rollcall::log_test
