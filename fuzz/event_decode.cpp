// Fuzz target: arbitrary bytes as a Cap'n Proto message whose root is an Event, then what the
// engine does with an event it receives. The node copies a received event with
// copy_event_checked under the frame's limits (node/server.cpp copied_request, replication's
// copy_into_job), inside guard_capnp; everything after reads only the copy: validation as
// submitted and as relayed, content and chain hashes, the JSON form, metrics and member rules.
//
// Checked beyond "no crash": an event valid as relayed survives format -> parse with the same
// content hash (export/import and `log tail` rely on it) when its enum values are this build's,
// and an event valid as submitted keeps its submitted hash through the same round trip.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <capnp/message.h>
#include <capnp/schema.h>
#include <capnp/serialize.h>
#include <kj/array.h>

#include "engine/capnp_guard.h"
#include "engine/content_hash.h"
#include "engine/event_copy.h"
#include "engine/event_fields.h"
#include "engine/event_json.h"
#include "engine/event_validator.h"
#include "engine/frame_codec.h"
#include "engine/member_rules.h"
#include "engine/metrics.h"
#include "fuzz/fuzz_map.h"
#include "schema/storage.capnp.h"

namespace rollcall::fuzz {
namespace {

capnp::ReaderOptions node_reader_options() {
  const FrameLimits limits;  // the node's defaults (node/server.h ServerOptions::frame_limits)
  capnp::ReaderOptions options;
  options.traversalLimitInWords = limits.traversal_limit_words;
  options.nestingLimit = limits.nesting_limit;
  return options;
}

[[noreturn]] void fail(const char* what, const std::string& detail) {
  fprintf(stderr, "event_decode: %s: %s\n", what, detail.c_str());
  abort();
}

// Parses the formatted event back and compares hashes.
void check_json_round_trip(const EventJson& json, schema::Event::Reader event, bool relayed) {
  const std::string line = json.format(event);
  capnp::MallocMessageBuilder again;
  auto parsed = again.initRoot<schema::Event>();
  if (auto s = json.parse(line, parsed); !s.ok()) fail("a valid event's JSON does not parse", s.error().message() + ": " + line);
  const bool same = relayed ? event_content_hash(parsed.asReader()) == event_content_hash(event)
                            : submitted_content_hash(parsed.asReader()) == submitted_content_hash(event);
  if (!same) fail("JSON round trip changed the event", line + " -> " + json.format(parsed.asReader()));
}

template <typename Enum>
bool known(Enum value) {
  return static_cast<uint16_t>(value) < capnp::Schema::from<Enum>().getEnumerants().size();
}

// The payload's enum values are this build's. A relayed event may carry others (a newer child's
// schema; metrics skip them), and the JSON form writes those as numbers, which parse refuses by
// design: such an event needs a build that knows the value to be exported and imported.
bool known_enums(schema::Event::Reader e) {
  using Which = schema::Event::Which;
  switch (e.which()) {
    case Which::MEMBER_REMOVED: return known(e.getMemberRemoved().getReason());
    case Which::ACTIVITY_REPORTED: return known(e.getActivityReported().getKind());
    case Which::MEMBER_RATED: return known(e.getMemberRated().getRating());
    case Which::DISCIPLINE_IMPOSED: return known(e.getDisciplineImposed().getMeasure());
    default: return true;
  }
}

void exercise(schema::Event::Reader event) {
  static const EventJson json;
  static const EventValidator validator(fuzz_map(), fuzz_node_unit());

  (void)event_content_hash(event);
  (void)chain_hash(submitted_content_hash(event), event_content_hash(event));
  (void)event_id(event);
  (void)event_kind_name(event);

  const bool submitted_ok = !validator.check_submitted(event).has_value();
  const bool relayed_ok = !EventValidator::check_relayed(event).has_value();
  if (submitted_ok) check_json_round_trip(json, event, false);
  if (!relayed_ok) return;
  if (known_enums(event)) check_json_round_trip(json, event, true);
  std::vector<MetricDelta> deltas;
  event_metric_deltas(event, deltas);
  if (event_member_id(event)) {
    const MemberFact fact = member_fact(event);
    for (bool strict : {true, false}) {
      auto state = apply_member_event(std::nullopt, event, strict);
      if (state.ok()) (void)apply_member_event(*state, event, strict);
    }
    MemberRecord record;
    record.history.push_back(fact);
    if (auto folded = fold_member(record.history)) record.state = *folded;
    auto decoded = decode_member_record(encode_member_record(record));
    if (!decoded.ok() || !(*decoded == record)) fail("member record round trip", event_id(event));
  }
}

}  // namespace
}  // namespace rollcall::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rollcall;
  // Messages arrive as whole words; a partial last word is zero-padded.
  auto words = kj::heapArray<capnp::word>((size + 7) / 8);
  memset(words.begin(), 0, words.size() * sizeof(capnp::word));
  if (size > 0) memcpy(words.begin(), data, size);

  capnp::MallocMessageBuilder owned;
  auto copied = guard_capnp("event", [&] {
    capnp::FlatArrayMessageReader reader(words.asPtr(), fuzz::node_reader_options());
    copy_event_checked(reader.getRoot<schema::Event>(), owned.initRoot<storage::LogBatch>().initEvents(1)[0]);
  });
  if (!copied.ok()) return 0;
  fuzz::exercise(owned.getRoot<storage::LogBatch>().asReader().getEvents()[0]);
  return 0;
}
