// The trees, workloads and invariant checks of the replication simulation tests
// (tests/engine/replication_sim_test.cpp over tests/support/replication_sim.h).
//
// Every check returns the problems it found, one sentence each naming the node, unit, origin and
// seq concerned; none means the invariant holds. They read the nodes' logs only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "engine/event_log.h"
#include "engine/types.h"
#include "engine/unit_map.h"
#include "tests/support/replication_sim.h"

namespace rollcall::testing {

// Five nodes on four levels of the real map: two communes (wards) of one district, the
// district, its province and VN. Commune b's parents are [district, province], so it fails over
// to the province and switches back.
struct SimTree {
  UnitCode national, province, district, commune_a, commune_b;

  // The first province (in code order) with a district whose children are leaves, at least two.
  static SimTree pick(const UnitMap& map);
  // Adds the five nodes to the simulator with their parents.
  void add_nodes(ReplicationSim& sim) const;
  std::vector<UnitCode> nodes() const {
    return {national, province, district, commune_a, commune_b};
  }
};

// Per node, the lines its clients submit, in an order its rules accept.
struct SimWorkload {
  std::map<UnitCode, std::vector<std::string>> lines;
  size_t total() const;
};

// Generated member histories and activity reports of the two communes (tests/support/
// event_generator.h, `members_per_unit` members each, each commune submitting its own events in
// a random order that respects must_follow) and `district_reports` activity reports of the
// district's own unit.
SimWorkload make_workload(const UnitMap& map, const SimTree& tree, uint64_t seed,
                          std::mt19937_64& random, size_t members_per_unit,
                          size_t district_reports);

// Per seq, the content hash of `origin`'s events in the log (each seq once: a second copy is a
// problem appended to `problems`).
std::map<uint64_t, uint64_t> origin_hashes(const EventLog& log, const UnitCode& origin,
                                           std::vector<std::string>& problems);

// C1: every node holds every event of every origin node in its subtree exactly once, with the
// content the origin gave it, its watermark at the origin's own count, and nothing else.
std::vector<std::string> check_exactly_once(ReplicationSim& sim);

// C4: at every node, the all-time tally of each simulated unit below it equals the tally the
// unit's own node computes for it; members.inTransit of the district (and the communes) is 0
// at every node holding them.
std::vector<std::string> check_convergence(ReplicationSim& sim, const SimTree& tree);

// C3 at the top node: tally(U) = U's own events + the sum of tally over U's children, for the
// district, the province and VN.
std::vector<std::string> check_rollup(ReplicationSim& sim, const SimTree& tree);

// C6: verify_projections finds no difference at any node.
std::vector<std::string> check_projections(ReplicationSim& sim);

// The problems as one message (at most the first 20).
std::string join_problems(const std::vector<std::string>& problems);

}  // namespace rollcall::testing
