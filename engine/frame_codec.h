// Framing of Cap'n Proto messages on a byte stream (TCP), without any I/O.
//
// A frame is a 4-byte little-endian length L followed by L bytes: one message in Cap'n Proto's
// standard serialization (segment table, then segments). L is a multiple of 8, at least 8 and at
// most FrameLimits::max_frame_bytes; anything else is a stream error and the connection must
// close. docs/protocol.md describes it.
//
// FrameDecoder copies each frame into a word-aligned buffer (Cap'n Proto readers need 8-byte
// alignment) and opens it with traversal and nesting limits. Not thread-safe; one per
// connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/array.h>

#include "engine/status.h"

namespace rollcall {

struct FrameLimits {
  size_t max_frame_bytes = 16 << 20;          // 16 MiB
  uint64_t traversal_limit_words = 4 << 20;   // 32 MiB of pointers followed
  int nesting_limit = 16;
};

// One received message: owns its aligned words and the reader over them.
class Frame {
 public:
  Frame(kj::Array<capnp::word> words, const FrameLimits& limits);
  Frame(const Frame&) = delete;
  Frame& operator=(const Frame&) = delete;

  // Throws kj::Exception on a malformed message: call inside guard_capnp.
  template <typename T>
  typename T::Reader root() {
    return reader_.getRoot<T>();
  }
  kj::ArrayPtr<const capnp::word> words() const { return words_; }
  size_t size_bytes() const { return words_.size() * sizeof(capnp::word); }

 private:
  kj::Array<capnp::word> words_;
  capnp::FlatArrayMessageReader reader_;
};

class FrameDecoder {
 public:
  explicit FrameDecoder(FrameLimits limits = {}) : limits_(limits) {}

  // Appends received bytes. An error (oversized or misaligned length, a segment table that does
  // not match the length) is final: the stream is unusable.
  Status feed(const void* data, size_t size);
  // The next complete frame, if any.
  std::unique_ptr<Frame> next();
  // Bytes received but not yet returned as frames.
  size_t buffered_bytes() const { return buffer_.size() - consumed_; }

 private:
  Status extract();

  FrameLimits limits_;
  std::vector<uint8_t> buffer_;
  size_t consumed_ = 0;
  std::deque<std::unique_ptr<Frame>> ready_;
};

// Serializes a built message into one frame (length prefix + words).
std::vector<uint8_t> encode_frame(capnp::MessageBuilder& message);

}  // namespace rollcall
