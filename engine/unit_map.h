// The unit map: every unit's code, name, level and parent, loaded from a units CSV
// (`code,name,level,parent_code`, the format of shared/data/vn-units-2024.csv).
//
// Levels are names from the file, never an enum. A file without a root (the real files stop at
// the provinces) hangs its parentless units under the national unit `VN` (level `central`),
// which is added when the file does not list it. The root rule, precisely:
//   - a listed `VN` (it must have an empty parent_code) is the root;
//   - else a file with exactly one parentless unit, of level `central`, has that unit as root;
//   - else `VN` is added (name "Trung ương Đoàn") and may be named as a parent_code.
// Every other parentless unit is then hung under the root.
//
// Format: one record per line (a quoted field cannot span lines), LF or CRLF, an optional UTF-8
// BOM, empty lines only at the end.
//
// The map changes (DESIGN.md "Projections"): a UnitMap is also the fold of a seed map and its
// map events (engine/map_change.h), ordered by (effectiveDate, origin, seq). A unit is never
// removed: a merged unit keeps its code, name and parent, and hands its history to its heir
// (the successor that keeps its code, else the first listed); a closed unit keeps its history
// where it is, and units may still be registered below a closed or merged one (by a child that
// has not seen that change yet: they roll up through the heirs). No change may make a roll-up
// chain loop, through parents or heirs. So two kinds of question:
//   - structure (find, children, in_subtree, ancestors, subtree): the units' current parent
//     links, merged and closed units included, as they are stored;
//   - roll-up (heir, rollup_chain): where an event of a unit counts now, through heirs.
// `ever_in_subtree` also follows every parent a unit has had, for events a child relays
// under an older map than this node's.
//
// Ownership: a plain value; const methods only read, so any thread may read a map that no one
// changes (nodes publish a new map rather than change one in place).
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/status.h"
#include "engine/types.h"

namespace rollcall {

enum class UnitState { kActive, kClosed, kMerged };

struct Unit {
  UnitCode code;
  std::string name;
  std::string level;
  UnitCode parent;  // empty for the root
  UnitState state = UnitState::kActive;
  // kMerged: the successors, in order (the first is the heir). A unit split while keeping its
  // code stays kActive with its successors listed.
  std::vector<UnitCode> successors;
  std::vector<UnitCode> former_parents;  // every earlier parent, oldest first
  std::string changed_on;                // effective date of the last map event applied to it
};

const char* unit_state_name(UnitState state);  // "active", "closed", "merged"

struct MapChange;

class UnitMap {
 public:
  static inline const char* kNationalCode = "VN";
  static inline const char* kNationalLevel = "central";
  static inline const char* kNationalName = "Trung ương Đoàn";

  // Parses CSV text. Errors name the line and what is wrong: a bad header, a wrong number of
  // columns, a bad or duplicate code, an empty name or level, a parent that is not in the file,
  // a cycle. Quoted fields ("a, b" and "" escapes) are accepted; UTF-8 is kept as is.
  static Result<UnitMap> parse_csv(std::string_view text);
  static Result<UnitMap> load_csv_file(const std::string& path);
  // The map as a units CSV that parse_csv reads back to an equal map: the root first, then
  // breadth first, children in code order. Two equal maps give the same text.
  std::string to_csv() const;

  // Queries on a code not in the map: find() gives nullptr, children(), ancestors() and
  // subtree() give empty, in_subtree() gives false, depth() gives 0.
  const Unit* find(const UnitCode& code) const;
  bool contains(const UnitCode& code) const { return find(code) != nullptr; }
  size_t size() const { return units_.size(); }
  // The single root (VN for the real files).
  const UnitCode& root() const { return root_; }

  // Direct children in code order.
  const std::vector<UnitCode>& children(const UnitCode& code) const;
  // True when `code` is `ancestor` or lies below it.
  bool in_subtree(const UnitCode& code, const UnitCode& ancestor) const;
  // Parent chain from the unit's parent up to the root (excludes the unit itself).
  std::vector<UnitCode> ancestors(const UnitCode& code) const;
  // Every unit of the subtree rooted at `code` (including it), parents before children.
  std::vector<UnitCode> subtree(const UnitCode& code) const;
  // Depth from the root (root = 0).
  size_t depth(const UnitCode& code) const;

  // --- roll-up under map changes ---

  // Where a unit's history counts now: the unit itself, or for a merged unit its heir's heir...
  // Unknown codes are their own heir.
  UnitCode heir(const UnitCode& code) const;
  // [heir(unit), its parent's heir, ..., node]: the units an event of `unit` counts at, at a
  // node of unit `node`; [unit] when that chain does not reach the node (outside its subtree).
  std::vector<UnitCode> rollup_chain(const UnitCode& unit, const UnitCode& node) const;
  // True when `code` is or was, by any parent it has had, `ancestor` or below it.
  bool ever_in_subtree(const UnitCode& code, const UnitCode& ancestor) const;

  // Applies one map change at the end of the fold. Ok, or why it does not apply (then the
  // map is unchanged): an unknown or merged unit, a parent that would make a cycle, ...
  Status apply(const MapChange& change);

 private:
  std::unordered_map<UnitCode, Unit> units_;
  std::unordered_map<UnitCode, std::vector<UnitCode>> children_;
  // True when the roll-up walk from `from` (through `heir_of` at every step) meets `target`.
  bool rolls_up_to(const UnitCode& from, const UnitCode& target,
                   const std::function<UnitCode(const UnitCode&)>& heir_of) const;

  UnitCode root_;
};

}  // namespace rollcall
