// Test helpers: temp dirs that clean up, paths to shared/ and the built binaries.
#pragma once

#include <filesystem>
#include <string>

#ifndef ROLLCALL_SHARED_DIR
#define ROLLCALL_SHARED_DIR "/work/shared"
#endif

namespace rollcall::testing {

// A fresh directory under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string shared_dir() { return ROLLCALL_SHARED_DIR; }
inline std::string units_2024() { return shared_dir() + "/data/vn-units-2024.csv"; }
inline std::string ba_dinh_events() { return shared_dir() + "/examples/ba-dinh-2024.jsonl"; }

}  // namespace rollcall::testing
