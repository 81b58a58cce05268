#include "tests/support/history_checker.h"

#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <utility>

#include <capnp/message.h>

#include "engine/content_hash.h"
#include "engine/event_fields.h"
#include "engine/event_json.h"
#include "engine/event_log.h"
#include "engine/period.h"
#include "tests/support/tally_oracle.h"

namespace rollcall::testing {
namespace {

// What one node holds: each id's hashes (of the whole stored event, and of what was submitted).
struct Held {
  uint64_t content = 0;
  uint64_t submitted = 0;
};

struct NodeView {
  std::map<OriginSeq, Held> events;
  std::map<UnitCode, uint64_t> top_seq;  // per origin, the highest seq seen in order
};

// Drops zero values, as TallyOracle::values does.
std::map<std::string, int64_t> nonzero(std::map<std::string, int64_t> tally) {
  std::erase_if(tally, [](const auto& entry) { return entry.second == 0; });
  return tally;
}

std::string tally_text(const std::map<std::string, int64_t>& tally) {
  std::ostringstream out;
  out << "{";
  const char* separator = "";
  for (const auto& [metric, value] : tally) {
    out << separator << metric << "=" << value;
    separator = ", ";
  }
  out << "}";
  return out.str();
}

// The differences between two tallies, metric by metric.
std::string tally_difference(const std::map<std::string, int64_t>& stored, const std::map<std::string, int64_t>& oracle) {
  std::map<std::string, std::pair<int64_t, int64_t>> both;
  for (const auto& [metric, value] : stored) both[metric].first = value;
  for (const auto& [metric, value] : oracle) both[metric].second = value;
  std::map<std::string, int64_t> only_stored, only_oracle;
  for (const auto& [metric, values] : both)
    if (values.first != values.second) {
      only_stored[metric] = values.first;
      only_oracle[metric] = values.second;
    }
  return "stored " + tally_text(only_stored) + ", recomputed " + tally_text(only_oracle);
}

// Scans one node's log: duplicates, order, (unit, requestId) pairs at the origin itself, and the
// oracle's recomputation of its tallies.
NodeView scan_node(const UnitMap& map, const NodeDir& node, HistoryReport& report) {
  auto opened = EventLog::open_reader(node.dir);
  if (!opened.ok()) throw std::runtime_error("history checker: opening " + node.dir + ": " + opened.error().message());
  auto& log = *opened;
  NodeView view;
  TallyOracle oracle(map, node.unit);
  std::set<UnitCode> units{node.unit};
  std::map<std::pair<std::string, std::string>, OriginSeq> requests;  // (unit, requestId) of own events
  const std::string where = node.unit.str() + " (" + node.dir + ")";
  for (uint64_t from = 1;;) {
    auto events = log->read(Lsn{from}, 10000);
    if (!events.ok()) throw std::runtime_error("history checker: reading " + node.dir + ": " + events.error().message());
    if (events->empty()) break;
    for (const auto& logged : *events) {
      ++report.events_checked;
      auto e = logged.event();
      const OriginSeq id{UnitCode::trusted(text_view(e.getOrigin())), e.getSeq()};
      auto [it, fresh] = view.events.emplace(id, Held{event_content_hash(e), submitted_content_hash(e)});
      if (!fresh) {
        report.duplicated.push_back(where + " holds " + id.to_string() + " twice (LSN " +
                                    std::to_string(logged.lsn.value) + ")");
        continue;
      }
      uint64_t& top = view.top_seq[id.origin];
      if (id.seq != top + 1)
        report.out_of_order.push_back(where + " holds " + id.to_string() + " at LSN " + std::to_string(logged.lsn.value) +
                                      " right after seq " + std::to_string(top) + " of " + id.origin.str());
      top = std::max(top, id.seq);
      if (id.origin == node.unit && e.hasRequestId() && e.getRequestId().size() > 0) {
        auto key = std::make_pair(std::string(text_view(e.getUnit())), std::string(text_view(e.getRequestId())));
        auto [first, inserted] = requests.emplace(key, id);
        if (!inserted)
          report.duplicated.push_back(where + " appended request '" + key.second + "' of unit " + key.first +
                                      " twice: " + first->second.to_string() + " and " + id.to_string());
      }
      oracle.add(e);
      const auto unit = UnitCode::parse(text_view(e.getUnit()));
      if (unit.ok() && map.in_subtree(*unit, node.unit)) {
        units.insert(*unit);
        for (const UnitCode& above : map.ancestors(*unit))
          if (map.in_subtree(above, node.unit)) units.insert(above);
      }
    }
    from = events->back().lsn.value + 1;
  }
  const DateRange all = DateRange::all_time();
  for (const UnitCode& unit : units) {
    auto stored = log->tally(unit, all);
    if (!stored.ok()) {
      report.tallies.push_back(where + ": tally of " + unit.str() + ": " + stored.error().message());
      continue;
    }
    const auto recomputed = oracle.values(unit, all.first, all.last);
    if (nonzero(*stored) != recomputed)
      report.tallies.push_back(where + ": tally of " + unit.str() + ": " + tally_difference(nonzero(*stored), recomputed));
    auto in_transit = log->in_transit(unit);
    if (!in_transit.ok() || *in_transit != oracle.in_transit(unit))
      report.tallies.push_back(where + ": members.inTransit of " + unit.str() + ": stored " +
                               (in_transit.ok() ? std::to_string(*in_transit) : in_transit.error().message()) +
                               ", recomputed " + std::to_string(oracle.in_transit(unit)));
  }
  return view;
}

void append_first(std::ostringstream& out, const char* kind, const std::vector<std::string>& items) {
  if (items.empty()) return;
  out << "\n" << items.size() << " " << kind << ":";
  for (size_t i = 0; i < items.size() && i < 20; ++i) out << "\n  " << items[i];
  if (items.size() > 20) out << "\n  ... and " << items.size() - 20 << " more";
}

}  // namespace

std::string HistoryReport::summary() const {
  std::ostringstream out;
  out << (clean() ? "clean" : "NOT clean") << ": " << acks_checked << " acknowledged lines, " << events_checked
      << " events read";
  append_first(out, "lost", lost);
  append_first(out, "duplicated", duplicated);
  append_first(out, "out of order", out_of_order);
  append_first(out, "with other content", content);
  append_first(out, "tallies differing", tallies);
  return out.str();
}

HistoryReport check_history(const UnitMap& map, const std::vector<Ack>& acks, const std::vector<NodeDir>& nodes,
                            bool converged) {
  HistoryReport report;
  std::map<UnitCode, NodeView> views;
  for (const NodeDir& node : nodes) views.emplace(node.unit, scan_node(map, node, report));

  // The acknowledged lines: each at its origin with the content submitted, and at every node above.
  EventJson json;
  std::map<std::pair<UnitCode, std::string>, OriginSeq> acked;  // (node, line) -> id
  for (const Ack& ack : acks) {
    if (!ack.id) continue;
    ++report.acks_checked;
    auto [first, inserted] = acked.emplace(std::make_pair(ack.node, ack.line), *ack.id);
    if (!inserted && first->second != *ack.id)
      report.duplicated.push_back("one line acknowledged as " + first->second.to_string() + " and " + ack.id->to_string() +
                                  ": " + ack.line);
    capnp::MallocMessageBuilder message;
    auto submitted = message.initRoot<schema::Event>();
    if (auto parsed = json.parse(ack.line, submitted); !parsed.ok())
      throw std::runtime_error("history checker: an acknowledged line does not parse: " + ack.line);
    const uint64_t submitted_hash = submitted_content_hash(submitted.asReader());
    for (const NodeDir& node : nodes) {
      if (node.unit != ack.node && !map.in_subtree(ack.node, node.unit)) continue;
      const auto& held = views.at(node.unit).events;
      auto it = held.find(*ack.id);
      if (it == held.end())
        report.lost.push_back(node.unit.str() + " lacks acknowledged " + ack.id->to_string());
      else if (it->second.submitted != submitted_hash)
        report.content.push_back(node.unit.str() + " holds acknowledged " + ack.id->to_string() +
                                 " with other content than the line submitted: " + ack.line);
    }
  }

  // Copies against their origin's: the same content; once converged, every ancestor has all.
  for (const NodeDir& node : nodes) {
    for (const auto& [id, held] : views.at(node.unit).events) {
      auto origin = views.find(id.origin);
      if (origin == views.end() || id.origin == node.unit) continue;
      auto original = origin->second.events.find(id);
      if (original == origin->second.events.end())
        report.lost.push_back(node.unit.str() + " holds " + id.to_string() + ", which its origin lacks");
      else if (original->second.content != held.content)
        report.content.push_back(node.unit.str() + " holds " + id.to_string() + " with other content than its origin");
    }
    if (!converged) continue;
    for (const NodeDir& origin : nodes) {
      if (origin.unit == node.unit || !map.in_subtree(origin.unit, node.unit)) continue;
      const auto& mine = views.at(node.unit).events;
      size_t missing = 0;
      std::string first;
      for (const auto& [id, held] : views.at(origin.unit).events)
        if (id.origin == origin.unit && !mine.contains(id) && missing++ == 0) first = id.to_string();
      if (missing > 0)
        report.lost.push_back(node.unit.str() + " lacks " + std::to_string(missing) + " events its origin " +
                              origin.unit.str() + " holds, the first " + first);
    }
  }
  return report;
}

}  // namespace rollcall::testing
