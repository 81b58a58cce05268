// PowerLossEnv: a RocksDB Env over the real disk that can simulate a power loss, for tests of
// C5 (an acknowledged event survives power loss at any moment).
//
// The model of durability (what survives the power loss):
// - File data: per file created through this env, the size last made durable by Sync() or
//   Fsync() on the file. Append, Flush, RangeSync (sync_file_range starts writeback, it does not
//   wait for it nor for the metadata) and Close make nothing durable. After the crash a file is
//   cut back to its durable size; with `torn_tails`, a seeded random part of the unsynced bytes
//   beyond it is kept instead (a prefix: disks write back pages in any order, but RocksDB's logs
//   only ever see their tail torn this way).
// - Names: a file created (NewWritableFile) or renamed into a directory has a durable name only
//   once that directory is fsynced (FSDirectory::Fsync) afterwards. A file whose name is not
//   durable is deleted at the crash, and a rename that is not durable is undone (the old target,
//   if it existed and had at most 1 MiB, gets its old content back).
// - Not modelled (taken as durable at once): deletions, the data dir itself and files the env
//   did not create (those of earlier runs, which a restored data dir holds durably anyway),
//   ReuseWritableFile/NewRandomRWFile/LinkFile (RocksDB uses them only for WAL recycling,
//   external files and checkpoints; they pass through). RocksDB's info LOG passes through.
//   Reads after the crash still see the page cache: nothing can be acknowledged then anyway.
//
// crash() (or the write operation armed with crash_at_write()) turns the power off: that
// operation and every later write, sync, create, rename or delete through the env fails with
// an IOError, so nothing more reaches the disk. Once every database on the env is closed,
// restore() applies the model to the files on disk; the env can then be used again (power on).
//
// Ownership: the test owns the env and keeps it alive until every database on it is closed.
// Thread-safe: RocksDB calls it from its own threads; crash() may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace rocksdb {
class Env;
}

namespace rollcall::testing {

class PowerLossFileSystem;

struct PowerLossOptions {
  // Keep a random prefix of each file's unsynced bytes instead of none.
  bool torn_tails = false;
  uint64_t seed = 1;  // draws the torn tails
};

// What restore() did, for the test's report.
struct RestoreReport {
  uint64_t files_truncated = 0;     // cut back to their durable size (or a torn tail)
  uint64_t bytes_dropped = 0;       // unsynced bytes dropped
  uint64_t files_deleted = 0;       // whose name never became durable
  uint64_t renames_undone = 0;
  std::vector<std::string> errors;  // files the restore could not put back (a test failure)
};

class PowerLossEnv {
 public:
  explicit PowerLossEnv(PowerLossOptions options = {});
  ~PowerLossEnv();
  PowerLossEnv(const PowerLossEnv&) = delete;
  PowerLossEnv& operator=(const PowerLossEnv&) = delete;

  // For LogOptions::env / rocksdb::DBOptions::env.
  rocksdb::Env* env() const { return env_.get(); }

  // Power off now.
  void crash();
  // Power off at the n-th (1-based) write operation from now (append, sync, create, rename,
  // delete, directory fsync, truncate): that operation fails and does nothing. 0 disarms.
  void crash_at_write(uint64_t n);
  bool crashed() const;
  // Write operations seen since the env was made (or last restored).
  uint64_t writes() const;

  // Only once every database on the env is closed: applies the power loss to the disk and
  // powers on again, with nothing tracked (the survivors are all durable).
  RestoreReport restore();

 private:
  std::shared_ptr<PowerLossFileSystem> fs_;
  std::unique_ptr<rocksdb::Env> env_;
};

}  // namespace rollcall::testing
