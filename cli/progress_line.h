// ProgressLine: progress of a long command on stderr, for rebuild, verify, export and import.
//
// Ownership: a plain value; one thread.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "engine/event_log.h"

namespace rollcall::cli {

// Prints "rebuilt 120000 of 500000 events (24%)" on stderr at most once a second, and not at all
// for a replay that ends within its first second (or when stderr is not a terminal and the log
// is small), so short runs and scripts stay quiet.
class ProgressLine {
 public:
  using Clock = std::chrono::steady_clock;

  // "rebuilt", "events": "rebuilt 120000 of 500000 events (24%)".
  explicit ProgressLine(std::string verb, std::string unit = "events")
      : verb_(std::move(verb)), unit_(std::move(unit)), start_(Clock::now()), last_(start_) {}

  ReplayProgress callback() {
    return [this](uint64_t done, uint64_t total) { update(done, total); };
  }
  double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

 private:
  static constexpr uint64_t kLargeLog = 1'000'000;

  void update(uint64_t done, uint64_t total) {
    if (total == 0) return;
    const auto now = Clock::now();
    if (now - last_ < std::chrono::seconds(1) || done >= total) return;
    if (!isatty(STDERR_FILENO) && total < kLargeLog) return;
    last_ = now;
    std::fprintf(stderr, "%s %llu of %llu %s (%llu%%)\n", verb_.c_str(), static_cast<unsigned long long>(done),
                 static_cast<unsigned long long>(total), unit_.c_str(),
                 static_cast<unsigned long long>(done * 100 / total));
  }

  std::string verb_;
  std::string unit_;
  Clock::time_point start_;
  Clock::time_point last_;
};

}  // namespace rollcall::cli
