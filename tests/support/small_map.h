// A small real slice of the map for in-process tests: Hà Nội with two districts.
// Engine tests run Ba Đình (001) as the node, so 002 and its ward are outside the subtree.
#pragma once

namespace rollcall::testing {

inline const char* const kSmallMapCsv =
    "code,name,level,parent_code\n"
    "01,Thành phố Hà Nội,province,\n"
    "001,Quận Ba Đình,district,01\n"
    "00001,Phường Phúc Xá,ward,001\n"
    "00004,Phường Trúc Bạch,ward,001\n"
    "002,Quận Hoàn Kiếm,district,01\n"
    "00037,Phường Phúc Tân,ward,002\n";

}  // namespace rollcall::testing
