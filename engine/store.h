// Store: the RocksDB database of one data dir, with rollcall's column families.
// Engine-internal: only engine/*.cpp include this header (node/ and cli/ never see RocksDB).
// This file is the one place where rocksdb::Status becomes a rollcall Error.
//
// Ownership: owns the DB and its column family handles. A writer store is used by one thread
// (the log's writer); a reader store (secondary instance) by one reader at a time.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/statistics.h>
#include <rocksdb/write_batch.h>

#include "engine/column_families.h"
#include "engine/status.h"

namespace rollcall {

Error to_error(const rocksdb::Status& status, std::string_view context);

class Store : public KeyValueReader {
 public:
  enum class Mode { kWriter, kReader };

  // kWriter opens (creating when `create` is true) the primary instance and takes the lock.
  // kReader opens a secondary instance beside a running writer (or a stopped one) and never
  // takes the lock; catch_up() makes newer writes visible.
  // `env` (tests only, not owned, must outlive the store) replaces rocksdb::Env::Default().
  static Result<std::unique_ptr<Store>> open(const std::string& dir, Mode mode, bool create,
                                             rocksdb::Env* env = nullptr);
  ~Store() override;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  rocksdb::DB* db() const { return db_; }
  // A reader's handle is null for a family the data dir does not have yet (written by an older
  // rollcall); get, multi_get and iterator then read it as empty.
  rocksdb::ColumnFamilyHandle* cf(Cf which) const { return handles_[static_cast<size_t>(which)]; }
  const std::string& dir() const { return dir_; }
  Mode mode() const { return mode_; }

  // Synced write of a batch: nothing is acknowledged before this returns ok. kBuffered skips
  // the sync (and the WAL), for a log whose writes need not survive a crash (a simulation's).
  enum class Durability { kSynced, kBuffered };
  Status write(rocksdb::WriteBatch& batch, Durability durability = Durability::kSynced);
  // Bulk load for replays into emptied families: writes `changes` ((cf, key) order, keys
  // unique; anything else is refused as an internal error before a file is written) as one
  // sorted SST file per family and ingests them all at once, past the memtable and the WAL.
  // Newer than anything stored, a delete hiding what earlier files put; durable when it returns.
  Status ingest_sorted(const std::vector<KeyChange>& changes);
  // Compacts a whole family: after a range delete, drops the deleted data and its tombstones so
  // later reads do not wade through them.
  Status compact(Cf which);
  // Flushes every family's memtable to SST files (after kBuffered writes that must last).
  Status flush();
  // std::nullopt when absent.
  Result<std::optional<std::string>> get(Cf which, std::string_view key) const override;
  Result<std::vector<std::optional<std::string>>> multi_get(Cf which,
                                                            const std::vector<std::string>& keys) const override;
  Status scan(Cf which, std::string_view prefix, const ScanFn& fn) const override;
  std::unique_ptr<rocksdb::Iterator> iterator(Cf which) const;
  // Writer: a consistent copy of the database in `dir` (which must not exist yet), openable as
  // a data dir of its own: what an operator's backup holds.
  Status checkpoint(const std::string& dir);
  // Bytes of a family's live SST files.
  Result<uint64_t> sst_bytes(Cf which) const;
  // Reader mode: see the writer's newer writes.
  Status catch_up();
  // Times the WAL was fsynced since open (writer; 0 on a reader).
  uint64_t wal_syncs() const;
  // Microseconds writes were stalled by RocksDB since open (writer; 0 on a reader).
  uint64_t stall_micros() const;

 private:
  Store() = default;

  std::string dir_;
  std::string secondary_dir_;  // reader mode: a scratch dir for the secondary's info log
  Mode mode_ = Mode::kWriter;
  rocksdb::DB* db_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::shared_ptr<rocksdb::Cache> block_cache_;
  std::shared_ptr<rocksdb::Statistics> statistics_;
};

}  // namespace rollcall
