// Event JSON: one event per line, the names being the schema's field names (DESIGN.md "Event
// JSON"), converted through Cap'n Proto's own JSON codec (capnp/compat/json.h).
//
// On top of the codec this adds what a strict reader needs: unknown fields are rejected at
// every level (the codec would drop them silently), exactly one event kind must be present,
// `seq` is written as a JSON number (a decimal string above 2^53, which a double cannot hold
// exactly) and `recordedAt` as an RFC 3339 UTC timestamp.
//
// Ownership: one instance may be shared by threads for parse and format (both const).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "engine/status.h"
#include "schema/event.capnp.h"

namespace capnp {
class JsonCodec;
}

namespace rollcall {

class EventJson {
 public:
  // Lines longer than this are rejected before parsing.
  static constexpr size_t kMaxLineBytes = 64 * 1024;

  EventJson();
  ~EventJson();
  EventJson(const EventJson&) = delete;
  EventJson& operator=(const EventJson&) = delete;

  // Parses one JSON object into `out`. The error names what is wrong (syntax, an unknown
  // field and where, no kind or two kinds, a value of the wrong type or an unknown enum name).
  // Only the syntax is checked here; EventValidator checks the content.
  Status parse(std::string_view line, schema::Event::Builder out) const;

  // One line of JSON, without a newline. Fields not yet assigned (origin, seq, recordedAt of a
  // submitted event) are left out: seq and recordedAt each when zero, origin when it or the seq
  // is unset.
  std::string format(schema::Event::Reader event) const;

 private:
  std::unique_ptr<capnp::JsonCodec> codec_;
};

}  // namespace rollcall
