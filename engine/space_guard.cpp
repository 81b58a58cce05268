#include "engine/space_guard.h"

#include <sys/statvfs.h>

#include <filesystem>

namespace rollcall {
namespace {

constexpr uint32_t kChecksPerMeasure = 64;
constexpr uint64_t kBytesPerMeasure = 8 << 20;

std::string mib(uint64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

}  // namespace

uint64_t directory_bytes(const std::string& dir) {
  namespace fs = std::filesystem;
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it); it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) {
      const auto size = it->file_size(size_ec);
      if (!size_ec) total += size;
    }
  }
  return total;
}

std::optional<uint64_t> free_disk_bytes(const std::string& path) {
  struct statvfs vfs {};
  if (statvfs(path.c_str(), &vfs) != 0) return std::nullopt;
  return static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
}

void SpaceGuard::measure_dir() {
  dir_bytes_ = directory_bytes(dir_);
  written_since_measure_ = 0;
  checks_since_measure_ = 0;
  measured_ = true;
}

Status SpaceGuard::check(uint64_t incoming_bytes) {
  if (auto free = free_disk_bytes(dir_)) {
    free_bytes_ = *free;
    if (free_bytes_ < min_free_bytes_ + incoming_bytes)
      return Error(ErrorKind::kStorageFull,
                   "only " + mib(free_bytes_) + " free on the disk of the data dir '" + dir_ +
                       "'; appends are refused below the reserve of " + mib(min_free_bytes_) +
                       " and resume when space returns");
  }
  if (max_dir_bytes_ == 0) return ok_status();
  if (!measured_ || ++checks_since_measure_ >= kChecksPerMeasure ||
      written_since_measure_ >= kBytesPerMeasure)
    measure_dir();
  if (dir_bytes_ + written_since_measure_ + incoming_bytes > max_dir_bytes_)
    return Error(ErrorKind::kStorageFull, "the data dir '" + dir_ + "' holds " +
                                              mib(dir_bytes_ + written_since_measure_) +
                                              ", at its cap of " + mib(max_dir_bytes_) +
                                              "; appends resume when space returns");
  written_since_measure_ += incoming_bytes;
  return ok_status();
}

}  // namespace rollcall
