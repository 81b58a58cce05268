// The replication simulation's trees, workloads and invariant checks (replication_sim_checks.h).
#include "tests/support/replication_sim_checks.h"

#include <sstream>
#include <stdexcept>

#include "engine/content_hash.h"
#include "engine/event_fields.h"
#include "engine/period.h"
#include "tests/support/event_generator.h"
#include "tests/support/tally_oracle.h"
#include "tests/support/test_dirs.h"

namespace rollcall::testing {
namespace {

using Tally = std::map<std::string, int64_t>;

std::string tally_text(const Tally& tally) {
  std::ostringstream text;
  text << "{";
  for (const auto& [metric, value] : tally) text << " " << metric << "=" << value;
  text << " }";
  return text.str();
}

void add_into(Tally& sum, const Tally& more) {
  for (const auto& [metric, value] : more)
    if ((sum[metric] += value) == 0) sum.erase(metric);
}

// The all-time tally of `unit` at `node` (a problem and an empty tally when it fails).
Tally tally_at(ReplicationSim& sim, const UnitCode& node, const UnitCode& unit,
               std::vector<std::string>& problems) {
  auto tally = sim.log(node)->tally(unit, DateRange::all_time());
  if (!tally.ok()) {
    problems.push_back("node " + node.str() + ": tally of " + unit.str() + ": " +
                       tally.error().message());
    return {};
  }
  return *tally;
}

// Calls fn(event) for every event of the log, in LSN order.
template <typename Fn>
void scan_log(const EventLog& log, std::vector<std::string>& problems, Fn&& fn) {
  for (uint64_t from = 1;;) {
    auto events = log.read(Lsn{from}, 1000);
    if (!events.ok()) {
      problems.push_back("node " + log.unit().str() +
                         ": reading its log: " + events.error().message());
      return;
    }
    if (events->empty()) return;
    for (const LoggedEvent& logged : *events) fn(logged.event());
    from = events->back().lsn.value + 1;
  }
}

constexpr const char* kActivityKinds[] = {"digitalTeams", "forums", "trainingSessions",
                                          "leafletsDistributed", "onlineDossiers"};

}  // namespace

SimTree SimTree::pick(const UnitMap& map) {
  for (const UnitCode& province : map.children(map.root())) {
    for (const UnitCode& district : map.children(province)) {
      const auto& communes = map.children(district);
      bool leaves = communes.size() >= 2;
      for (const UnitCode& commune : communes) leaves = leaves && map.children(commune).empty();
      if (leaves) return SimTree{map.root(), province, district, communes[0], communes[1]};
    }
  }
  throw std::runtime_error("no province with a district of two leaf units in the map");
}

void SimTree::add_nodes(ReplicationSim& sim) const {
  sim.add_node(national);
  sim.add_node(province, {national});
  sim.add_node(district, {province});
  sim.add_node(commune_a, {district});
  sim.add_node(commune_b, {district, province});
}

size_t SimWorkload::total() const {
  size_t n = 0;
  for (const auto& [unit, list] : lines) n += list.size();
  return n;
}

SimWorkload make_workload(const UnitMap& map, const SimTree& tree, uint64_t seed,
                          std::mt19937_64& random, size_t members_per_unit,
                          size_t district_reports) {
  GeneratorOptions options;
  options.seed = seed;
  options.root = tree.district;
  options.max_leaf_units = 2;
  options.members_per_unit = members_per_unit;
  options.retraction_rate = 0.05;
  const GeneratedEvents generated = generate_events(map, options);
  const std::vector<size_t> order = random_submit_order(generated, random);
  SimWorkload workload;
  for (const UnitCode& commune : {tree.commune_a, tree.commune_b}) {
    std::vector<size_t> own;  // the global order restricted to the commune keeps its must_follow
    for (size_t i : order)
      if (text_view(generated.events[i].getUnit()) == commune.str()) own.push_back(i);
    workload.lines[commune] = node_submit_lines(generated, own, commune);
  }
  auto& district = workload.lines[tree.district];
  for (size_t i = 0; i < district_reports; ++i) {
    const unsigned month = static_cast<unsigned>(1 + random() % 12),
                   day = static_cast<unsigned>(1 + random() % 28);
    std::ostringstream line;
    line << R"({"unit":")" << tree.district.str() << R"(","effectiveDate":"2024-)"
         << (month < 10 ? "0" : "") << month << "-" << (day < 10 ? "0" : "") << day
         << R"(","activityReported":{"kind":")"
         << kActivityKinds[random() % std::size(kActivityKinds)] << R"(","count":)"
         << 1 + random() % 50 << R"(,"participants":)" << random() % 200 << "}}";
    district.push_back(line.str());
  }
  return workload;
}

std::map<uint64_t, uint64_t> origin_hashes(const EventLog& log, const UnitCode& origin,
                                           std::vector<std::string>& problems) {
  std::map<uint64_t, uint64_t> hashes;
  scan_log(log, problems, [&](schema::Event::Reader e) {
    if (text_view(e.getOrigin()) != origin.str()) return;
    if (!hashes.emplace(e.getSeq(), event_content_hash(e)).second)
      problems.push_back("node " + log.unit().str() + " holds " + event_id(e) + " more than once");
  });
  return hashes;
}

std::vector<std::string> check_exactly_once(ReplicationSim& sim) {
  std::vector<std::string> problems;
  const std::vector<UnitCode> units = sim.units();
  // Each origin's events as its own node holds them: seqs 1..count.
  std::map<UnitCode, std::map<uint64_t, uint64_t>> own;
  for (const UnitCode& origin : units) {
    const EventLog& log = *sim.log(origin);
    own[origin] = origin_hashes(log, origin, problems);
    const uint64_t count = log.next_own_seq() - 1;
    if (own[origin].size() != count || (count > 0 && own[origin].rbegin()->first != count))
      problems.push_back("node " + origin.str() + " holds " + std::to_string(own[origin].size()) +
                         " events of its own origin, but its next seq is " +
                         std::to_string(count + 1));
  }
  for (const UnitCode& holder : units) {
    const EventLog& log = *sim.log(holder);
    const std::string name = "node " + holder.str();
    std::map<UnitCode, uint64_t> marks;
    if (auto w = log.watermarks(); w.ok()) {
      for (const Watermark& mark : *w) marks[mark.origin] = mark.seq;
    } else {
      problems.push_back(name + ": watermarks: " + w.error().message());
    }
    std::map<UnitCode, std::map<uint64_t, size_t>> held;  // origin -> seq -> copies
    scan_log(log, problems, [&](schema::Event::Reader e) {
      const UnitCode origin = UnitCode::trusted(text_view(e.getOrigin()));
      ++held[origin][e.getSeq()];
      auto mine = own.find(origin);
      if (mine == own.end() || !sim.map().in_subtree(origin, holder)) {
        problems.push_back(name + " holds " + event_id(e) +
                           ", of an origin that is not a node of its subtree");
        return;
      }
      auto original = mine->second.find(e.getSeq());
      if (original == mine->second.end())
        problems.push_back(name + " holds " + event_id(e) +
                           ", which its origin's node does not hold");
      else if (original->second != event_content_hash(e))
        problems.push_back(name + " holds " + event_id(e) +
                           " with other content than its origin's node");
    });
    for (const UnitCode& origin : units) {
      if (!sim.map().in_subtree(origin, holder)) continue;
      const uint64_t count = own[origin].size();
      if (marks[origin] != count)
        problems.push_back(name + ": watermark of " + origin.str() + " is " +
                           std::to_string(marks[origin]) + ", its node holds " +
                           std::to_string(count));
      for (uint64_t seq = 1; seq <= count; ++seq) {
        const size_t copies = held[origin].count(seq) ? held[origin][seq] : 0;
        if (copies != 1)
          problems.push_back(name + " holds " + origin.str() + ":" + std::to_string(seq) + " " +
                             std::to_string(copies) + " times");
      }
      if (held[origin].size() > count)
        problems.push_back(name + " holds " + std::to_string(held[origin].size()) + " seqs of " +
                           origin.str() + ", its node " + std::to_string(count));
    }
  }
  return problems;
}

std::vector<std::string> check_convergence(ReplicationSim& sim, const SimTree& tree) {
  std::vector<std::string> problems;
  const std::vector<UnitCode> units = sim.units();
  for (const UnitCode& holder : units) {
    for (const UnitCode& unit : units) {
      if (unit == holder || !sim.map().in_subtree(unit, holder)) continue;
      const Tally there = tally_at(sim, holder, unit, problems);
      const Tally at_home = tally_at(sim, unit, unit, problems);
      if (there != at_home)
        problems.push_back("node " + holder.str() + "'s tally of " + unit.str() + " " +
                           tally_text(there) + " differs from node " + unit.str() + "'s own " +
                           tally_text(at_home));
    }
    for (const UnitCode& unit : {tree.district, tree.commune_a, tree.commune_b}) {
      if (!sim.map().in_subtree(unit, holder)) continue;
      auto in_transit = sim.log(holder)->in_transit(unit);
      if (!in_transit.ok() || *in_transit != 0)
        problems.push_back(
            "node " + holder.str() + ": members.inTransit of " + unit.str() + " is " +
            (in_transit.ok() ? std::to_string(*in_transit) : in_transit.error().message()));
    }
  }
  return problems;
}

std::vector<std::string> check_rollup(ReplicationSim& sim, const SimTree& tree) {
  std::vector<std::string> problems;
  const UnitCode& top = tree.national;
  // The district's own events (activity reports), tallied by the oracle.
  TallyOracle oracle(sim.map(), top);
  scan_log(*sim.log(top), problems, [&](schema::Event::Reader e) {
    if (text_view(e.getUnit()) == tree.district.str()) oracle.add(e);
  });
  const DateRange all = DateRange::all_time();
  for (const UnitCode& unit : {tree.district, tree.province, tree.national}) {
    Tally sum = unit == tree.district ? oracle.values(unit, all.first, all.last) : Tally{};
    for (const UnitCode& child : sim.map().children(unit))
      add_into(sum, tally_at(sim, top, child, problems));
    const Tally whole = tally_at(sim, top, unit, problems);
    if (whole != sum)
      problems.push_back("node " + top.str() + ": tally of " + unit.str() + " " +
                         tally_text(whole) + " is not its own events plus its children's " +
                         tally_text(sum));
  }
  return problems;
}

std::vector<std::string> check_projections(ReplicationSim& sim) {
  std::vector<std::string> problems;
  for (const UnitCode& unit : sim.units()) {
    SimDir scratch;
    auto report = sim.log(unit)->verify_projections(scratch.path(), nullptr);
    if (!report.ok()) {
      problems.push_back("node " + unit.str() + ": verify: " + report.error().message());
    } else if (report->differences != 0) {
      std::string first = report->first.empty()
                              ? ""
                              : report->first[0].what + ": stored " + report->first[0].stored +
                                    ", recomputed " + report->first[0].recomputed;
      problems.push_back("node " + unit.str() + ": verify found " +
                         std::to_string(report->differences) + " differences, e.g. " + first);
    }
  }
  return problems;
}

std::string join_problems(const std::vector<std::string>& problems) {
  std::string text;
  for (size_t i = 0; i < problems.size() && i < 20; ++i) text += problems[i] + "\n";
  if (problems.size() > 20) text += "... and " + std::to_string(problems.size() - 20) + " more\n";
  return text;
}

}  // namespace rollcall::testing
