// The tally metrics (DESIGN.md "Projections") and what each event adds to them.
//
// A dated metric is a sum of per-event deltas keyed by the event's effective date, counted at
// the event's own unit and rolled up to its ancestors. `members.inTransit` is the one current
// count: it is not a sum of deltas and has no date (engine/projection.h keeps it).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "schema/event.capnp.h"

namespace rollcall {

inline constexpr std::string_view kInTransitMetric = "members.inTransit";

struct MetricDelta {
  std::string_view metric;  // one of dated_metric_names(): static storage
  int64_t delta = 0;
};

// Every dated metric, in display order: members.*, rewards, disciplines, then
// activity.<kind>.count|participants|reports for each activity kind in schema order.
std::span<const std::string> dated_metric_names();
bool is_dated_metric(std::string_view name);

// Appends the deltas `event` adds at its own unit on its effective date (nothing for kinds
// without metrics: residence and temporary activity, retractions, map events).
void event_metric_deltas(schema::Event::Reader event, std::vector<MetricDelta>& out);

}  // namespace rollcall
