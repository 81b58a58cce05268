#include "cli/reorganization.h"

#include <algorithm>
#include <fstream>
#include <set>

#include "report/json_out.h"

namespace rollcall::cli {
namespace {

MapChange change_of(MapChange::Kind kind, const UnitCode& code, const std::string& date) {
  MapChange c;
  c.kind = kind;
  c.code = code;
  c.date = date;
  return c;
}

}  // namespace

Result<SuccessorMap> load_successor_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(ErrorKind::kNotFound, "successor file " + path + " cannot be opened");
  SuccessorMap out;
  std::string line;
  size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line_no == 1) {
      if (line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
      if (line != "old_ward_code,new_ward_code")
        return invalid_input(path + ": line 1: expected the header old_ward_code,new_ward_code");
      continue;
    }
    if (line.empty()) continue;
    const size_t comma = line.find(',');
    if (comma == std::string::npos || line.find(',', comma + 1) != std::string::npos)
      return invalid_input(path + ": line " + std::to_string(line_no) + ": expected two codes");
    auto old_code = UnitCode::parse(line.substr(0, comma));
    auto new_code = UnitCode::parse(line.substr(comma + 1));
    if (!old_code.ok() || !new_code.ok())
      return invalid_input(path + ": line " + std::to_string(line_no) + ": " +
                           (old_code.ok() ? new_code.error() : old_code.error()).message());
    auto& list = out[*old_code];
    if (std::find(list.begin(), list.end(), *new_code) == list.end()) list.push_back(*new_code);
  }
  return out;
}

Result<Reorganization> plan_reorganization(const UnitMap& current, const UnitCode& node, const UnitMap& target,
                                           const SuccessorMap& successors, const std::string& date) {
  if (!current.contains(node)) return invalid_input("unit " + node.str() + " is not in the node's map");
  if (!target.contains(node)) return invalid_input("the new units file lacks this node's unit " + node.str());
  Reorganization plan;
  std::vector<MapChange> merges, closes, upper_merges;

  // 1. The new file's units, parents first.
  const std::vector<UnitCode> wanted = target.subtree(node);
  const std::set<UnitCode> in_target(wanted.begin(), wanted.end());
  for (const UnitCode& code : wanted) {
    if (code == node) continue;
    const Unit& want = *target.find(code);
    const Unit* have = current.find(code);
    if (have == nullptr) {
      MapChange c = change_of(MapChange::Kind::kRegistered, code, date);
      c.name = want.name;
      c.level = want.level;
      c.parent = want.parent;
      plan.changes.push_back(std::move(c));
      continue;
    }
    if (have->state == UnitState::kMerged)
      return invalid_input("unit " + code.str() + " is in the new units file, but the node's map has it merged into " +
                           current.heir(code).str());
    if (have->name != want.name) {
      MapChange c = change_of(MapChange::Kind::kRenamed, code, date);
      c.name = want.name;
      plan.changes.push_back(std::move(c));
    }
    if (have->parent != want.parent) {
      MapChange c = change_of(MapChange::Kind::kMoved, code, date);
      c.parent = want.parent;
      plan.changes.push_back(std::move(c));
    }
    // A split that keeps the code: recorded, history stays.
    if (auto it = successors.find(code); it != successors.end() && it->second.size() > 1) {
      MapChange c = change_of(MapChange::Kind::kMerged, code, date);
      c.into.push_back(code);
      for (const UnitCode& into : it->second)
        if (into != code) c.into.push_back(into);
      if (have->successors != c.into) merges.push_back(std::move(c));  // else recorded by an earlier run
    }
  }

  // 2 and 3. The units the new file lacks.
  for (const UnitCode& code : current.subtree(node)) {
    if (code == node || in_target.contains(code)) continue;
    const Unit& have = *current.find(code);
    if (have.state != UnitState::kActive) continue;  // merged or closed by an earlier change
    if (auto it = successors.find(code); it != successors.end()) {
      MapChange c = change_of(MapChange::Kind::kMerged, code, date);
      for (const UnitCode& into : it->second) {
        if (!in_target.contains(into))
          return invalid_input("successor " + into.str() + " of unit " + code.str() + " is not in the new units file");
        c.into.push_back(into);
      }
      merges.push_back(std::move(c));
      continue;
    }
    // Where its units went: the new units at its depth above their successors.
    std::set<UnitCode> heirs;
    const size_t depth = current.depth(code);
    for (const UnitCode& below : current.subtree(code)) {
      auto it = successors.find(below);
      if (it == successors.end()) continue;
      for (const UnitCode& into : it->second) {
        UnitCode at = into;
        while (target.depth(at) > depth) at = target.find(at)->parent;
        if (target.depth(at) == depth) heirs.insert(at);
      }
    }
    if (heirs.size() == 1 && target.find(*heirs.begin())->level == have.level) {
      MapChange c = change_of(MapChange::Kind::kMerged, code, date);
      c.into.push_back(*heirs.begin());
      upper_merges.push_back(std::move(c));
    } else {
      closes.push_back(change_of(MapChange::Kind::kClosed, code, date));
    }
  }
  for (auto* part : {&merges, &closes, &upper_merges})
    plan.changes.insert(plan.changes.end(), std::make_move_iterator(part->begin()), std::make_move_iterator(part->end()));

  // The plan must apply, in order, to the node's map.
  UnitMap check = current;
  for (const MapChange& c : plan.changes) {
    if (auto applied = check.apply(c); !applied.ok())
      return Error(ErrorKind::kInvalidInput, "the plan does not apply to the node's map: " + applied.error().message());
    ++plan.counts[map_change_kind_name(c.kind)];
  }
  return plan;
}

std::string map_change_json_line(const MapChange& c, const UnitCode& node) {
  JsonObject payload;
  payload.add("code", c.code.str());
  switch (c.kind) {
    case MapChange::Kind::kRegistered:
      payload.add("name", c.name).add("level", c.level).add("parent", c.parent.str());
      break;
    case MapChange::Kind::kRenamed: payload.add("name", c.name); break;
    case MapChange::Kind::kMoved: payload.add("parent", c.parent.str()); break;
    case MapChange::Kind::kMerged: {
      std::string into;
      for (const UnitCode& u : c.into) into += (into.empty() ? "" : ",") + json_string(u.str());
      payload.raw("into", "[" + into + "]");
      break;
    }
    case MapChange::Kind::kClosed: break;
  }
  JsonObject event;
  event.add("unit", node.str())
      .add("effectiveDate", c.date)
      .add("requestId", "reorganize:" + c.date + ":" + map_change_kind_name(c.kind) + ":" + c.code.str())
      .raw(map_change_kind_name(c.kind), payload.str());
  return event.str();
}

}  // namespace rollcall::cli
