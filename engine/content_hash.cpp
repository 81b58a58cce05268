#include "engine/content_hash.h"

#include <capnp/message.h>

namespace rollcall {
namespace {

// splitmix64 finalizer: a strong 64-bit mix.
uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

uint64_t event_content_hash(schema::Event::Reader event) {
  kj::Array<capnp::word> words = capnp::canonicalize(event);
  // FNV-1a over 64-bit words, each word mixed first: fast and order sensitive.
  uint64_t h = 0xcbf29ce484222325ULL;
  const auto* p = reinterpret_cast<const uint64_t*>(words.begin());
  for (size_t i = 0; i < words.size(); ++i) {
    h ^= mix(p[i] + i);
    h *= 0x100000001b3ULL;
  }
  return mix(h ^ words.size());
}

uint64_t submitted_content_hash(schema::Event::Reader event) {
  capnp::MallocMessageBuilder message;
  message.setRoot(event);
  auto copy = message.getRoot<schema::Event>();
  if (copy.hasOrigin()) copy.disownOrigin();
  copy.setSeq(0);
  copy.setRecordedAt(0);
  return event_content_hash(copy.asReader());
}

uint64_t chain_hash(uint64_t previous, uint64_t content) {
  return mix(previous * 0x9e3779b97f4a7c15ULL ^ content);
}

}  // namespace rollcall
