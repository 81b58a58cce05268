#include "report/text_table.h"

#include <algorithm>

namespace rollcall::cli {

size_t display_width(const std::string& text) {
  // Count every byte that does not continue a UTF-8 sequence (10xxxxxx).
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

void TextTable::align_right(size_t column) {
  if (right_.size() <= column) right_.resize(column + 1, false);
  right_[column] = true;
}

void TextTable::print(std::ostream& out) const {
  std::vector<size_t> widths;
  const auto measure = [&](const std::vector<std::string>& row) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], display_width(row[i]));
  };
  if (!header_.empty()) measure(header_);
  for (const auto& row : rows_) measure(row);

  const auto write = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      const size_t gap = widths[i] - display_width(row[i]);
      const bool right = i < right_.size() && right_[i];
      const bool last = i + 1 == row.size();
      if (i > 0) line += "  ";
      if (right) line.append(gap, ' ');
      line += row[i];
      if (!right && !last) line.append(gap, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();  // an empty last cell
    out << line << "\n";
  };
  if (!header_.empty()) write(header_);
  for (const auto& row : rows_) write(row);
}

}  // namespace rollcall::cli
