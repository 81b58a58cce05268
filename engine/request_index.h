// RequestIndex: the request ids a node remembers, so that a client that sends a line again (after
// a timeout, a crash, or a whole file sent twice) gets the original origin:seq back instead of
// a second event (DESIGN "Identity and storage"). engine/FORMAT.md describes the two families.
//
// A request is (the event's unit, its requestId), remembered for the node's own events only:
// the node where an event is first appended is the one a client retries at. It is remembered
// while its event is among the node's newest `max_events` own events and younger than
// `max_age`; past either it is forgotten, and the same request would be appended again.
// Entries are written in the same WriteBatch as their events, so an acknowledged event's request
// survives whatever the event survives. Expiry deletes the oldest entries in later writes, a
// bounded number per write.
//
// Engine-internal: EventLog owns one on its writer and calls it from the writer thread only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/status.h"
#include "engine/types.h"

namespace rocksdb {
class WriteBatch;
}

namespace rollcall {

class Store;

// How long a node remembers request ids: both bounds hold.
struct RequestWindow {
  uint64_t max_events = 1'000'000;                          // among the newest N own events
  int64_t max_age_us = int64_t{30} * 24 * 3600 * 1'000'000;  // and younger than 30 days
};

// A remembered request: the own event it appended.
struct RememberedRequest {
  uint64_t seq = 0;
  Timestamp recorded_at;
};

// What one write adds to the index (and which older entries it replaces).
class RequestWrites {
 public:
  // The request staged earlier in this write, if any.
  std::optional<RememberedRequest> staged(const std::string& key) const;
  // Remembers `key` for `request`; `replaced` is the stored entry it supersedes (forgotten, or
  // older), whose expiry entry is deleted with it.
  void stage(const std::string& key, RememberedRequest request, std::optional<RememberedRequest> replaced);
  bool empty() const { return added_.empty(); }

 private:
  friend class RequestIndex;
  std::map<std::string, RememberedRequest> added_;
  std::set<uint64_t> replaced_seqs_;
};

class RequestIndex {
 public:
  explicit RequestIndex(RequestWindow window) : window_(window) {}

  const RequestWindow& window() const { return window_; }

  // The stored entry of `key` (unit 0x00 requestId), whether or not it is still remembered.
  static Result<std::optional<RememberedRequest>> stored(const Store& store, const std::string& key);
  // Whether `request` is still remembered when the node's own head is `own_head` at `now`.
  bool remembered(const RememberedRequest& request, uint64_t own_head, Timestamp now) const;

  // Adds `writes` to `batch`, and the deletion of entries that have fallen out of the window
  // once the node's own head is `own_head` at `now` (nullopt: no expiry in this write). At most
  // `kMaxExpiredPerWrite` entries plus twice the entries added are expired per write. Returns
  // the seq expiry has reached once the batch is written: hand it to committed() then.
  Result<uint64_t> add_to_batch(const Store& store, const RequestWrites& writes, uint64_t own_head,
                                std::optional<Timestamp> now, rocksdb::WriteBatch& batch) const;
  // After the batch was written: expiry goes on from where it stopped.
  void committed(uint64_t expired_through) { expired_through_ = expired_through; }

  static constexpr uint64_t kMaxExpiredPerWrite = 1000;

 private:
  RequestWindow window_;
  uint64_t expired_through_ = 0;  // every expiry entry up to this seq is deleted
};

}  // namespace rollcall
