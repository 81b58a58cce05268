#include "engine/unit_map.h"

#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#ifndef ROLLCALL_SHARED_DIR
#define ROLLCALL_SHARED_DIR "/work/shared"
#endif

namespace rollcall {
namespace {

UnitCode code(const char* text) { return UnitCode::parse(text).value(); }

std::vector<std::string> strs(const std::vector<UnitCode>& codes) {
  std::vector<std::string> out;
  for (const UnitCode& c : codes) out.push_back(c.str());
  return out;
}

UnitMap parse_ok(const std::string& text) {
  auto map = UnitMap::parse_csv(text);
  INFO((map.ok() ? std::string() : map.error().message()));
  REQUIRE(map.ok());
  return std::move(map).value();
}

// Parses text that must fail as invalid input; returns the message.
std::string parse_error(const std::string& text) {
  auto map = UnitMap::parse_csv(text);
  REQUIRE_FALSE(map.ok());
  CHECK(map.error().kind() == ErrorKind::kInvalidInput);
  return map.error().message();
}

const std::string kHeader = "code,name,level,parent_code\n";

const std::string kSmall = kHeader +
                           "01,Thành phố Hà Nội,province,\n"
                           "79,Thành phố Hồ Chí Minh,province,\n"
                           "001,Quận Ba Đình,district,01\n"
                           "00004,Phường Trúc Bạch,ward,001\n"
                           "00001,Phường Phúc Xá,ward,001\n"
                           "760,Quận 1,district,79\n";

}  // namespace

TEST_CASE("UnitMap: a file without a root hangs provinces under VN", "[unit_map]") {
  const UnitMap map = parse_ok(kSmall);
  CHECK(map.size() == 7);
  CHECK(map.root() == code("VN"));
  const Unit* vn = map.find(code("VN"));
  REQUIRE(vn != nullptr);
  CHECK(vn->level == "central");
  CHECK(vn->name == "Trung ương Đoàn");
  CHECK(vn->parent.empty());
  CHECK(strs(map.children(code("VN"))) == std::vector<std::string>{"01", "79"});
  CHECK(map.find(code("01"))->parent == code("VN"));
}

TEST_CASE("UnitMap: tree queries follow the parent chain", "[unit_map]") {
  const UnitMap map = parse_ok(kSmall);
  CHECK(strs(map.children(code("001"))) == std::vector<std::string>{"00001", "00004"});
  CHECK(map.children(code("00001")).empty());
  CHECK(map.children(code("nope")).empty());
  CHECK(strs(map.ancestors(code("00004"))) == std::vector<std::string>{"001", "01", "VN"});
  CHECK(map.ancestors(code("VN")).empty());
  CHECK(map.in_subtree(code("00004"), code("01")));
  CHECK(map.in_subtree(code("00004"), code("00004")));
  CHECK(map.in_subtree(code("760"), code("VN")));
  CHECK_FALSE(map.in_subtree(code("760"), code("01")));
  CHECK_FALSE(map.in_subtree(code("01"), code("001")));
  CHECK_FALSE(map.in_subtree(code("nope"), code("VN")));
  CHECK(map.depth(code("VN")) == 0);
  CHECK(map.depth(code("79")) == 1);
  CHECK(map.depth(code("760")) == 2);
  CHECK(map.depth(code("00001")) == 3);
  CHECK(strs(map.subtree(code("01"))) == std::vector<std::string>{"01", "001", "00001", "00004"});
  CHECK(map.subtree(code("VN")).size() == 7);
  CHECK(map.subtree(code("nope")).empty());
}

TEST_CASE("UnitMap: a listed VN is the root and gathers the other parentless units",
          "[unit_map]") {
  const UnitMap map = parse_ok(kHeader + "VN,Trung ương,national,\n01,Hà Nội,province,\n"
                                         "02,Hà Giang,province,VN\n");
  CHECK(map.size() == 3);
  CHECK(map.root() == code("VN"));
  CHECK(map.find(code("VN"))->level == "national");
  CHECK(strs(map.children(code("VN"))) == std::vector<std::string>{"01", "02"});
}

TEST_CASE("UnitMap: a single parentless central unit is the root", "[unit_map]") {
  const UnitMap map = parse_ok(kHeader + "TW,Trung ương,central,\n01,Hà Nội,province,TW\n");
  CHECK(map.size() == 2);
  CHECK(map.root() == code("TW"));
  CHECK_FALSE(map.contains(code("VN")));
  CHECK(map.depth(code("01")) == 1);
}

TEST_CASE("UnitMap: a single parentless province still hangs under an added VN", "[unit_map]") {
  const UnitMap map = parse_ok(kHeader + "01,Hà Nội,province,\n001,Ba Đình,district,01\n");
  CHECK(map.root() == code("VN"));
  CHECK(map.size() == 3);
  CHECK(strs(map.ancestors(code("001"))) == std::vector<std::string>{"01", "VN"});
}

TEST_CASE("UnitMap: an added VN may be named as a parent", "[unit_map]") {
  const UnitMap map = parse_ok(kHeader + "01,Hà Nội,province,VN\n02,Hà Giang,province,\n");
  CHECK(map.size() == 3);
  CHECK(strs(map.children(code("VN"))) == std::vector<std::string>{"01", "02"});
}

TEST_CASE("UnitMap: quoted fields keep commas, escaped quotes and UTF-8 bytes", "[unit_map]") {
  const UnitMap map = parse_ok(kHeader +
                               "\"01\",\"Hà Nội, Thủ đô\",province,\"\"\n"
                               "001,\"Quận \"\"Ba Đình\"\"\",district,\"01\"\n"
                               "002,\"\"\"\",district,01\n");
  CHECK(map.find(code("01"))->name == "Hà Nội, Thủ đô");
  CHECK(map.find(code("01"))->parent == code("VN"));
  CHECK(map.find(code("001"))->name == "Quận \"Ba Đình\"");
  CHECK(map.find(code("001"))->parent == code("01"));
  CHECK(map.find(code("002"))->name == "\"");
}

TEST_CASE("UnitMap: CRLF lines, a BOM and trailing empty lines are accepted", "[unit_map]") {
  const UnitMap map = parse_ok("\xEF\xBB\xBF"
                               "code,name,level,parent_code\r\n"
                               "01,Hà Nội,province,\r\n"
                               "001,\"Ba Đình\",district,01\r\n"
                               "\r\n\n");
  CHECK(map.size() == 3);
  CHECK(map.find(code("001"))->name == "Ba Đình");
  CHECK(map.find(code("001"))->parent == code("01"));
  CHECK(parse_ok(kHeader + "01,Hà Nội,province,").size() == 2);  // no final newline
}

TEST_CASE("UnitMap: errors name the line and the problem", "[unit_map]") {
  using Catch::Matchers::Contains;
  CHECK_THAT(parse_error("code,name,level\n01,Hà Nội,province\n"),
             Contains("line 1") && Contains("bad header"));
  CHECK_THAT(parse_error(""), Contains("line 1") && Contains("missing header"));
  CHECK_THAT(parse_error(kHeader), Contains("line 1") && Contains("no units"));
  CHECK_THAT(parse_error(kHeader + "01,Hà Nội,province,\n001,Ba Đình,district\n"),
             Contains("line 3") && Contains("expected 4 columns, found 3"));
  CHECK_THAT(parse_error(kHeader + "01,Hà Nội,province,\n001,Ba, Đình,district,01\n"),
             Contains("line 3") && Contains("found 5"));
  CHECK_THAT(parse_error(kHeader + "01,Hà Nội,province,\n0 1,Ba Đình,district,01\n"),
             Contains("line 3") && Contains("bad code"));
  CHECK_THAT(parse_error(kHeader + "01,Hà Nội,province,\n,Ba Đình,district,01\n"),
             Contains("line 3") && Contains("empty unit code"));
  CHECK_THAT(parse_error(kHeader + "01,Hà Nội,province,\n001,Ba Đình,district,0/1\n"),
             Contains("line 3") && Contains("bad parent_code"));
  CHECK_THAT(parse_error(kHeader + "01,Hà Nội,province,\n02,Hà Giang,province,\n"
                                   "01,Hà Nội 2,province,\n"),
             Contains("line 4") && Contains("duplicate code 01") && Contains("first on line 2"));
  CHECK_THAT(parse_error(kHeader + "01,Hà Nội,province,\n001,,district,01\n"),
             Contains("line 3") && Contains("empty name"));
  CHECK_THAT(parse_error(kHeader + "01,Hà Nội,province,\n001,Ba Đình,,01\n"),
             Contains("line 3") && Contains("empty level"));
  CHECK_THAT(parse_error(kHeader + "01,Hà Nội,province,\n001,Ba Đình,district,99\n"),
             Contains("line 3") && Contains("parent 99") && Contains("not in the file"));
  CHECK_THAT(parse_error(kHeader + "01,Hà Nội,province,\n001,\"Ba Đình,district,01\n"),
             Contains("line 3") && Contains("unterminated quote"));
  CHECK_THAT(parse_error(kHeader + "01,Hà Nội,province,\n001,\"Ba\"x,district,01\n"),
             Contains("line 3") && Contains("after a closing quote"));
  CHECK_THAT(parse_error(kHeader + "01,Hà Nội,province,\n001,Ba\"Đình,district,01\n"),
             Contains("line 3") && Contains("quote inside an unquoted field"));
  CHECK_THAT(parse_error(kHeader + "01,Hà Nội,province,\n\n001,Ba Đình,district,01\n"),
             Contains("line 3") && Contains("empty line"));
  CHECK_THAT(parse_error(kHeader + "01,Hà Nội,province,\nVN,Trung ương,central,01\n"),
             Contains("line 3") && Contains("VN must have an empty parent_code"));
  CHECK_THAT(parse_error(kHeader + "01,Hà Nội,province,\n001,Ba Đình,district,001\n"),
             Contains("line 3") && Contains("its own parent"));
}

TEST_CASE("UnitMap: a cycle of parents is refused naming a line on it", "[unit_map]") {
  using Catch::Matchers::Contains;
  const std::string message = parse_error(kHeader +
                                          "01,Hà Nội,province,\n"
                                          "001,Ba Đình,district,003\n"  // line 3
                                          "002,Tây Hồ,district,001\n"   // line 4
                                          "003,Hoàn Kiếm,district,002\n"
                                          "00001,Phúc Xá,ward,001\n");
  CHECK_THAT(message, Contains("cycle") && Contains("001") && Contains("002") && Contains("003"));
  const bool names_a_cycle_line = message.find("line 3:") != std::string::npos ||
                                  message.find("line 4:") != std::string::npos ||
                                  message.find("line 5:") != std::string::npos;
  CHECK(names_a_cycle_line);
  // A file that is only a cycle has no parentless unit at all.
  CHECK_THAT(parse_error(kHeader + "01,A,province,02\n02,B,province,01\n"), Contains("cycle"));
}

TEST_CASE("UnitMap: the 2024 map loads with 63 provinces, 696 districts and 10,035 wards",
          "[unit_map]") {
  auto loaded = UnitMap::load_csv_file(ROLLCALL_SHARED_DIR "/data/vn-units-2024.csv");
  INFO((loaded.ok() ? std::string() : loaded.error().to_string()));
  REQUIRE(loaded.ok());
  const UnitMap& map = loaded.value();
  CHECK(map.size() == 10795);
  CHECK(map.root() == code("VN"));
  CHECK(map.children(code("VN")).size() == 63);
  size_t districts = 0, wards = 0;
  for (const UnitCode& c : map.subtree(map.root())) {
    const Unit* unit = map.find(c);
    districts += unit->level == "district";
    wards += unit->level == "ward";
    if (unit->level == "ward") CHECK(map.depth(c) == 3);
  }
  CHECK(districts == 696);
  CHECK(wards == 10035);
  CHECK(map.subtree(map.root()).size() == map.size());
  const Unit* phuc_xa = map.find(code("00001"));
  REQUIRE(phuc_xa != nullptr);
  CHECK(phuc_xa->name == "Phường Phúc Xá");
  CHECK(phuc_xa->level == "ward");
  CHECK(strs(map.ancestors(code("00001"))) == std::vector<std::string>{"001", "01", "VN"});
  CHECK(map.depth(code("00001")) == 3);
  CHECK(map.in_subtree(code("00001"), code("01")));
  CHECK_FALSE(map.in_subtree(code("00001"), code("79")));
}

TEST_CASE("UnitMap: the 2025 map loads with 34 provinces and wards directly below them",
          "[unit_map]") {
  auto loaded = UnitMap::load_csv_file(ROLLCALL_SHARED_DIR "/data/vn-units-2025.csv");
  INFO((loaded.ok() ? std::string() : loaded.error().to_string()));
  REQUIRE(loaded.ok());
  const UnitMap& map = loaded.value();
  CHECK(map.size() == 3356);
  CHECK(map.children(code("VN")).size() == 34);
  size_t wards = 0;
  for (const UnitCode& c : map.subtree(map.root())) {
    if (map.find(c)->level != "ward") continue;
    ++wards;
    CHECK(map.depth(c) == 2);
  }
  CHECK(wards == 3321);
}

TEST_CASE("UnitMap: loading a missing file is not-found and names the path", "[unit_map]") {
  const std::string path = ROLLCALL_SHARED_DIR "/data/no-such-units.csv";
  auto loaded = UnitMap::load_csv_file(path);
  REQUIRE_FALSE(loaded.ok());
  CHECK(loaded.error().kind() == ErrorKind::kNotFound);
  CHECK_THAT(loaded.error().message(), Catch::Matchers::Contains(path));
}

TEST_CASE("UnitMap: a file's parse error names the path and the line", "[unit_map]") {
  const std::string path =
      (std::filesystem::temp_directory_path() / "rollcall_unit_map_test_bad.csv").string();
  std::FILE* file = std::fopen(path.c_str(), "wb");
  REQUIRE(file != nullptr);
  const std::string text = kHeader + "01,Hà Nội,province,\n001,,district,01\n";
  std::fwrite(text.data(), 1, text.size(), file);
  std::fclose(file);
  auto loaded = UnitMap::load_csv_file(path);
  std::remove(path.c_str());
  REQUIRE_FALSE(loaded.ok());
  CHECK(loaded.error().kind() == ErrorKind::kInvalidInput);
  CHECK_THAT(loaded.error().message(),
             Catch::Matchers::Contains(path) && Catch::Matchers::Contains("line 3"));
}

TEST_CASE("UnitMap: reading a directory is an I/O error", "[unit_map]") {
  auto loaded = UnitMap::load_csv_file(ROLLCALL_SHARED_DIR "/data");
  REQUIRE_FALSE(loaded.ok());
  CHECK(loaded.error().kind() == ErrorKind::kIo);
}

}  // namespace rollcall
