// Fuzz target: arbitrary text as a units CSV (UnitMap::parse_csv, what `--units` loads). A map
// that parses is queried (every unit's parent, children, ancestors, subtree, depth) and must be
// a tree; its to_csv text must parse back to a map that writes the same text.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "engine/unit_map.h"

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail) {
  fprintf(stderr, "unit_csv_parse: %s: %s\n", what, detail.c_str());
  abort();
}

void check_tree(const rollcall::UnitMap& map) {
  using rollcall::UnitCode;
  size_t reached = 0;
  for (const UnitCode& code : map.subtree(map.root())) {
    ++reached;
    const rollcall::Unit* unit = map.find(code);
    if (!unit) fail("subtree names a unit the map lacks", code.str());
    const auto up = map.ancestors(code);
    if (up.size() != map.depth(code)) fail("ancestors and depth disagree", code.str());
    if (code == map.root()) {
      if (!unit->parent.empty()) fail("the root has a parent", code.str());
    } else {
      if (up.empty() || up.front() != unit->parent || up.back() != map.root())
        fail("ancestors do not run from the parent to the root", code.str());
      if (!map.in_subtree(code, unit->parent) || map.in_subtree(unit->parent, code))
        fail("in_subtree disagrees with the parent", code.str());
    }
    for (const UnitCode& child : map.children(code)) {
      const rollcall::Unit* c = map.find(child);
      if (!c || c->parent != code) fail("a child whose parent is another unit", child.str());
    }
  }
  if (reached != map.size()) fail("units not reached from the root", std::to_string(map.size() - reached));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using rollcall::UnitMap;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto map = UnitMap::parse_csv(text);
  if (!map.ok()) return 0;
  check_tree(*map);
  (void)map->find(rollcall::UnitCode::trusted("no-such-unit"));

  const std::string written = map->to_csv();
  auto again = UnitMap::parse_csv(written);
  if (!again.ok()) fail("to_csv text does not parse", again.error().message() + "\n" + written);
  if (again->size() != map->size() || again->root() != map->root())
    fail("to_csv text parses to another map", written);
  for (const auto& code : map->subtree(map->root())) {
    const rollcall::Unit* a = map->find(code);
    const rollcall::Unit* b = again->find(code);
    if (!b || a->name != b->name || a->level != b->level || a->parent != b->parent)
      fail("to_csv text parses to another unit", code.str());
  }
  if (again->to_csv() != written) fail("to_csv is not stable", written);
  return 0;
}
