#include "tests/support/tree_checks.h"

#include <stdexcept>
#include <thread>

#include "engine/content_hash.h"
#include "engine/event_fields.h"
#include "engine/period.h"

namespace rollcall::testing {

std::unique_ptr<EventLog> open_log_reader(const std::string& dir) {
  auto log = EventLog::open_reader(dir);
  if (!log.ok()) throw std::runtime_error("opening " + dir + ": " + log.error().message());
  return std::move(log).value();
}

uint64_t watermark_of(const std::string& dir, const UnitCode& origin) {
  auto log = open_log_reader(dir);
  auto marks = log->watermarks();
  if (!marks.ok()) throw std::runtime_error("watermarks of " + dir + ": " + marks.error().message());
  for (const auto& w : *marks)
    if (w.origin == origin) return w.seq;
  return 0;
}

bool wait_for_watermarks(const std::string& dir, const std::map<UnitCode, uint64_t>& wanted,
                         std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto log = EventLog::open_reader(dir);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!log.ok()) {
      log = EventLog::open_reader(dir);  // the node may not have created it yet
    } else if ((*log)->refresh().ok()) {
      auto marks = (*log)->watermarks();
      if (marks.ok()) {
        size_t reached = 0;
        for (const auto& w : *marks) {
          auto it = wanted.find(w.origin);
          if (it != wanted.end() && w.seq >= it->second) ++reached;
        }
        if (reached == wanted.size()) return true;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

std::vector<std::string> exactly_once_problems(const std::string& dir, const std::map<UnitCode, uint64_t>& expected,
                                               const std::map<UnitCode, std::string>& origin_dirs) {
  std::vector<std::string> problems;
  auto log = open_log_reader(dir);
  std::map<UnitCode, std::unique_ptr<EventLog>> origins;
  for (const auto& [origin, origin_dir] : origin_dirs) origins[origin] = open_log_reader(origin_dir);
  std::map<UnitCode, std::vector<uint32_t>> seen;
  for (const auto& [origin, count] : expected) seen[origin].assign(count + 1, 0);
  uint64_t from = 1;
  for (;;) {
    auto events = log->read(Lsn{from}, 10000);
    if (!events.ok()) throw std::runtime_error("reading " + dir + ": " + events.error().message());
    if (events->empty()) break;
    for (const auto& logged : *events) {
      auto e = logged.event();
      auto origin = UnitCode::trusted(text_view(e.getOrigin()));
      const uint64_t seq = e.getSeq();
      const std::string id = origin.str() + ":" + std::to_string(seq);
      auto counts = seen.find(origin);
      if (counts == seen.end() || seq >= counts->second.size()) {
        problems.push_back(dir + " holds " + id + ", beyond what was accepted");
        continue;
      }
      if (++counts->second[seq] == 2) problems.push_back(dir + " holds " + id + " twice");
      auto source = origins.find(origin);
      if (source != origins.end()) {
        auto original = source->second->find(OriginSeq{origin, seq});
        if (!original.ok() || !original->has_value())
          problems.push_back(id + " is not at its origin's data dir");
        else if (event_content_hash((*original)->event()) != event_content_hash(e))
          problems.push_back(dir + " holds " + id + " with other content than its origin");
      }
    }
    from = events->back().lsn.value + 1;
  }
  for (const auto& [origin, counts] : seen)
    for (uint64_t seq = 1; seq < counts.size(); ++seq)
      if (counts[seq] == 0) {
        problems.push_back(dir + " lacks " + origin.str() + ":" + std::to_string(seq));
        break;
      }
  return problems;
}

std::map<std::string, int64_t> all_time_tally(const std::string& dir, const UnitCode& unit) {
  auto log = open_log_reader(dir);
  auto tally = log->tally(unit, DateRange::all_time());
  if (!tally.ok()) throw std::runtime_error("tally of " + unit.str() + " at " + dir + ": " + tally.error().message());
  return *tally;
}

std::map<std::string, int64_t> sum_tallies(const std::vector<std::map<std::string, int64_t>>& tallies) {
  std::map<std::string, int64_t> sum;
  for (const auto& tally : tallies)
    for (const auto& [metric, value] : tally) sum[metric] += value;
  std::erase_if(sum, [](const auto& entry) { return entry.second == 0; });
  return sum;
}

}  // namespace rollcall::testing
