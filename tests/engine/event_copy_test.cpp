#include "engine/event_copy.h"

#include <capnp/any.h>
#include <capnp/message.h>
#include <capnp/schema.h>
#include <capnp/serialize.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <string>

#include "engine/capnp_guard.h"
#include "engine/content_hash.h"
#include "engine/event_json.h"
#include "tests/support/test_dirs.h"

namespace rollcall {

TEST_CASE("copy_event_checked: every event of the Ba Dinh year is copied exactly", "[event_copy]") {
  EventJson json;
  std::ifstream in(testing::ba_dinh_events());
  std::string line;
  int copied = 0;
  while (std::getline(in, line)) {
    capnp::MallocMessageBuilder source, target;
    auto event = source.initRoot<schema::Event>();
    REQUIRE(json.parse(line, event).ok());
    event.setOrigin("001");
    event.setSeq(static_cast<uint64_t>(copied + 1));
    event.setRecordedAt(1764072000000000);
    event.setRequestId("r-" + std::to_string(copied));
    copy_event_checked(event.asReader(), target.initRoot<schema::Event>());
    INFO(line);
    REQUIRE(event_content_hash(target.getRoot<schema::Event>().asReader()) == event_content_hash(event.asReader()));
    ++copied;
  }
  CHECK(copied == 400);
}

TEST_CASE("copy_event_checked: map events with lists are copied exactly", "[event_copy]") {
  capnp::MallocMessageBuilder source, target;
  auto event = source.initRoot<schema::Event>();
  event.setUnit("01");
  event.setEffectiveDate("2025-07-01");
  auto merged = event.initUnitMerged();
  merged.setCode("00001");
  auto into = merged.initInto(2);
  into.set(0, "00097");
  into.set(1, "00004");
  copy_event_checked(event.asReader(), target.initRoot<schema::Event>());
  auto copy = target.getRoot<schema::Event>().getUnitMerged();
  REQUIRE(copy.getInto().size() == 2);
  CHECK(copy.getInto()[1] == "00004");
  CHECK(event_content_hash(target.getRoot<schema::Event>().asReader()) == event_content_hash(event.asReader()));
}

TEST_CASE("copy_event_checked: an unknown kind keeps its discriminant", "[event_copy]") {
  capnp::MallocMessageBuilder source, target;
  auto event = source.initRoot<schema::Event>();
  event.setUnit("00001");
  event.initActivityReported();
  const size_t offset = capnp::Schema::from<schema::Event>().getProto().getStruct().getDiscriminantOffset() * 2;
  capnp::AnyStruct::Builder(kj::mv(event)).getDataSection()[offset] = 40;
  copy_event_checked(source.getRoot<schema::Event>().asReader(), target.initRoot<schema::Event>());
  CHECK(static_cast<uint16_t>(target.getRoot<schema::Event>().which()) == 40);
  CHECK(target.getRoot<schema::Event>().getUnit() == "00001");
}

TEST_CASE("copy_event_checked: an amplified event fails under the reader's traversal limit", "[event_copy]") {
  // One text referenced by many list elements: 200 x 64 KB read through a 1 MB limit.
  capnp::MallocMessageBuilder source(1 << 16, capnp::AllocationStrategy::FIXED_SIZE);
  auto event = source.initRoot<schema::Event>();
  event.setUnit("01");
  event.setEffectiveDate("2025-07-01");
  auto merged = event.initUnitMerged();
  auto into = merged.initInto(200);
  into.set(0, std::string(65536, '7'));
  for (unsigned i = 1; i < 200; ++i) into.set(i, "x");
  // Follow UnitMerged's second pointer (`into`) to the list's element pointers, then point
  // elements 1..199 at element 0's text.
  auto* into_pointer = reinterpret_cast<uint64_t*>(capnp::AnyStruct::Builder(kj::mv(merged)).getDataSection().end()) + 1;
  uint64_t* pointers = into_pointer + 1 + (static_cast<int32_t>(static_cast<uint32_t>(*into_pointer)) >> 2);
  uint64_t* text = pointers + 1 + (static_cast<int32_t>(static_cast<uint32_t>(pointers[0])) >> 2);
  for (unsigned i = 1; i < 200; ++i) {
    const int64_t offset = text - (pointers + i + 1);
    pointers[i] = (pointers[0] & 0xffffffff00000000ull) | ((static_cast<uint32_t>(static_cast<int32_t>(offset)) << 2) | 1u);
  }
  auto words = capnp::messageToFlatArray(source);
  capnp::ReaderOptions options;
  options.traversalLimitInWords = 1 << 17;  // 1 MiB
  capnp::FlatArrayMessageReader reader(words, options);
  capnp::MallocMessageBuilder target;
  auto copied = guard_capnp("copy", [&] {
    copy_event_checked(reader.getRoot<schema::Event>(), target.initRoot<schema::Event>());
  });
  REQUIRE_FALSE(copied.ok());
  CHECK_THAT(copied.error().message(), Catch::Contains("traversal limit"));
}

}  // namespace rollcall
