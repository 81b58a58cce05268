// TreeView: the JSON answer of `/api/tree` (the status page's data): this node's subtree from
// the current map, each unit with its link freshness (from a NodeStatus) and headline tallies.
//
// Freshness of a unit deeper than a direct child: the connection of its direct-child ancestor
// (this node sees only its own links; a ward's link to its district is not visible from the
// province), and the lag of the origin named by the unit code.
//
// Threads: the NodeStatus must be filled on the io thread by the caller; tree_json() then runs
// on any thread (it reads the map and RocksDB tallies only, which EventLog allows). The tally
// cache is guarded by a mutex, so several HTTP threads may share one TreeView.
// Ownership: borrows the EventLog, which must outlive it.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "engine/event_log.h"
#include "schema/wire.capnp.h"

namespace rollcall {

class TreeView {
 public:
  explicit TreeView(const EventLog& log) : log_(log) {}

  // The `/api/tree` JSON for `status` (this node's, filled on the io thread) at `now`.
  std::string tree_json(wire::NodeStatus::Reader status, Timestamp now);

 private:
  struct Headline {
    int64_t members_active = 0;
    int64_t admitted_this_year = 0;
  };
  // Tallies of every unit of the subtree, recomputed at most every kTallyCacheFor: a province
  // page of 1,000+ communes refreshed every few seconds by several operators stays cheap.
  std::map<UnitCode, Headline> headlines(const UnitMap& map, const UnitCode& root, Timestamp now);

  static constexpr std::chrono::seconds kTallyCacheFor{5};
  const EventLog& log_;
  std::mutex mutex_;
  std::map<UnitCode, Headline> cached_;
  std::chrono::steady_clock::time_point cached_at_{};
  bool cache_valid_ = false;
};

}  // namespace rollcall
