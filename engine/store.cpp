#include "engine/store.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>

namespace rollcall {
namespace {

}  // namespace

const char* cf_name(Cf which) {
  switch (which) {
    case Cf::kMeta: return rocksdb::kDefaultColumnFamilyName.c_str();
    case Cf::kLog: return "log";
    case Cf::kOriginIndex: return "origin_index";
    case Cf::kUnitIndex: return "unit_index";
    case Cf::kWatermarks: return "watermarks";
    case Cf::kMembers: return "members";
    case Cf::kRetracted: return "retracted";
    case Cf::kTallies: return "tallies";
    case Cf::kMemberUnits: return "member_units";
    case Cf::kTransfers: return "transfers";
    case Cf::kRequests: return "requests";
    case Cf::kRequestExpiry: return "request_expiry";
    case Cf::kMapEvents: return "map_events";
    case Cf::kCount: break;
  }
  return "?";
}

namespace {

rocksdb::ColumnFamilyOptions cf_options(Cf which, const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions options;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  if (which == Cf::kLog) {
    // Large values written once, read in order: bigger blocks, cheap fast compression.
    table.block_size = 32 * 1024;
    options.compression = rocksdb::kLZ4Compression;
    options.bottommost_compression = rocksdb::kZSTD;
    options.write_buffer_size = 32 << 20;
  } else {
    // Point lookups (members, watermarks, index seeks, the projections' read-modify-writes,
    // most of which miss): bloom filters in the tables and in the memtable.
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    options.compression = rocksdb::kLZ4Compression;
    options.write_buffer_size = 16 << 20;
    options.memtable_whole_key_filtering = true;
    options.memtable_prefix_bloom_size_ratio = 0.05;
  }
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return options;
}

}  // namespace

Error to_error(const rocksdb::Status& status, std::string_view context) {
  ErrorKind kind = ErrorKind::kIo;
  if (status.IsCorruption()) kind = ErrorKind::kCorruption;
  else if (status.IsBusy() || status.IsTryAgain() || status.IsTimedOut()) kind = ErrorKind::kBusy;
  else if (status.IsNoSpace() || status.subcode() == rocksdb::Status::kSpaceLimit) kind = ErrorKind::kStorageFull;
  else if (status.IsNotFound()) kind = ErrorKind::kNotFound;
  else if (status.IsInvalidArgument() || status.IsNotSupported()) kind = ErrorKind::kInvalidInput;
  std::string message = std::string(context) + ": " + status.ToString();
  if (status.IsIOError() && status.ToString().find("lock") != std::string::npos) {
    kind = ErrorKind::kUnavailable;
    message = std::string(context) + ": the data dir is in use by another rollcalld (" +
              status.ToString() + ")";
  }
  return Error(kind, std::move(message));
}

Result<std::unique_ptr<Store>> Store::open(const std::string& dir, Mode mode, bool create,
                                           rocksdb::Env* env) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const bool exists = fs::exists(fs::path(dir) / "CURRENT", ec);
  if (!exists && !(mode == Mode::kWriter && create))
    return Error(ErrorKind::kNotFound, "no rollcall data dir at '" + dir + "'");

  auto store = std::unique_ptr<Store>(new Store());
  store->dir_ = dir;
  store->mode_ = mode;
  store->block_cache_ = rocksdb::NewLRUCache(64 << 20);

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = create;
  db_options.create_missing_column_families = mode == Mode::kWriter;
  db_options.max_background_jobs = 2;
  db_options.keep_log_file_num = 4;
  db_options.max_log_file_size = 16 << 20;
  db_options.max_total_wal_size = 256 << 20;
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  db_options.avoid_unnecessary_blocking_io = true;
  // Table files are opened at recovery by this many threads (RocksDB's default, 16, starts 15
  // threads at every open: most of the simulator's cost, and more than a unit server's cores).
  db_options.max_file_opening_threads = 2;
  if (env != nullptr) db_options.env = env;

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (size_t i = 0; i < static_cast<size_t>(Cf::kCount); ++i) {
    const auto which = static_cast<Cf>(i);
    descriptors.emplace_back(cf_name(which), cf_options(which, store->block_cache_));
  }

  rocksdb::Status s;
  if (mode == Mode::kWriter) {
    store->statistics_ = rocksdb::CreateDBStatistics();
    store->statistics_->set_stats_level(rocksdb::StatsLevel::kExceptTimers);
    db_options.statistics = store->statistics_;
    if (create) fs::create_directories(dir, ec);
    s = rocksdb::DB::Open(db_options, dir, descriptors, &store->handles_, &store->db_);
  } else {
    db_options.max_open_files = -1;
    std::string scratch = (fs::temp_directory_path() / "rollcall-reader-XXXXXX").string();
    if (mkdtemp(scratch.data()) == nullptr)
      return Error(ErrorKind::kIo, "cannot make a scratch dir for reading '" + dir + "'");
    store->secondary_dir_ = scratch;
    // A reader opens the families the data dir has: one written by an older rollcall lacks
    // those added since (its writer adds them when it next opens), and they read as empty.
    std::vector<std::string> present;
    s = rocksdb::DB::ListColumnFamilies(db_options, dir, &present);
    if (!s.ok()) return to_error(s, "opening data dir '" + dir + "'");
    std::vector<size_t> opened;  // Cf of each descriptor opened
    std::vector<rocksdb::ColumnFamilyDescriptor> existing;
    for (size_t i = 0; i < descriptors.size(); ++i) {
      if (std::find(present.begin(), present.end(), descriptors[i].name) == present.end()) continue;
      opened.push_back(i);
      existing.push_back(descriptors[i]);
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    s = rocksdb::DB::OpenAsSecondary(db_options, dir, scratch, existing, &handles, &store->db_);
    if (s.ok()) {
      store->handles_.assign(descriptors.size(), nullptr);
      for (size_t i = 0; i < opened.size(); ++i) store->handles_[opened[i]] = handles[i];
    }
  }
  if (!s.ok()) return to_error(s, "opening data dir '" + dir + "'");
  return store;
}

Store::~Store() {
  for (auto* handle : handles_)
    if (handle != nullptr) db_->DestroyColumnFamilyHandle(handle);
  delete db_;
  if (!secondary_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(secondary_dir_, ec);
  }
}

Status Store::write(rocksdb::WriteBatch& batch, Durability durability) {
  rocksdb::WriteOptions options;
  options.sync = durability == Durability::kSynced;
  options.disableWAL = durability == Durability::kBuffered;
  auto s = db_->Write(options, &batch);
  if (!s.ok()) return to_error(s, "writing to '" + dir_ + "'");
  return ok_status();
}

Status Store::ingest_sorted(const std::vector<KeyChange>& changes) {
  namespace fs = std::filesystem;
  for (size_t i = 1; i < changes.size(); ++i) {
    const KeyChange& a = changes[i - 1];
    const KeyChange& b = changes[i];
    if (a.cf > b.cf || (a.cf == b.cf && a.key >= b.key))
      return Error(ErrorKind::kInternal, std::string("ingest_sorted: change ") + std::to_string(i) + " of " +
                                             cf_name(b.cf) + " is not after the one before it in (family, key) order");
  }
  // The files are written beside the database (ingest links them in), one per family, named by
  // it; whatever an interrupted call left there is dropped first.
  const fs::path scratch = fs::path(dir_) / "ingest";
  std::error_code ec;
  fs::remove_all(scratch, ec);
  fs::create_directories(scratch, ec);
  if (ec) return Error(ErrorKind::kIo, "cannot make '" + scratch.string() + "': " + ec.message());
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ignored;
      fs::remove_all(dir, ignored);
    }
  } cleanup{scratch};

  std::vector<rocksdb::IngestExternalFileArg> args;
  for (size_t from = 0; from < changes.size();) {
    const Cf which = changes[from].cf;
    size_t to = from;
    while (to < changes.size() && changes[to].cf == which) ++to;
    const std::string path = (scratch / (std::string(cf_name(which)) + ".sst")).string();
    // The next chunk reads these rows back: keep them in the page cache.
    rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), db_->GetOptions(cf(which)), cf(which),
                                  /*invalidate_page_cache=*/false);
    auto s = writer.Open(path);
    for (size_t i = from; s.ok() && i < to; ++i) {
      const KeyChange& change = changes[i];
      s = change.value ? writer.Put(change.key, *change.value) : writer.Delete(change.key);
    }
    if (s.ok()) s = writer.Finish();
    if (!s.ok()) return to_error(s, std::string("writing a sorted file of ") + cf_name(which) + " for '" + dir_ + "'");
    rocksdb::IngestExternalFileArg arg;
    arg.column_family = cf(which);
    arg.external_files.push_back(path);
    arg.options.move_files = true;
    // The file's sequence number lives in the MANIFEST only (no rewrite of the file, one sync
    // less): only RocksDB older than 5.16 would need it in the file.
    arg.options.write_global_seqno = false;
    args.push_back(std::move(arg));
    from = to;
  }
  if (args.empty()) return ok_status();
  auto s = db_->IngestExternalFiles(args);
  if (!s.ok()) return to_error(s, "ingesting sorted files into '" + dir_ + "'");
  return ok_status();
}

Status Store::compact(Cf which) {
  rocksdb::CompactRangeOptions options;
  options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  auto s = db_->CompactRange(options, cf(which), nullptr, nullptr);
  if (!s.ok()) return to_error(s, "compacting '" + dir_ + "'");
  return ok_status();
}

Status Store::flush() {
  rocksdb::FlushOptions options;
  options.wait = true;
  auto s = db_->Flush(options, handles_);
  if (!s.ok()) return to_error(s, "flushing '" + dir_ + "'");
  return ok_status();
}

Result<std::optional<std::string>> Store::get(Cf which, std::string_view key) const {
  if (cf(which) == nullptr) return std::optional<std::string>();  // a family this data dir lacks
  std::string value;
  auto s = db_->Get(rocksdb::ReadOptions(), cf(which), rocksdb::Slice(key.data(), key.size()),
                    &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return to_error(s, "reading '" + dir_ + "'");
  return std::optional<std::string>(std::move(value));
}

Result<std::vector<std::optional<std::string>>> Store::multi_get(Cf which,
                                                                 const std::vector<std::string>& keys) const {
  if (cf(which) == nullptr) return std::vector<std::optional<std::string>>(keys.size());
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  db_->MultiGet(rocksdb::ReadOptions(), cf(which), keys.size(), slices.data(), values.data(), statuses.data(),
                /*sorted_input=*/true);
  std::vector<std::optional<std::string>> out(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].IsNotFound()) continue;
    if (!statuses[i].ok()) return to_error(statuses[i], "reading '" + dir_ + "'");
    out[i] = values[i].ToString();
  }
  return out;
}

Status Store::scan(Cf which, std::string_view prefix, const ScanFn& fn) const {
  auto it = iterator(which);
  const rocksdb::Slice start(prefix.data(), prefix.size());
  for (it->Seek(start); it->Valid() && it->key().starts_with(start); it->Next()) {
    if (!fn(it->key().ToStringView(), it->value().ToStringView())) break;
  }
  if (!it->status().ok()) return to_error(it->status(), "reading '" + dir_ + "'");
  return ok_status();
}

std::unique_ptr<rocksdb::Iterator> Store::iterator(Cf which) const {
  if (cf(which) == nullptr) return std::unique_ptr<rocksdb::Iterator>(rocksdb::NewEmptyIterator());
  return std::unique_ptr<rocksdb::Iterator>(db_->NewIterator(rocksdb::ReadOptions(), cf(which)));
}

Status Store::checkpoint(const std::string& dir) {
  rocksdb::Checkpoint* raw = nullptr;
  auto s = rocksdb::Checkpoint::Create(db_, &raw);
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  if (s.ok()) s = checkpoint->CreateCheckpoint(dir);
  if (!s.ok()) return to_error(s, "copying '" + dir_ + "' to '" + dir + "'");
  return ok_status();
}

Result<uint64_t> Store::sst_bytes(Cf which) const {
  uint64_t bytes = 0;
  if (cf(which) == nullptr) return bytes;
  if (!db_->GetIntProperty(cf(which), rocksdb::DB::Properties::kLiveSstFilesSize, &bytes))
    return Error(ErrorKind::kIo, std::string("reading the size of family ") + cf_name(which));
  return bytes;
}

uint64_t Store::stall_micros() const {
  return statistics_ ? statistics_->getTickerCount(rocksdb::STALL_MICROS) : 0;
}

uint64_t Store::wal_syncs() const {
  return statistics_ ? statistics_->getTickerCount(rocksdb::WAL_FILE_SYNCED) : 0;
}

Status Store::catch_up() {
  if (mode_ != Mode::kReader) return ok_status();
  auto s = db_->TryCatchUpWithPrimary();
  if (!s.ok()) return to_error(s, "catching up with the node writing '" + dir_ + "'");
  return ok_status();
}

}  // namespace rollcall
