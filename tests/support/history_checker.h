// A history checker for fault tests, in the manner of Jepsen's: from what the clients were told
// (their acknowledgement logs) and what every node's data dir holds after the run, it lists
// every acknowledged event lost, every event held twice or appended twice for one request,
// every origin's events out of order or with a gap, every event whose content differs from
// what was submitted or from its origin's copy, and every tally that differs from a
// recomputation of the node's own events.
//
// The rules (DESIGN.md C1-C6), for each node N of the tree and each origin O in N's subtree:
//   - lost:         an acknowledged O:seq that N lacks; or, once converged, any O:seq that O
//                   holds and N lacks (unacknowledged lines may be appended, but then everywhere);
//   - duplicated:   an O:seq held twice in N's log; two of O's events for one (unit, requestId);
//                   one line acknowledged with two ids;
//   - out of order: O's events in N's log (in LSN order) not exactly 1, 2, 3, ...;
//   - content:      an acknowledged event whose stored content is not the line's, or N's copy of
//                   O:seq differing from O's own;
//   - tallies:      N's all-time tally (and members.inTransit) of its unit, of every origin's
//                   unit and of every unit between them differing from TallyOracle over the
//                   events N holds.
// It opens every data dir as a reader: run it on the stopped tree (or a quiet one).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/types.h"
#include "engine/unit_map.h"

namespace rollcall::testing {

// What a client saw of one submitted line.
struct Ack {
  UnitCode node;                // the node it was submitted to: the events' origin
  std::string line;             // the JSON line as submitted (a requestId in it makes resends safe)
  std::optional<OriginSeq> id;  // the id the node answered; nullopt when no answer came
};

// One node of the tree and its data dir.
struct NodeDir {
  UnitCode unit;
  std::string dir;
};

struct HistoryReport {
  std::vector<std::string> lost, duplicated, out_of_order, content, tallies;
  size_t events_checked = 0;  // events read over every node's log
  size_t acks_checked = 0;    // acknowledged lines

  bool clean() const {
    return lost.empty() && duplicated.empty() && out_of_order.empty() && content.empty() && tallies.empty();
  }
  // "clean: ..." or the counts and the first few of each kind, one per line.
  std::string summary() const;
};

// `converged`: the tree has healed and every node should hold everything its subtree's origins
// hold (otherwise only acknowledged events are required above their origin).
HistoryReport check_history(const UnitMap& map, const std::vector<Ack>& acks, const std::vector<NodeDir>& nodes,
                            bool converged = true);

}  // namespace rollcall::testing
