// The unit map the fuzz targets judge events against: the engine tests' small real slice of the
// 2024 map (Hà Nội > Ba Đình 001 > two wards, and Hoàn Kiếm 002 outside 001's subtree), the node
// being 001.
#pragma once

#include "engine/unit_map.h"
#include "tests/support/small_map.h"

namespace rollcall::fuzz {

inline const UnitMap& fuzz_map() {
  static const UnitMap map = UnitMap::parse_csv(testing::kSmallMapCsv).value();
  return map;
}

inline const UnitCode& fuzz_node_unit() {
  static const UnitCode unit = UnitCode::parse("001").value();
  return unit;
}

}  // namespace rollcall::fuzz
