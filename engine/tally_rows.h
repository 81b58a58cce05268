// Tally rows as a projection batch sums them: packed in 64 bits, summed in a flat table.
// Engine-internal (engine/projection.cpp). Most of a replay's time is summing rows, a million
// distinct ones per chunk of events: one flat array, no node or string per row.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <utility>
#include <vector>

#include "engine/keys.h"
#include "engine/period.h"

namespace rollcall::tally_rows {

// A row: unit (24 bits), granularity (3), bucket (27: yyyymmdd, yyyymm or yyyy; 0 for
// kCurrentGranularity rows, which have none), metric (10). Unit and metric are a batch's
// numbers while summing; with their ranks among the sorted names instead, rows sort in the
// order of their keys (unit, 0x00, granularity, BE32 bucket, metric). The granularity is
// packed by its rank among the five, from 1, so that no row is 0.
inline constexpr unsigned kMetricBits = 10;
inline constexpr unsigned kBucketBits = 27;
inline constexpr unsigned kGranularityBits = 3;
inline constexpr unsigned kUnitBits = 24;
static_assert(kMetricBits + kBucketBits + kGranularityBits + kUnitBits == 64);
static_assert(99991231 < (1u << kBucketBits));
inline constexpr size_t kMaxUnits = size_t{1} << kUnitBits;
inline constexpr size_t kMaxMetrics = size_t{1} << kMetricBits;

// In key order: 'D' < 'M' < 'O' < 'T' < 'Y'.
inline constexpr char kGranularities[] = {static_cast<char>(Granularity::kDay), static_cast<char>(Granularity::kMonth),
                                          keys::kOwnGranularity, keys::kCurrentGranularity,
                                          static_cast<char>(Granularity::kYear)};
static_assert(std::is_sorted(std::begin(kGranularities), std::end(kGranularities)));

constexpr uint64_t granularity_code(char g) {
  for (uint64_t i = 0; i < std::size(kGranularities); ++i)
    if (kGranularities[i] == g) return i + 1;
  return 0;
}
inline constexpr uint64_t kDay = granularity_code(static_cast<char>(Granularity::kDay));
inline constexpr uint64_t kMonth = granularity_code(static_cast<char>(Granularity::kMonth));
inline constexpr uint64_t kYear = granularity_code(static_cast<char>(Granularity::kYear));
inline constexpr uint64_t kOwn = granularity_code(keys::kOwnGranularity);
inline constexpr uint64_t kCurrent = granularity_code(keys::kCurrentGranularity);

constexpr uint64_t row(uint64_t unit, uint64_t granularity, uint64_t bucket, uint64_t metric) {
  return unit << (64 - kUnitBits) | granularity << (kBucketBits + kMetricBits) | bucket << kMetricBits | metric;
}
constexpr uint32_t unit(uint64_t r) { return static_cast<uint32_t>(r >> (64 - kUnitBits)); }
constexpr char granularity(uint64_t r) {
  return kGranularities[((r >> (kBucketBits + kMetricBits)) & ((1u << kGranularityBits) - 1)) - 1];
}
constexpr uint32_t bucket(uint64_t r) { return static_cast<uint32_t>((r >> kMetricBits) & ((1u << kBucketBits) - 1)); }
constexpr uint32_t metric(uint64_t r) { return static_cast<uint32_t>(r & ((1u << kMetricBits) - 1)); }
// The same row with another unit and metric.
constexpr uint64_t renumbered(uint64_t r, uint32_t unit, uint32_t metric) {
  constexpr uint64_t kMiddle = ((uint64_t{1} << (kGranularityBits + kBucketBits)) - 1) << kMetricBits;
  return uint64_t{unit} << (64 - kUnitBits) | (r & kMiddle) | metric;
}

// For renumbering rows by name order: rank[i] is the place of names[i] among the sorted names,
// by_rank[place] the number of the name at that place.
struct Ranks {
  std::vector<uint32_t> rank;
  std::vector<uint32_t> by_rank;
};
template <typename Text>
Ranks ranks(const std::vector<Text>& names) {
  Ranks r;
  r.by_rank.resize(names.size());
  for (uint32_t i = 0; i < r.by_rank.size(); ++i) r.by_rank[i] = i;
  std::sort(r.by_rank.begin(), r.by_rank.end(), [&](uint32_t a, uint32_t b) { return names[a] < names[b]; });
  r.rank.resize(names.size());
  for (uint32_t place = 0; place < r.by_rank.size(); ++place) r.rank[r.by_rank[place]] = place;
  return r;
}

inline uint64_t mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h;
}

// Sums by row: open addressing, linear probing, 0 marks a free slot.
class RowSums {
 public:
  explicit RowSums(size_t expected = 0) : slots_(std::bit_ceil(std::max<size_t>(16, expected * 2))) {}
  void add(uint64_t row, int64_t delta) {
    if ((used_ + 1) * 2 > slots_.size()) grow();
    Slot& slot = find(slots_, row);
    if (slot.row == 0) {
      slot.row = row;
      ++used_;
    }
    slot.sum += delta;
  }
  size_t size() const { return used_; }
  // fn(row, sum) for every row whose sum is not 0, in no order.
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (const Slot& slot : slots_)
      if (slot.row != 0 && slot.sum != 0) fn(slot.row, slot.sum);
  }

 private:
  struct Slot {
    uint64_t row = 0;
    int64_t sum = 0;
  };
  static Slot& find(std::vector<Slot>& slots, uint64_t row) {
    const size_t mask = slots.size() - 1;
    size_t i = mix(row) & mask;
    while (slots[i].row != 0 && slots[i].row != row) i = (i + 1) & mask;
    return slots[i];
  }
  void grow() {
    std::vector<Slot> bigger(slots_.size() * 2);
    for (const Slot& slot : slots_)
      if (slot.row != 0) find(bigger, slot.row) = slot;
    slots_ = std::move(bigger);
  }
  std::vector<Slot> slots_;
  size_t used_ = 0;
};

}  // namespace rollcall::tally_rows
