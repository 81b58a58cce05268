// A JSON document parsed with Cap'n Proto's JSON codec, for tests that check a command's --json
// output. Throws kj::Exception on malformed text (Catch reports it).
#pragma once

#include <string>

#include <capnp/compat/json.h>
#include <capnp/message.h>

namespace rollcall::testing {

class JsonDoc {
 public:
  explicit JsonDoc(const std::string& text) {
    capnp::JsonCodec codec;
    codec.decodeRaw(kj::ArrayPtr<const char>(text.data(), text.size()), message_.initRoot<capnp::JsonValue>());
  }
  capnp::JsonValue::Reader root() { return message_.getRoot<capnp::JsonValue>().asReader(); }

 private:
  capnp::MallocMessageBuilder message_;
};

}  // namespace rollcall::testing
