// rollcall units: the units map as a tree, with how many units of each level lie below each
// unit and, from a data dir, its members.active as the node holds it and how current its own
// node's events are ("data as of"). The map is the data dir's (what it was seeded with) or a
// units CSV.
#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <optional>

#include "cli/commands.h"
#include "cli/data_dir_reader.h"
#include "report/json_out.h"
#include "report/status_view.h"
#include "report/text_table.h"
#include "engine/map_change.h"
#include "engine/period.h"

namespace rollcall::cli {
namespace {

constexpr std::string_view kCommand = "units";

struct UnitsOptions {
  std::string data_dir;
  std::string units_file;
  std::string unit;
  int depth = 2;
  bool all = false;  // merged and closed units too
  bool changes = false;  // list the map events instead
  bool json = false;
};

// "ward 14", "district 30, ward 579": the units below, by level, in the order levels first
// appear going down.
struct Below {
  std::vector<std::pair<std::string, uint64_t>> by_level;
  std::string text() const {
    std::string out;
    for (const auto& [level, n] : by_level) out += (out.empty() ? "" : ", ") + level + " " + std::to_string(n);
    return out;
  }
};

bool shown(const UnitMap& map, const UnitCode& code, bool all) {
  return all || map.find(code)->state == UnitState::kActive;
}

// The units below `unit` now (or ever, with `all`): merged and closed units are history.
Below count_below(const UnitMap& map, const UnitCode& unit, bool all) {
  Below below;
  for (const UnitCode& code : map.subtree(unit)) {
    if (code == unit || !shown(map, code, all)) continue;
    const std::string& level = map.find(code)->level;
    auto it = std::find_if(below.by_level.begin(), below.by_level.end(), [&](const auto& p) { return p.first == level; });
    if (it == below.by_level.end())
      below.by_level.emplace_back(level, 1);
    else
      ++it->second;
  }
  return below;
}

// What the node holds of a unit: members.active over all time (a unit of its subtree only),
// and the newest recordedAt of the unit's own node's events (when it has a node below).
struct Held {
  std::optional<int64_t> active;
  std::optional<Timestamp> data_as_of;
};

class UnitsView {
 public:
  UnitsView(const UnitMap& map, const EventLog* log, bool all) : map_(map), log_(log), all_(all) {
    if (!log_) return;
    if (auto marks = log_->watermarks(); marks.ok())
      for (const Watermark& w : *marks) newest_[w.origin.str()] = w.newest_recorded_at;
  }

  Held held(const UnitCode& unit) const {
    Held h;
    if (!log_) return h;
    if (map_.in_subtree(unit, log_->unit()) && map_.find(unit)->state != UnitState::kMerged) {
      auto sums = log_->tally(unit, DateRange::all_time());
      if (sums.ok()) h.active = sums->count("members.active") ? sums->at("members.active") : 0;
    }
    if (auto it = newest_.find(unit.str()); it != newest_.end()) h.data_as_of = it->second;
    return h;
  }

  // Units to show: `root` and its descendants at most `depth` levels below, parents first.
  std::vector<std::pair<UnitCode, size_t>> rows(const UnitCode& root, int depth) const {
    std::vector<std::pair<UnitCode, size_t>> out;
    walk(root, 0, depth, out);
    return out;
  }

 private:
  void walk(const UnitCode& unit, size_t level, int depth, std::vector<std::pair<UnitCode, size_t>>& out) const {
    out.emplace_back(unit, level);
    if (depth >= 0 && static_cast<int>(level) >= depth) return;
    for (const UnitCode& child : map_.children(unit))
      if (shown(map_, child, all_)) walk(child, level + 1, depth, out);
  }

  const UnitMap& map_;
  const EventLog* log_;
  bool all_ = false;
  std::map<std::string, Timestamp> newest_;
};

int run_units(const UnitsOptions& o) {
  if (o.data_dir.empty() == o.units_file.empty())
    return report(kCommand, "give --data-dir DIR (the map a node's data dir keeps) or --units FILE.csv");
  std::optional<DataDirReader> reader;
  std::optional<UnitMap> file_map;
  if (!o.data_dir.empty()) {
    auto opened = DataDirReader::open(o.data_dir, /*need_projections=*/true);
    if (!opened.ok()) return report(kCommand, opened.error().message());
    reader.emplace(std::move(opened).value());
  } else {
    auto loaded = UnitMap::load_csv_file(o.units_file);
    if (!loaded.ok()) return report(kCommand, loaded.error().message());
    file_map.emplace(std::move(loaded).value());
  }
  if (o.changes) {
    if (!reader) return report(kCommand, "--changes needs --data-dir (a units file holds no map events)");
    auto changes = reader->log().map_changes();
    if (!changes.ok()) return report(kCommand, changes.error().message());
    size_t skipped = 0;
    for (const auto& [change, why] : *changes) {
      skipped += why.empty() ? 0 : 1;
      if (o.json) {
        std::cout << JsonObject()
                         .add("id", change.id)
                         .add("effectiveDate", change.date)
                         .add("kind", map_change_kind_name(change.kind))
                         .add("code", change.code.str())
                         .add("change", describe(change))
                         .raw("skipped", why.empty() ? "null" : json_string(why))
                         .str()
                  << "\n";
      } else {
        std::cout << describe(change) << (why.empty() ? "" : "  [skipped: " + why + "]") << "\n";
      }
    }
    if (!o.json)
      std::cout << changes->size() << " map events in the order the map folds them (effective date, origin, seq)"
                << (skipped ? ", " + std::to_string(skipped) + " of them skipped where they fall" : "") << "\n";
    return kExitOk;
  }
  const UnitMap& map = reader ? reader->map() : *file_map;
  UnitCode root = reader ? reader->log().unit() : map.root();
  if (!o.unit.empty()) {
    auto parsed = UnitCode::parse(o.unit);
    if (!parsed.ok()) return report(kCommand, "--unit: " + parsed.error().message());
    if (!map.contains(*parsed)) return report(kCommand, "--unit: unknown unit '" + o.unit + "' in the map");
    root = *parsed;
  }
  const UnitsView view(map, reader ? &reader->log() : nullptr, o.all);
  const auto rows = view.rows(root, o.depth);
  const Timestamp now = Timestamp::of(std::chrono::system_clock::now());

  if (o.json) {
    for (const auto& [code, level] : rows) {
      const Unit* u = map.find(code);
      const Held h = view.held(code);
      std::string below = "{";
      for (const auto& [name, n] : count_below(map, code, o.all).by_level)
        below += (below.size() > 1 ? "," : "") + json_string(name) + ":" + std::to_string(n);
      below += "}";
      std::cout << JsonObject()
                       .add("code", code.str())
                       .add("name", u->name)
                       .add("level", u->level)
                       .raw("parent", u->parent.empty() ? "null" : json_string(u->parent.str()))
                       .add("depth", static_cast<uint64_t>(level))
                       .add("state", unit_state_name(u->state))
                       .raw("successors", [&] {
                         std::string list;
                         for (const UnitCode& s : u->successors) list += (list.empty() ? "" : ",") + json_string(s.str());
                         return "[" + list + "]";
                       }())
                       .raw("below", below)
                       .raw("membersActive", h.active ? std::to_string(*h.active) : "null")
                       .raw("dataAsOf", h.data_as_of ? json_string(h.data_as_of->to_string()) : "null")
                       .str()
                << "\n";
    }
    return kExitOk;
  }

  std::vector<std::string> header = {"CODE", "NAME", "LEVEL", "BELOW"};
  if (reader) header.insert(header.end(), {"MEMBERS ACTIVE", "DATA AS OF (UTC)", "AGE"});
  TextTable table(header);
  if (reader) table.align_right(4);
  size_t hidden = 0;
  for (const auto& [code, level] : rows) {
    const Unit* u = map.find(code);
    const bool leaf_shown = o.depth >= 0 && static_cast<int>(level) == o.depth && !map.children(code).empty();
    if (leaf_shown) ++hidden;
    std::string name = u->name;
    if (u->state == UnitState::kMerged) name += " (merged into " + map.heir(code).str() + " on " + u->changed_on + ")";
    if (u->state == UnitState::kClosed) name += " (closed on " + u->changed_on + ")";
    std::vector<std::string> row = {std::string(2 * level, ' ') + code.str(), name, u->level,
                                    count_below(map, code, o.all).text()};
    if (reader) {
      const Held h = view.held(code);
      row.push_back(h.active ? std::to_string(*h.active) : "-");
      row.push_back(h.data_as_of ? when(*h.data_as_of) : "");
      row.push_back(h.data_as_of ? age(*h.data_as_of, now) : "");
    }
    table.add(std::move(row));
  }
  table.print(std::cout);
  const Unit* top = map.find(root);
  size_t total = 0;
  for (const UnitCode& code : map.subtree(root)) total += shown(map, code, o.all) ? 1 : 0;
  std::cout << rows.size() << (rows.size() == 1 ? " unit" : " units") << " shown of the " << total << " in the subtree of "
            << root.str() << " " << top->name;
  if (hidden > 0) std::cout << " (" << hidden << " of them have units below the depth shown: --depth N, -1 for all)";
  std::cout << "\n";
  if (reader)
    std::cout << "members active: all time, as this node holds them (\"-\": outside its subtree); data as of: "
                 "the newest event from that unit's own node\n";
  return kExitOk;
}

}  // namespace

void add_units_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<UnitsOptions>();
  auto* cmd = app.add_subcommand(
      "units",
      "Show the units map as a tree: code, name, level and how many units of each level lie below. From "
      "a data dir (the map it keeps; read safely while the node runs) also each unit's members.active as "
      "the node holds it and how current that unit's own node's events are.");
  cmd->add_option("--data-dir", o->data_dir, "a node's data dir: its map, from its own unit down")->type_name("DIR");
  cmd->add_option("--units", o->units_file, "a units CSV (code,name,level,parent_code) instead, from its root")
      ->type_name("FILE");
  cmd->add_option("--unit", o->unit, "start at this unit instead")->type_name("CODE");
  cmd->add_option("--depth", o->depth, "levels below the start to show (default 2; -1: all)");
  cmd->add_flag("--changes", o->changes,
                "list the map events the node holds instead, in the order its map folds them, each one "
                "that does not apply where it falls marked skipped (with --data-dir)");
  cmd->add_flag("--all", o->all,
                "also the units that map events merged or closed (kept with their history; hidden by default)");
  cmd->add_flag("--json", o->json,
                "one JSON object per unit: code, name, level, parent, depth, below ({level: count}), "
                "membersActive (null outside the node's subtree or without a data dir), dataAsOf, state "
                "(active, merged, closed), successors");
  cmd->footer("Exit codes: 0 shown; 2 could not run (neither or both of --data-dir and --units, a missing data dir "
              "or file, an unknown unit).");
  cmd->callback([o, &exit_code] { exit_code = run_units(*o); });
}

}  // namespace rollcall::cli
