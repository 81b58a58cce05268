// Rows of cells printed as aligned columns for the CLI's text output. Widths count UTF-8
// characters, not bytes, so Vietnamese names line up.
//
// Ownership: a plain value; one thread.
#pragma once

#include <cstddef>
#include <ostream>
#include <string>
#include <vector>

namespace rollcall::cli {

// The width of `text` on a terminal: its UTF-8 characters (precomposed text, as the data is).
size_t display_width(const std::string& text);

class TextTable {
 public:
  // `header` may be empty: then no header row is printed.
  explicit TextTable(std::vector<std::string> header = {}) : header_(std::move(header)) {}

  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  // Numbers read best right-aligned.
  void align_right(size_t column);
  size_t size() const { return rows_.size(); }

  // Every row, columns two spaces apart; the last column of a row is not padded.
  void print(std::ostream& out) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<bool> right_;
};

}  // namespace rollcall::cli
