// PowerLossEnv: a FileSystemWrapper that tracks durable sizes and names, wrapped into an Env.
#include "tests/support/power_loss_env.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <shared_mutex>

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

namespace rollcall::testing {

namespace fs = std::filesystem;
using rocksdb::DirFsyncOptions;
using rocksdb::FileOptions;
using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;
using rocksdb::Slice;

namespace {

// One spelling per path, so that a directory fsync finds the files under it.
std::string normal(const std::string& path) {
  std::string out = fs::path(path).lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

std::string parent_of(const std::string& path) { return fs::path(path).parent_path().string(); }

constexpr uintmax_t kMaxSavedTarget = 1 << 20;  // the largest rename target whose old content we keep

}  // namespace

class PowerLossFileSystem : public rocksdb::FileSystemWrapper {
 public:
  explicit PowerLossFileSystem(const PowerLossOptions& options)
      : rocksdb::FileSystemWrapper(rocksdb::FileSystem::Default()), random_(options.seed),
        torn_tails_(options.torn_tails) {}

  const char* Name() const override { return "PowerLossFileSystem"; }

  // --- the power switch ---

  // Held (shared) for the whole of each write operation, so that crash() (exclusive) orders
  // every operation either wholly before the power loss or after it (then it fails).
  class Gate {
   public:
    explicit Gate(PowerLossFileSystem& fs) : lock_(fs.power_) {
      if (fs.off_.load()) {
        status_ = off();
        return;
      }
      const uint64_t n = fs.writes_.fetch_add(1) + 1;
      const uint64_t at = fs.crash_at_.load();
      if (at != 0 && n >= at) {
        fs.off_.store(true);
        status_ = off();
      }
    }
    bool open() const { return status_.ok(); }
    const IOStatus& status() const { return status_; }

   private:
    static IOStatus off() { return IOStatus::IOError("power is off (PowerLossEnv)"); }
    std::shared_lock<std::shared_mutex> lock_;
    IOStatus status_;
  };

  void crash() {
    std::unique_lock lock(power_);
    off_.store(true);
  }
  void crash_at_write(uint64_t n) { crash_at_.store(n == 0 ? 0 : writes_.load() + n); }
  bool crashed() const { return off_.load(); }
  uint64_t writes() const { return writes_.load(); }

  // --- bookkeeping, called by the files after their target succeeded ---

  void appended(const std::string& path, uint64_t end, bool extend_only) {
    std::lock_guard lock(mu_);
    auto it = files_.find(path);
    if (it == files_.end()) return;
    it->second.size = extend_only ? std::max(it->second.size, end) : it->second.size + end;
  }
  void truncated(const std::string& path, uint64_t size) {
    std::lock_guard lock(mu_);
    auto it = files_.find(path);
    if (it == files_.end()) return;
    it->second.size = std::min(it->second.size, size);
    it->second.durable = std::min(it->second.durable, size);
  }
  uint64_t size_of(const std::string& path) {
    std::lock_guard lock(mu_);
    auto it = files_.find(path);
    return it == files_.end() ? 0 : it->second.size;
  }
  // What was written before the sync began is durable now.
  void synced(const std::string& path, uint64_t size_before) {
    std::lock_guard lock(mu_);
    auto it = files_.find(path);
    if (it == files_.end()) return;
    it->second.durable = std::max(it->second.durable, std::min(size_before, it->second.size));
  }
  void dir_synced(const std::string& dir) {
    std::lock_guard lock(mu_);
    for (auto& [path, state] : files_)
      if (parent_of(path) == dir) state.named = true;
    std::erase_if(renames_, [&](const Rename& r) { return parent_of(r.target) == dir; });
  }

  // --- file system operations that write ---

  IOStatus NewWritableFile(const std::string& f, const FileOptions& options,
                           std::unique_ptr<rocksdb::FSWritableFile>* result,
                           IODebugContext* dbg) override;
  IOStatus ReopenWritableFile(const std::string& f, const FileOptions& options,
                              std::unique_ptr<rocksdb::FSWritableFile>* result,
                              IODebugContext* dbg) override;
  IOStatus ReuseWritableFile(const std::string& f, const std::string& old, const FileOptions& options,
                             std::unique_ptr<rocksdb::FSWritableFile>* result,
                             IODebugContext* dbg) override {
    Gate gate(*this);
    if (!gate.open()) return gate.status();
    return target()->ReuseWritableFile(f, old, options, result, dbg);
  }
  IOStatus NewRandomRWFile(const std::string& f, const FileOptions& options,
                           std::unique_ptr<rocksdb::FSRandomRWFile>* result,
                           IODebugContext* dbg) override {
    Gate gate(*this);
    if (!gate.open()) return gate.status();
    return target()->NewRandomRWFile(f, options, result, dbg);
  }
  IOStatus NewDirectory(const std::string& name, const IOOptions& options,
                        std::unique_ptr<rocksdb::FSDirectory>* result, IODebugContext* dbg) override;
  IOStatus DeleteFile(const std::string& f, const IOOptions& options, IODebugContext* dbg) override {
    Gate gate(*this);
    if (!gate.open()) return gate.status();
    auto s = target()->DeleteFile(f, options, dbg);
    if (s.ok()) {
      // Deletions are durable at once (not modelled), and so is a rename onto the deleted name.
      std::lock_guard lock(mu_);
      const std::string path = normal(f);
      files_.erase(path);
      std::erase_if(renames_, [&](const Rename& r) { return r.target == path; });
    }
    return s;
  }
  IOStatus Truncate(const std::string& f, size_t size, const IOOptions& options,
                    IODebugContext* dbg) override {
    Gate gate(*this);
    if (!gate.open()) return gate.status();
    auto s = target()->Truncate(f, size, options, dbg);
    if (s.ok()) truncated(normal(f), size);
    return s;
  }
  IOStatus RenameFile(const std::string& src, const std::string& dst, const IOOptions& options,
                      IODebugContext* dbg) override;
  IOStatus LinkFile(const std::string& src, const std::string& dst, const IOOptions& options,
                    IODebugContext* dbg) override {
    Gate gate(*this);
    if (!gate.open()) return gate.status();
    return target()->LinkFile(src, dst, options, dbg);
  }
  IOStatus CreateDir(const std::string& d, const IOOptions& options, IODebugContext* dbg) override {
    Gate gate(*this);
    if (!gate.open()) return gate.status();
    return target()->CreateDir(d, options, dbg);
  }
  IOStatus CreateDirIfMissing(const std::string& d, const IOOptions& options,
                              IODebugContext* dbg) override {
    Gate gate(*this);
    if (!gate.open()) return gate.status();
    return target()->CreateDirIfMissing(d, options, dbg);
  }
  IOStatus DeleteDir(const std::string& d, const IOOptions& options, IODebugContext* dbg) override {
    Gate gate(*this);
    if (!gate.open()) return gate.status();
    return target()->DeleteDir(d, options, dbg);
  }

  RestoreReport restore();

 private:
  struct FileState {
    uint64_t size = 0;     // bytes written through the env
    uint64_t durable = 0;  // bytes made durable by a sync
    bool named = false;    // the directory entry is durable
  };
  // A rename whose directory was not fsynced since.
  struct Rename {
    std::string source, target;
    bool source_named = true;                 // the source's name was durable before
    std::optional<std::string> old_target;    // the target's durable content before, if it had one
  };

  std::shared_mutex power_;
  std::atomic<bool> off_{false};
  std::atomic<uint64_t> writes_{0};
  std::atomic<uint64_t> crash_at_{0};

  std::mutex mu_;
  std::map<std::string, FileState> files_;  // by normal path: the files created through the env
  std::vector<Rename> renames_;             // oldest first
  std::mt19937_64 random_;
  bool torn_tails_;
};

namespace {

class PowerLossWritableFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  PowerLossWritableFile(std::unique_ptr<rocksdb::FSWritableFile> file, PowerLossFileSystem& fs,
                        std::string path)
      : rocksdb::FSWritableFileOwnerWrapper(std::move(file)), fs_(fs), path_(std::move(path)) {}

  IOStatus Append(const Slice& data, const IOOptions& options, IODebugContext* dbg) override {
    PowerLossFileSystem::Gate gate(fs_);
    if (!gate.open()) return gate.status();
    auto s = target()->Append(data, options, dbg);
    if (s.ok()) fs_.appended(path_, data.size(), /*extend_only=*/false);
    return s;
  }
  IOStatus Append(const Slice& data, const IOOptions& options,
                  const rocksdb::DataVerificationInfo& info, IODebugContext* dbg) override {
    PowerLossFileSystem::Gate gate(fs_);
    if (!gate.open()) return gate.status();
    auto s = target()->Append(data, options, info, dbg);
    if (s.ok()) fs_.appended(path_, data.size(), /*extend_only=*/false);
    return s;
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& options,
                            IODebugContext* dbg) override {
    PowerLossFileSystem::Gate gate(fs_);
    if (!gate.open()) return gate.status();
    auto s = target()->PositionedAppend(data, offset, options, dbg);
    if (s.ok()) fs_.appended(path_, offset + data.size(), /*extend_only=*/true);
    return s;
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& options,
                            const rocksdb::DataVerificationInfo& info, IODebugContext* dbg) override {
    PowerLossFileSystem::Gate gate(fs_);
    if (!gate.open()) return gate.status();
    auto s = target()->PositionedAppend(data, offset, options, info, dbg);
    if (s.ok()) fs_.appended(path_, offset + data.size(), /*extend_only=*/true);
    return s;
  }
  IOStatus Truncate(uint64_t size, const IOOptions& options, IODebugContext* dbg) override {
    PowerLossFileSystem::Gate gate(fs_);
    if (!gate.open()) return gate.status();
    auto s = target()->Truncate(size, options, dbg);
    if (s.ok()) fs_.truncated(path_, size);
    return s;
  }
  IOStatus Flush(const IOOptions& options, IODebugContext* dbg) override {
    PowerLossFileSystem::Gate gate(fs_);
    if (!gate.open()) return gate.status();
    return target()->Flush(options, dbg);
  }
  IOStatus Sync(const IOOptions& /*options*/, IODebugContext* /*dbg*/) override {
    PowerLossFileSystem::Gate gate(fs_);
    if (!gate.open()) return gate.status();
    // The model decides what survives, not the real disk (which never loses power): the real
    // fsync would only cost time.
    fs_.synced(path_, fs_.size_of(path_));
    return IOStatus::OK();
  }
  IOStatus Fsync(const IOOptions& /*options*/, IODebugContext* /*dbg*/) override {
    PowerLossFileSystem::Gate gate(fs_);
    if (!gate.open()) return gate.status();
    // The model decides what survives, not the real disk (which never loses power): the real
    // fsync would only cost time.
    fs_.synced(path_, fs_.size_of(path_));
    return IOStatus::OK();
  }
  // Starts writeback only: not durable.
  IOStatus RangeSync(uint64_t offset, uint64_t nbytes, const IOOptions& options,
                     IODebugContext* dbg) override {
    PowerLossFileSystem::Gate gate(fs_);
    if (!gate.open()) return gate.status();
    return target()->RangeSync(offset, nbytes, options, dbg);
  }
  // Close passes through even with the power off (it releases the handle), and makes nothing
  // durable.

 private:
  PowerLossFileSystem& fs_;
  std::string path_;
};

class PowerLossDirectory : public rocksdb::FSDirectoryWrapper {
 public:
  PowerLossDirectory(std::unique_ptr<rocksdb::FSDirectory> dir, PowerLossFileSystem& fs, std::string path)
      : rocksdb::FSDirectoryWrapper(std::move(dir)), fs_(fs), path_(std::move(path)) {}

  IOStatus Fsync(const IOOptions& /*options*/, IODebugContext* /*dbg*/) override {
    PowerLossFileSystem::Gate gate(fs_);
    if (!gate.open()) return gate.status();
    fs_.dir_synced(path_);  // not passed on: see Sync
    return IOStatus::OK();
  }
  IOStatus FsyncWithDirOptions(const IOOptions& /*options*/, IODebugContext* /*dbg*/,
                               const DirFsyncOptions& /*dir_options*/) override {
    PowerLossFileSystem::Gate gate(fs_);
    if (!gate.open()) return gate.status();
    fs_.dir_synced(path_);  // not passed on: see Sync
    return IOStatus::OK();
  }

 private:
  PowerLossFileSystem& fs_;
  std::string path_;
};

std::optional<std::string> read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

IOStatus PowerLossFileSystem::NewWritableFile(const std::string& f, const FileOptions& options,
                                              std::unique_ptr<rocksdb::FSWritableFile>* result,
                                              IODebugContext* dbg) {
  Gate gate(*this);
  if (!gate.open()) return gate.status();
  std::unique_ptr<rocksdb::FSWritableFile> file;
  auto s = target()->NewWritableFile(f, options, &file, dbg);
  if (!s.ok()) return s;
  const std::string path = normal(f);
  {
    // A new (or emptied) file: nothing of it is durable, not even its name.
    std::lock_guard lock(mu_);
    files_[path] = FileState{};
  }
  *result = std::make_unique<PowerLossWritableFile>(std::move(file), *this, path);
  return s;
}

IOStatus PowerLossFileSystem::ReopenWritableFile(const std::string& f, const FileOptions& options,
                                                 std::unique_ptr<rocksdb::FSWritableFile>* result,
                                                 IODebugContext* dbg) {
  Gate gate(*this);
  if (!gate.open()) return gate.status();
  std::unique_ptr<rocksdb::FSWritableFile> file;
  auto s = target()->ReopenWritableFile(f, options, &file, dbg);
  if (!s.ok()) return s;
  const std::string path = normal(f);
  {
    std::lock_guard lock(mu_);
    if (files_.find(path) == files_.end()) {
      // A file from before the env: what it holds is durable; appends to it are tracked.
      std::error_code ec;
      const uint64_t size = fs::file_size(path, ec);
      files_[path] = FileState{ec ? 0 : size, ec ? 0 : size, true};
    }
  }
  *result = std::make_unique<PowerLossWritableFile>(std::move(file), *this, path);
  return s;
}

IOStatus PowerLossFileSystem::NewDirectory(const std::string& name, const IOOptions& options,
                                           std::unique_ptr<rocksdb::FSDirectory>* result,
                                           IODebugContext* dbg) {
  std::unique_ptr<rocksdb::FSDirectory> dir;
  auto s = target()->NewDirectory(name, options, &dir, dbg);
  if (!s.ok()) return s;
  *result = std::make_unique<PowerLossDirectory>(std::move(dir), *this, normal(name));
  return s;
}

IOStatus PowerLossFileSystem::RenameFile(const std::string& src, const std::string& dst,
                                         const IOOptions& options, IODebugContext* dbg) {
  Gate gate(*this);
  if (!gate.open()) return gate.status();
  const std::string source = normal(src), target_path = normal(dst);
  Rename rename{source, target_path, true, std::nullopt};
  bool undoable = true;
  {
    // The target's durable content before the rename, to put back if the rename is undone.
    std::error_code ec;
    if (fs::exists(target_path, ec)) {
      std::optional<FileState> tracked;
      {
        std::lock_guard lock(mu_);
        auto it = files_.find(target_path);
        if (it != files_.end()) tracked = it->second;
      }
      const uintmax_t size = fs::file_size(target_path, ec);
      if (ec || size > kMaxSavedTarget) {
        undoable = false;  // too big to keep: the rename counts as durable at once
      } else if (!tracked || tracked->named) {
        rename.old_target = read_whole(target_path);
        if (rename.old_target && tracked) rename.old_target->resize(std::min<uint64_t>(tracked->durable, rename.old_target->size()));
      }
    }
  }
  auto s = target()->RenameFile(src, dst, options, dbg);
  if (!s.ok()) return s;
  std::lock_guard lock(mu_);
  auto moved = files_.extract(source);
  files_.erase(target_path);
  if (!moved.empty()) {
    rename.source_named = moved.mapped().named;
    moved.key() = target_path;
    moved.mapped().named = !undoable;
    files_.insert(std::move(moved));
  } else if (!undoable) {
    return s;
  } else {
    // A file from before the env moves: track it under its new name, all durable but the name.
    std::error_code ec;
    const uint64_t size = fs::file_size(target_path, ec);
    files_[target_path] = FileState{ec ? 0 : size, ec ? 0 : size, false};
  }
  if (undoable) renames_.push_back(std::move(rename));
  return s;
}

RestoreReport PowerLossFileSystem::restore() {
  std::unique_lock power(power_);
  std::lock_guard lock(mu_);
  RestoreReport report;
  std::error_code ec;
  // Renames not made durable are undone, newest first.
  for (auto it = renames_.rbegin(); it != renames_.rend(); ++it) {
    fs::rename(it->target, it->source, ec);
    if (ec) {
      report.errors.push_back("undoing the rename of " + it->source + " to " + it->target + ": " + ec.message());
      continue;
    }
    auto moved = files_.extract(it->target);
    if (!moved.empty()) {
      moved.key() = it->source;
      moved.mapped().named = it->source_named;
      files_.insert(std::move(moved));
    }
    if (it->old_target) {
      std::ofstream out(it->target, std::ios::binary | std::ios::trunc);
      out.write(it->old_target->data(), static_cast<std::streamsize>(it->old_target->size()));
      if (!out) report.errors.push_back("putting back " + it->target);
    }
    ++report.renames_undone;
  }
  for (const auto& [path, state] : files_) {
    if (!fs::exists(path, ec)) continue;
    if (!state.named) {
      fs::remove(path, ec);
      if (ec) report.errors.push_back("deleting " + path + ": " + ec.message());
      ++report.files_deleted;
      continue;
    }
    const uint64_t on_disk = fs::file_size(path, ec);
    if (ec || on_disk <= state.durable) continue;
    uint64_t keep = state.durable;
    if (torn_tails_) keep += std::uniform_int_distribution<uint64_t>(0, on_disk - state.durable)(random_);
    if (keep == on_disk) continue;
    fs::resize_file(path, keep, ec);
    if (ec) report.errors.push_back("truncating " + path + ": " + ec.message());
    ++report.files_truncated;
    report.bytes_dropped += on_disk - keep;
  }
  files_.clear();
  renames_.clear();
  off_.store(false);
  writes_.store(0);
  crash_at_.store(0);
  return report;
}

PowerLossEnv::PowerLossEnv(PowerLossOptions options)
    : fs_(std::make_shared<PowerLossFileSystem>(options)), env_(rocksdb::NewCompositeEnv(fs_)) {}

PowerLossEnv::~PowerLossEnv() = default;

void PowerLossEnv::crash() { fs_->crash(); }
void PowerLossEnv::crash_at_write(uint64_t n) { fs_->crash_at_write(n); }
bool PowerLossEnv::crashed() const { return fs_->crashed(); }
uint64_t PowerLossEnv::writes() const { return fs_->writes(); }
RestoreReport PowerLossEnv::restore() { return fs_->restore(); }

}  // namespace rollcall::testing
