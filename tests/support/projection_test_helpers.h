// Shared by the projection property tests: replaying a set of events through ProjectionBatch
// in random batch splits, events parsed from JSON lines for a test, and sums of tally maps.
#pragma once

#include <capnp/message.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/event_fields.h"
#include "engine/event_json.h"
#include "engine/projection.h"
#include "tests/support/memory_projection_store.h"

namespace rollcall::testing {

// Applies events[order[0]], events[order[1]], ... to a fresh store in batches of 1..max_batch
// events (sizes drawn from rng), one ProjectionBatch each; a retraction's lookup sees what was
// applied before. After a batch whose map events changed the map, `paths` follows the new one.
inline MemoryProjectionStore project_in_batches(const std::vector<schema::Event::Reader>& events,
                                                const std::vector<size_t>& order, RollupPaths& paths,
                                                std::mt19937_64& rng, size_t max_batch = 64) {
  MemoryProjectionStore store;
  std::map<std::string, size_t> applied;
  size_t at = 0;
  while (at < order.size()) {
    const size_t n = std::min(order.size() - at, size_t{1} + rng() % max_batch);
    ProjectionBatch batch(store, paths);
    for (size_t k = at; k < at + n; ++k) {
      auto e = events[order[k]];
      auto done = batch.apply(e, [&](const OriginSeq& id) -> Result<std::optional<HeldEvent>> {
        auto it = applied.find(id.to_string());
        if (it == applied.end()) return std::optional<HeldEvent>();
        return std::optional<HeldEvent>(HeldEvent{events[it->second], nullptr});
      });
      REQUIRE(done.ok());
      applied.emplace(event_id(e), order[k]);
    }
    auto changes = batch.changes();
    INFO((changes.ok() ? std::string() : changes.error().message()));
    REQUIRE(changes.ok());
    store.apply(*changes);
    if (batch.new_map()) paths.set_map(batch.new_map());
    at += n;
  }
  return store;
}

// Events parsed from JSON lines for a test, kept alive for their readers.
struct ParsedEvents {
  std::vector<std::unique_ptr<capnp::MallocMessageBuilder>> messages;
  schema::Event::Reader add(const std::string& line) {
    static const EventJson json;
    messages.push_back(std::make_unique<capnp::MallocMessageBuilder>());
    auto parsed = json.parse(line, messages.back()->initRoot<schema::Event>());
    INFO(line);
    REQUIRE(parsed.ok());
    return messages.back()->getRoot<schema::Event>().asReader();
  }
};

// a + b by metric, without zero sums.
inline std::map<std::string, int64_t> plus(std::map<std::string, int64_t> a, const std::map<std::string, int64_t>& b) {
  for (const auto& [metric, n] : b) a[metric] += n;
  std::erase_if(a, [](const auto& e) { return e.second == 0; });
  return a;
}

}  // namespace rollcall::testing
