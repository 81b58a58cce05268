// An in-memory stand-in for the projection column families, so projection tests can replay
// thousands of event orders without RocksDB. Rows are kept in (family, key) order, so two
// stores with the same rows compare equal byte for byte.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/column_families.h"
#include "engine/projection.h"

namespace rollcall::testing {

class MemoryProjectionStore : public KeyValueReader {
 public:
  Result<std::optional<std::string>> get(Cf which, std::string_view key) const override {
    auto it = rows_.find({which, std::string(key)});
    if (it == rows_.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  Status scan(Cf which, std::string_view prefix, const ScanFn& fn) const override {
    for (auto it = rows_.lower_bound({which, std::string(prefix)});
         it != rows_.end() && it->first.first == which && it->first.second.starts_with(prefix); ++it) {
      if (!fn(it->first.second, it->second)) break;
    }
    return ok_status();
  }
  void apply(const std::vector<KeyChange>& changes) {
    for (const KeyChange& c : changes) {
      if (c.value) rows_[{c.cf, c.key}] = *c.value;
      else rows_.erase({c.cf, c.key});
    }
  }
  const std::map<std::pair<Cf, std::string>, std::string>& rows() const { return rows_; }
  bool operator==(const MemoryProjectionStore& other) const { return rows_ == other.rows_; }

 private:
  std::map<std::pair<Cf, std::string>, std::string> rows_;
};

}  // namespace rollcall::testing
