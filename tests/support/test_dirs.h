// Test helpers: temp dirs that clean up, reading files, paths to shared/ and the built binaries.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

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

// Writes `lines` (each with a newline) to dir/name; the path.
inline std::string write_lines(const TempDir& dir, const std::string& name, const std::vector<std::string>& lines) {
  const std::string path = dir / name;
  std::ofstream out(path);
  for (const auto& line : lines) out << line << "\n";
  return path;
}

// The whole file ("" when it cannot be read).
inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The non-empty lines of `text`.
inline std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

inline std::string shared_dir() { return ROLLCALL_SHARED_DIR; }
inline std::string units_2024() { return shared_dir() + "/data/vn-units-2024.csv"; }
inline std::string ba_dinh_events() { return shared_dir() + "/examples/ba-dinh-2024.jsonl"; }

}  // namespace rollcall::testing
