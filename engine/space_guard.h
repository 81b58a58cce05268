// SpaceGuard: decides whether the data dir may grow. Debian's RocksDB aborts on a real
// disk-full, and SstFileManager counts SST files only, so the log asks this guard before each
// write: the file system must keep `min_free_bytes` free, and the whole data dir (WAL, SST,
// MANIFEST, everything) must stay under `max_dir_bytes` when a cap is set. Appends refused by
// the guard are retryable (kStorageFull) and resume by themselves when space returns.
//
// Ownership: owned by the EventLog; called by its writer thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "engine/status.h"

namespace rollcall {

// Bytes of every regular file under `dir` (0 for what cannot be read).
uint64_t directory_bytes(const std::string& dir);
// Bytes free for an unprivileged writer on the file system holding `path` (nullopt: unknown).
std::optional<uint64_t> free_disk_bytes(const std::string& path);

class SpaceGuard {
 public:
  SpaceGuard(std::string dir, uint64_t min_free_bytes, uint64_t max_dir_bytes)
      : dir_(std::move(dir)), min_free_bytes_(min_free_bytes), max_dir_bytes_(max_dir_bytes) {}

  // ok, or kStorageFull naming the limit. `incoming_bytes` is the size about to be written.
  Status check(uint64_t incoming_bytes);

  // Bytes used by everything under the data dir (measured at most every few writes).
  uint64_t dir_bytes() const { return dir_bytes_; }
  uint64_t free_bytes() const { return free_bytes_; }
  // The limits it was made with (immutable: any thread).
  uint64_t min_free_bytes() const { return min_free_bytes_; }
  uint64_t max_dir_bytes() const { return max_dir_bytes_; }

 private:
  void measure_dir();

  std::string dir_;
  uint64_t min_free_bytes_;
  uint64_t max_dir_bytes_;
  uint64_t dir_bytes_ = 0;
  uint64_t free_bytes_ = 0;
  uint64_t written_since_measure_ = 0;
  uint32_t checks_since_measure_ = 0;
  bool measured_ = false;
};

}  // namespace rollcall
