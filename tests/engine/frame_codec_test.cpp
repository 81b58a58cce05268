#include "engine/frame_codec.h"

#include <capnp/message.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/capnp_guard.h"
#include "schema/wire.capnp.h"

namespace rollcall {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes hello_frame(const std::string& unit) {
  capnp::MallocMessageBuilder message;
  auto hello = message.initRoot<wire::Message>().initHello();
  hello.setUnit(unit);
  hello.setProtocolVersion(wire::PROTOCOL_VERSION);
  hello.setSchemaFingerprint(0x1234567890abcdefULL);
  hello.setRole(wire::PeerRole::CHILD);
  hello.setSoftware("rollcall test");
  return encode_frame(message);
}

// A batch of `count` events, large enough to span many words.
Bytes batch_frame(uint64_t first_lsn, unsigned count) {
  capnp::MallocMessageBuilder message;
  auto batch = message.initRoot<wire::Message>().initEventBatch();
  batch.setFirstLsn(first_lsn);
  batch.setLastLsn(first_lsn + count - 1);
  auto events = batch.initEvents(count);
  for (unsigned i = 0; i < count; ++i) {
    events[i].setOrigin("00001");
    events[i].setSeq(first_lsn + i);
    events[i].setUnit("00001");
    events[i].setEffectiveDate("2024-03-26");
    auto admitted = events[i].initMemberAdmitted();
    admitted.setMemberId("00001-" + std::to_string(100000 + i));
    admitted.setFullName("Võ Thị Sáu");
    admitted.setBirthDate("2001-01-01");
  }
  return encode_frame(message);
}

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes le32(uint32_t v) {
  return {static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v >> 16),
          static_cast<uint8_t>(v >> 24)};
}

// Reads the root the way a session does: through guard_capnp.
Result<std::string> hello_unit(Frame& frame) {
  return guard_capnp("hello", [&] {
    auto message = frame.root<wire::Message>();
    KJ_REQUIRE(message.isHello(), "not a hello");
    return std::string(message.getHello().getUnit().cStr());
  });
}

void check_batch(Frame& frame, uint64_t first_lsn, unsigned count) {
  auto checked = guard_capnp("batch", [&] {
    auto batch = frame.root<wire::Message>().getEventBatch();
    CHECK(batch.getFirstLsn() == first_lsn);
    CHECK(batch.getLastLsn() == first_lsn + count - 1);
    REQUIRE(batch.getEvents().size() == count);
    for (unsigned i = 0; i < count; ++i) {
      auto e = batch.getEvents()[i];
      CHECK(e.getSeq() == first_lsn + i);
      CHECK(e.getMemberAdmitted().getMemberId() == ("00001-" + std::to_string(100000 + i)).c_str());
    }
  });
  CHECK(checked.ok());
}

}  // namespace

TEST_CASE("FrameDecoder: a frame fed in one chunk gives back the message", "[frame_codec]") {
  const Bytes frame = hello_frame("00001");
  REQUIRE(frame.size() >= 12);
  uint32_t length = 0;
  std::memcpy(&length, frame.data(), 4);
  CHECK(length == frame.size() - 4);
  CHECK(length % 8 == 0);

  FrameDecoder decoder;
  REQUIRE(decoder.feed(frame.data(), frame.size()).ok());
  auto got = decoder.next();
  REQUIRE(got);
  CHECK(got->size_bytes() == length);
  auto unit = hello_unit(*got);
  REQUIRE(unit.ok());
  CHECK(*unit == "00001");
  auto fingerprint = guard_capnp(
      "hello", [&] { return got->root<wire::Message>().getHello().getSchemaFingerprint(); });
  CHECK(*fingerprint == 0x1234567890abcdefULL);
  CHECK(decoder.next() == nullptr);
  CHECK(decoder.buffered_bytes() == 0);
}

TEST_CASE("FrameDecoder: a frame fed byte by byte appears only when complete", "[frame_codec]") {
  const Bytes frame = batch_frame(41, 20);
  FrameDecoder decoder;
  for (size_t i = 0; i + 1 < frame.size(); ++i) {
    REQUIRE(decoder.feed(&frame[i], 1).ok());
    REQUIRE(decoder.next() == nullptr);
  }
  CHECK(decoder.buffered_bytes() == frame.size() - 1);
  REQUIRE(decoder.feed(&frame.back(), 1).ok());
  auto got = decoder.next();
  REQUIRE(got);
  check_batch(*got, 41, 20);
  CHECK(decoder.buffered_bytes() == 0);
}

TEST_CASE("FrameDecoder: frames split across chunks at any point are reassembled",
          "[frame_codec]") {
  const Bytes stream = concat({hello_frame("001"), batch_frame(1, 3), hello_frame("00004")});
  // Every split point, including inside the length prefix and the segment
  // table.
  for (size_t split = 0; split <= stream.size(); ++split) {
    FrameDecoder decoder;
    REQUIRE(decoder.feed(stream.data(), split).ok());
    REQUIRE(decoder.feed(stream.data() + split, stream.size() - split).ok());
    std::vector<std::unique_ptr<Frame>> frames;
    while (auto f = decoder.next()) frames.push_back(std::move(f));
    INFO("split at " << split);
    REQUIRE(frames.size() == 3);
    CHECK(*hello_unit(*frames[0]) == "001");
    check_batch(*frames[1], 1, 3);
    CHECK(*hello_unit(*frames[2]) == "00004");
  }
}

TEST_CASE("FrameDecoder: several frames in one feed come out in order", "[frame_codec]") {
  std::vector<Bytes> parts;
  Bytes stream;
  for (unsigned i = 0; i < 10; ++i) {
    const Bytes part = batch_frame(100 * i + 1, i + 1);
    stream.insert(stream.end(), part.begin(), part.end());
  }
  // Plus half of an eleventh frame, which must wait.
  const Bytes last = hello_frame("00037");
  stream.insert(stream.end(), last.begin(), last.begin() + 7);

  FrameDecoder decoder;
  REQUIRE(decoder.feed(stream.data(), stream.size()).ok());
  for (unsigned i = 0; i < 10; ++i) {
    auto f = decoder.next();
    REQUIRE(f);
    check_batch(*f, 100 * i + 1, i + 1);
  }
  CHECK(decoder.next() == nullptr);
  CHECK(decoder.buffered_bytes() == 7);
  REQUIRE(decoder.feed(last.data() + 7, last.size() - 7).ok());
  auto f = decoder.next();
  REQUIRE(f);
  CHECK(*hello_unit(*f) == "00037");
}

TEST_CASE("FrameDecoder: an oversized length is refused before its bytes arrive", "[frame_codec]") {
  FrameLimits limits;
  limits.max_frame_bytes = 1024;
  SECTION("just over a small limit") {
    FrameDecoder decoder(limits);
    const Bytes header = le32(1032);
    auto status = decoder.feed(header.data(), header.size());
    REQUIRE_FALSE(status.ok());
    CHECK(status.error().kind() == ErrorKind::kInvalidInput);
    CHECK_THAT(status.error().message(), Catch::Contains("1032 exceeds the limit of 1024"));
  }
  SECTION("a frame at the limit is fine") {
    FrameDecoder decoder(limits);
    const Bytes frame = batch_frame(1, 1);
    REQUIRE(frame.size() - 4 <= 1024);
    CHECK(decoder.feed(frame.data(), frame.size()).ok());
    CHECK(decoder.next() != nullptr);
  }
  SECTION("a length near 4 GiB with the default limit") {
    FrameDecoder decoder;
    const Bytes header = le32(0xfffffff8u);
    auto status = decoder.feed(header.data(), header.size());
    REQUIRE_FALSE(status.ok());
    CHECK_THAT(status.error().message(), Catch::Contains("exceeds the limit"));
    CHECK(decoder.buffered_bytes() <= 4);
  }
  SECTION("a real frame over the limit") {
    const Bytes big = batch_frame(1, 200);
    REQUIRE(big.size() > 1024);
    FrameDecoder decoder(limits);
    CHECK_FALSE(decoder.feed(big.data(), big.size()).ok());
    CHECK(decoder.next() == nullptr);
  }
}

TEST_CASE("FrameDecoder: a length that is not a positive multiple of 8 is refused",
          "[frame_codec]") {
  for (uint32_t bad : {0u, 4u, 12u, 17u, 1023u}) {
    FrameDecoder decoder;
    const Bytes stream = concat({le32(bad), Bytes(24, 0)});
    auto status = decoder.feed(stream.data(), stream.size());
    INFO("length " << bad);
    REQUIRE_FALSE(status.ok());
    CHECK(status.error().kind() == ErrorKind::kInvalidInput);
    CHECK_THAT(status.error().message(), Catch::Contains("length " + std::to_string(bad) +
                                                         " is not a positive multiple of 8"));
  }
}

TEST_CASE("FrameDecoder: a segment table that does not match the length is refused",
          "[frame_codec]") {
  SECTION("segment size too large") {
    Bytes frame = hello_frame("00001");
    // Bytes 4..7: segment count - 1; bytes 8..11: size of segment 0 in words.
    uint32_t size = 0;
    std::memcpy(&size, &frame[8], 4);
    const Bytes patched = le32(size + 1);
    std::copy(patched.begin(), patched.end(), frame.begin() + 8);
    FrameDecoder decoder;
    auto status = decoder.feed(frame.data(), frame.size());
    REQUIRE_FALSE(status.ok());
    CHECK_THAT(status.error().message(),
               Catch::Contains("segment sizes do not match the frame length"));
    CHECK(decoder.next() == nullptr);
  }
  SECTION("segment size too small") {
    Bytes frame = hello_frame("00001");
    frame[8] = static_cast<uint8_t>(frame[8] - 1);
    FrameDecoder decoder;
    auto status = decoder.feed(frame.data(), frame.size());
    REQUIRE_FALSE(status.ok());
    CHECK_THAT(status.error().message(), Catch::Contains("segment sizes do not match"));
  }
  SECTION("a segment count larger than the frame") {
    const Bytes frame = concat({le32(16), le32(1000), Bytes(12, 0)});
    FrameDecoder decoder;
    auto status = decoder.feed(frame.data(), frame.size());
    REQUIRE_FALSE(status.ok());
    CHECK_THAT(status.error().message(), Catch::Contains("bad segment table"));
  }
}

TEST_CASE("FrameDecoder: after a stream error the decoder yields no more frames", "[frame_codec]") {
  const Bytes good = hello_frame("00001");
  SECTION("bad length") {
    FrameDecoder decoder;
    const Bytes bad = concat({le32(12), Bytes(12, 0)});
    REQUIRE_FALSE(decoder.feed(bad.data(), bad.size()).ok());
    CHECK_FALSE(decoder.feed(good.data(), good.size()).ok());
    CHECK(decoder.next() == nullptr);
  }
  SECTION("bad segment table") {
    Bytes bad = good;
    bad[8] = static_cast<uint8_t>(bad[8] + 1);
    FrameDecoder decoder;
    REQUIRE_FALSE(decoder.feed(bad.data(), bad.size()).ok());
    CHECK_FALSE(decoder.feed(good.data(), good.size()).ok());
    CHECK(decoder.next() == nullptr);
  }
}

TEST_CASE(
    "FrameDecoder: garbage inside a well-sized frame fails through "
    "guard_capnp, not a crash",
    "[frame_codec]") {
  SECTION("a root pointer far out of bounds") {
    // One segment of two words: a struct pointer with a huge offset, then
    // padding.
    const Bytes frame =
        concat({le32(24), le32(0), le32(2), le32(1000u << 2), le32(0x00010001u), Bytes(8, 0)});
    FrameDecoder decoder;
    REQUIRE(decoder.feed(frame.data(), frame.size()).ok());
    auto f = decoder.next();
    REQUIRE(f);
    auto unit = hello_unit(*f);
    REQUIRE_FALSE(unit.ok());
    CHECK(unit.error().kind() == ErrorKind::kInvalidInput);
    CHECK_THAT(unit.error().message(), Catch::StartsWith("hello: "));
  }
  SECTION("a far pointer to a segment that does not exist") {
    const Bytes frame = concat({le32(16), le32(0), le32(1), le32(0x2u | (8u << 3)), le32(5)});
    FrameDecoder decoder;
    REQUIRE(decoder.feed(frame.data(), frame.size()).ok());
    auto f = decoder.next();
    REQUIRE(f);
    CHECK_FALSE(hello_unit(*f).ok());
  }
  SECTION("random words behind a valid segment table") {
    std::mt19937_64 random(20240326);
    size_t refused = 0;
    for (int round = 0; round < 500; ++round) {
      const uint32_t words = 1 + static_cast<uint32_t>(random() % 16);
      Bytes frame = concat({le32(8 + 8 * words), le32(0), le32(words)});
      for (uint32_t w = 0; w < words; ++w) {
        const uint64_t v = random();
        for (int b = 0; b < 8; ++b) frame.push_back(static_cast<uint8_t>(v >> (8 * b)));
      }
      FrameDecoder decoder;
      REQUIRE(decoder.feed(frame.data(), frame.size()).ok());
      auto f = decoder.next();
      REQUIRE(f);
      // Follow every pointer: totalSize() walks the whole message.
      auto walked =
          guard_capnp("frame", [&] { return f->root<wire::Message>().totalSize().wordCount; });
      if (!walked.ok()) {
        ++refused;
        CHECK(walked.error().kind() == ErrorKind::kInvalidInput);
      }
    }
    CHECK(refused > 0);
  }
}

TEST_CASE(
    "FrameDecoder: reading more than the traversal limit fails through "
    "guard_capnp",
    "[frame_codec]") {
  capnp::MallocMessageBuilder message;
  message.initRoot<wire::Message>().initEventBatch().initEvents(1000);
  const Bytes frame = encode_frame(message);
  FrameLimits limits;
  limits.traversal_limit_words = 100;
  FrameDecoder decoder(limits);
  REQUIRE(decoder.feed(frame.data(), frame.size()).ok());
  auto f = decoder.next();
  REQUIRE(f);
  auto walked = guard_capnp("batch", [&] {
    uint64_t n = 0;
    for (auto e : f->root<wire::Message>().getEventBatch().getEvents()) n += e.getSeq();
    return n;
  });
  REQUIRE_FALSE(walked.ok());
  CHECK_THAT(walked.error().message(), Catch::Contains("limit"));
}

}  // namespace rollcall
