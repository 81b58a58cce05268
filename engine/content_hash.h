// Content hashes of events: dedup by origin:seq checks content, and each watermark carries a
// chained hash of its origin's events 1..seq so that two nodes can tell whether they hold the
// same history (fork detection). The algorithm, "rollcall-hash-1", is part of the on-disk
// format and the protocol (docs/FORMAT.md): never change it without a version bump.
#pragma once

#include <cstdint>

#include "schema/event.capnp.h"

namespace rollcall {

// 64-bit hash of the event's canonical Cap'n Proto encoding (all fields, origin and seq
// included), so equal events hash equally whatever their segment layout.
uint64_t event_content_hash(schema::Event::Reader event);

// The hash of what a client submitted: the event without the fields its node fills in (origin,
// seq, recordedAt). Equal for a submitted line and the event it was appended as, so that a
// repeated requestId can be checked for the same content.
uint64_t submitted_content_hash(schema::Event::Reader event);

// Chain: h(0) = 0, h(seq) = chain_hash(h(seq - 1), content hash of event seq).
uint64_t chain_hash(uint64_t previous, uint64_t content);

}  // namespace rollcall
