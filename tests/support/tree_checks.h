// Checks of replication's invariants on the data dirs of a tree of nodes (C1, C3, C4, C6), for
// the multi-node integration tests and the sync benchmark. Each opens a data dir as a reader,
// so it works beside a running node or on a stopped one.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/event_log.h"
#include "engine/types.h"

namespace rollcall::testing {

// Opens `dir` as a reader; throws std::runtime_error when it cannot.
std::unique_ptr<EventLog> open_log_reader(const std::string& dir);

// The watermark seq of `origin` in the data dir (0: none).
uint64_t watermark_of(const std::string& dir, const UnitCode& origin);

// Waits until the data dir holds every origin up to the seq given; false on timeout.
bool wait_for_watermarks(const std::string& dir, const std::map<UnitCode, uint64_t>& wanted,
                         std::chrono::milliseconds timeout);

// C1 at one node: scans its whole log and returns the problems found (empty: none): an
// origin:seq held twice, a seq of `expected` missing or beyond the count, or content that
// differs from the event at its origin's data dir (`origin_dirs`).
std::vector<std::string> exactly_once_problems(const std::string& dir, const std::map<UnitCode, uint64_t>& expected,
                                               const std::map<UnitCode, std::string>& origin_dirs);

// Every dated metric of `unit` over all time at the data dir.
std::map<std::string, int64_t> all_time_tally(const std::string& dir, const UnitCode& unit);

// Sums tallies metric by metric, dropping zero sums.
std::map<std::string, int64_t> sum_tallies(const std::vector<std::map<std::string, int64_t>>& tallies);

}  // namespace rollcall::testing
