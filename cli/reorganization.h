// Planning a reorganization of the map (`rollcall reorganize`): from a node's current map to a
// new units file and an old-to-new successor file (shared/data/vn-units-2025*.csv), the batch of
// map events that makes the one into the other, below the node.
//
// The plan, in the order it is submitted (each change applies to the map the earlier ones made):
//   1. the new file's units, parents before children: a unit the map lacks is registered; a
//      unit it has is renamed when its name changed and moved when its parent changed;
//   2. every unit of the old map that the new file lacks and the successor file names is merged
//      into its successors in the file's order. History goes to the first listed successor
//      (DESIGN.md: the successor that keeps the code, else the first listed). A unit that keeps
//      its code but also gave parts to others (a split) gets a unitMerged listing itself first
//      and the others: a record of the split that leaves its history where it is. Members are
//      not divided: a split unit's members move to the other successors only by transfers;
//   3. every other unit the new file lacks: merged into the new unit, at its own depth and of its
//      own level, under which all its units' successors lie (a merged province), else closed
//      (a district of a level that no longer exists). A closed unit keeps its own history.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/map_change.h"
#include "engine/status.h"
#include "engine/unit_map.h"

namespace rollcall::cli {

// old code -> its successors, in the file's order.
using SuccessorMap = std::map<UnitCode, std::vector<UnitCode>>;

// Reads `old_ward_code,new_ward_code` (a header, then one pair a line; an old code on several
// lines is split among them). Errors name the line.
Result<SuccessorMap> load_successor_file(const std::string& path);

struct Reorganization {
  std::vector<MapChange> changes;
  std::map<std::string, size_t> counts;  // by kind name ("unitMoved": 3316, ...)
};

// The map events that turn `current` (the node's map) into `target` below `node`, dated `date`.
// Errors: a successor the new file lacks, a unit the new file lists that the map has merged, a
// plan that does not apply to the map (named with the change).
Result<Reorganization> plan_reorganization(const UnitMap& current, const UnitCode& node, const UnitMap& target,
                                           const SuccessorMap& successors, const std::string& date);

// One event JSON line for a change issued at `node`, with a requestId that names it, so that a
// resend is answered with the first append.
std::string map_change_json_line(const MapChange& change, const UnitCode& node);

}  // namespace rollcall::cli
