// The column families of a data dir; engine/FORMAT.md describes their keys and values.
// Kept apart from store.h so that code which only names a family and reads by key (the
// projections, their in-memory test store) does not see RocksDB.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"

namespace rollcall {

enum class Cf : size_t {
  kMeta = 0,      // "default": format version, unit, incarnation, units map, projection version
  kLog,           // first LSN -> LogBatch
  kOriginIndex,   // origin, first seq -> batch LSN, offset, count
  kUnitIndex,     // unit, batch LSN -> count
  kWatermarks,    // origin -> seq, chain hash, newest recordedAt
  kMembers,       // memberId -> MemberRecord (state and history)
  kRetracted,     // origin:seq of a retracted event -> the retraction's origin:seq
  kTallies,       // unit, granularity, bucket, metric -> BE64 sum
  kMemberUnits,   // unit, memberId -> "" (the members whose current unit is that unit)
  kTransfers,     // memberId, from unit, to unit -> BE32 outs, BE32 ins
  kRequests,      // unit, requestId -> seq and recordedAt of the own event that request appended
  kRequestExpiry, // seq -> recordedAt, unit, requestId (the requests in the order they expire)
  kMapEvents,     // effectiveDate, origin, seq -> the map change (the map's fold, in order)
  kCount,
};

// The families that are projections of the log: `rollcall rebuild` recomputes them and
// `rollcall verify` compares them with a recomputation.
inline constexpr Cf kProjectionCfs[] = {Cf::kMembers,     Cf::kRetracted, Cf::kTallies,
                                        Cf::kMemberUnits, Cf::kTransfers, Cf::kMapEvents};

// The name of a family as RocksDB knows it ("tallies"), for messages.
const char* cf_name(Cf which);

// One change: a put, or a delete when `value` is empty.
struct KeyChange {
  Cf cf;
  std::string key;
  std::optional<std::string> value;
};

// Point reads by family: the RocksDB store, or a map in tests.
class KeyValueReader {
 public:
  virtual ~KeyValueReader() = default;
  // std::nullopt when absent.
  virtual Result<std::optional<std::string>> get(Cf which, std::string_view key) const = 0;
  // One result per key, in order; `keys` sorted. Stores that can batch lookups override it.
  virtual Result<std::vector<std::optional<std::string>>> multi_get(Cf which,
                                                                    const std::vector<std::string>& keys) const {
    std::vector<std::optional<std::string>> out;
    out.reserve(keys.size());
    for (const std::string& key : keys) {
      auto value = get(which, key);
      if (!value.ok()) return value.error();
      out.push_back(std::move(value).value());
    }
    return out;
  }
  // Calls fn(key, value) for every key starting with `prefix`, in key order, until fn returns
  // false.
  using ScanFn = std::function<bool(std::string_view key, std::string_view value)>;
  virtual Status scan(Cf which, std::string_view prefix, const ScanFn& fn) const = 0;
};

}  // namespace rollcall
