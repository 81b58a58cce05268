// A node's data dir opened for the read commands (tally, member, members, verify): the log as a
// reader beside the running node (EventLog::open_reader, a RocksDB secondary instance that never
// takes the node's lock), and the node's current map (its seed folded with the map events it
// holds, as the reader opened it), for unit names and for the node's subtree.
//
// Ownership: owns the log and the map; one thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "engine/event_log.h"
#include "engine/status.h"
#include "engine/unit_map.h"

namespace rollcall::cli {

class DataDirReader {
 public:
  // Errors: kNotFound for a missing or non-rollcall dir (the message names it), else what the
  // engine reports.
  // With `need_projections`, a dir whose projections are missing or stale is an error naming
  // `rollcall rebuild` (verify does without: it reports what differs).
  static Result<DataDirReader> open(const std::string& dir, bool need_projections = true);

  const EventLog& log() const { return *log_; }
  EventLog& log() { return *log_; }
  const UnitMap& map() const { return map_; }

  // Parses a --unit argument and checks that this node holds the unit's projections: the unit is
  // in the map and in the node's subtree. The error (kInvalidInput) says which and why.
  Result<UnitCode> unit_in_scope(std::string_view text) const;

  // "001 Quận Ba Đình"; the code alone for a unit the map lacks.
  std::string unit_label(std::string_view code) const;
  // The unit's name, or "" when the map lacks it.
  std::string unit_name(std::string_view code) const;

 private:
  DataDirReader(std::unique_ptr<EventLog> log, UnitMap map)
      : log_(std::move(log)), map_(std::move(map)) {}

  std::unique_ptr<EventLog> log_;
  UnitMap map_;
};

}  // namespace rollcall::cli
