// The unit map the fuzz targets judge events against: a small real slice of the 2024 map (Hà
// Nội > Ba Đình 001 > two wards, and Hoàn Kiếm 002 outside 001's subtree), the node being 001.
#pragma once

#include "engine/unit_map.h"

namespace rollcall::fuzz {

inline const UnitMap& fuzz_map() {
  static const UnitMap map = UnitMap::parse_csv(
                                 "code,name,level,parent_code\n"
                                 "01,Thành phố Hà Nội,province,\n"
                                 "001,Quận Ba Đình,district,01\n"
                                 "00001,Phường Phúc Xá,ward,001\n"
                                 "00004,Phường Trúc Bạch,ward,001\n"
                                 "002,Quận Hoàn Kiếm,district,01\n"
                                 "00037,Phường Phúc Tân,ward,002\n")
                                 .value();
  return map;
}

inline const UnitCode& fuzz_node_unit() {
  static const UnitCode unit = UnitCode::parse("001").value();
  return unit;
}

}  // namespace rollcall::fuzz
