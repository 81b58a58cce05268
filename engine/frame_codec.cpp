#include "engine/frame_codec.h"

#include <cstring>

#include "engine/capnp_guard.h"

namespace rollcall {
namespace {

uint32_t read_le32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

capnp::ReaderOptions reader_options(const FrameLimits& limits) {
  capnp::ReaderOptions options;
  options.traversalLimitInWords = limits.traversal_limit_words;
  options.nestingLimit = limits.nesting_limit;
  return options;
}

// Checks that the segment table at the start of `words` describes exactly `words`.
Status check_segment_table(kj::ArrayPtr<const capnp::word> words) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(words.begin());
  const size_t total_words = words.size();
  const uint64_t segment_count = uint64_t{read_le32(bytes)} + 1;
  const uint64_t table_words = (segment_count + 2) / 2;  // count + sizes, padded to a word
  if (segment_count > 512 || table_words > total_words)
    return Error(ErrorKind::kInvalidInput, "frame: bad segment table");
  uint64_t sum = table_words;
  for (uint64_t i = 0; i < segment_count; ++i) sum += read_le32(bytes + 4 + 4 * i);
  if (sum != total_words)
    return Error(ErrorKind::kInvalidInput, "frame: segment sizes do not match the frame length");
  return ok_status();
}

}  // namespace

Frame::Frame(kj::Array<capnp::word> words, const FrameLimits& limits)
    : words_(kj::mv(words)), reader_(words_.asPtr(), reader_options(limits)) {}

Status FrameDecoder::feed(const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  buffer_.insert(buffer_.end(), p, p + size);
  return extract();
}

Status FrameDecoder::extract() {
  while (buffer_.size() - consumed_ >= 4) {
    const uint32_t length = read_le32(buffer_.data() + consumed_);
    if (length == 0 || length % 8 != 0)
      return Error(ErrorKind::kInvalidInput,
                   "frame: length " + std::to_string(length) + " is not a positive multiple of 8");
    if (length > limits_.max_frame_bytes)
      return Error(ErrorKind::kInvalidInput, "frame: length " + std::to_string(length) +
                                                 " exceeds the limit of " +
                                                 std::to_string(limits_.max_frame_bytes));
    if (buffer_.size() - consumed_ - 4 < length) break;
    auto words = kj::heapArray<capnp::word>(length / 8);
    std::memcpy(words.begin(), buffer_.data() + consumed_ + 4, length);
    // A bad frame stays at the front of the buffer, so the error is final, as documented.
    ROLLCALL_TRY(check_segment_table(words.asPtr()));
    auto frame = guard_capnp("frame", [&] { return std::make_unique<Frame>(kj::mv(words), limits_); });
    if (!frame.ok()) return frame.error();
    consumed_ += 4 + length;
    ready_.push_back(std::move(frame).value());
  }
  // Compact once the consumed prefix dominates, so the buffer stays bounded by one frame.
  if (consumed_ > 0 && (consumed_ == buffer_.size() || consumed_ > (1u << 16))) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(consumed_));
    consumed_ = 0;
  }
  return ok_status();
}

std::unique_ptr<Frame> FrameDecoder::next() {
  if (ready_.empty()) return nullptr;
  auto frame = std::move(ready_.front());
  ready_.pop_front();
  return frame;
}

std::vector<uint8_t> encode_frame(capnp::MessageBuilder& message) {
  kj::Array<capnp::word> words = capnp::messageToFlatArray(message);
  const size_t length = words.size() * sizeof(capnp::word);
  std::vector<uint8_t> out(4 + length);
  out[0] = static_cast<uint8_t>(length);
  out[1] = static_cast<uint8_t>(length >> 8);
  out[2] = static_cast<uint8_t>(length >> 16);
  out[3] = static_cast<uint8_t>(length >> 24);
  std::memcpy(out.data() + 4, words.begin(), length);
  return out;
}

}  // namespace rollcall
