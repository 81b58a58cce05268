#include "engine/unit_map.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unordered_set>
#include <utility>

#include "engine/map_change.h"

namespace rollcall {
namespace {

constexpr std::string_view kHeader = "code,name,level,parent_code";
constexpr std::string_view kBom = "\xEF\xBB\xBF";
constexpr size_t kColumns = 4;

struct Row {
  size_t line = 0;
  Unit unit;
};

Error line_error(size_t line, const std::string& problem) {
  return invalid_input("line " + std::to_string(line) + ": " + problem);
}

// Splits one record into fields (RFC 4180: "quoted, fields" with "" for a quote). A record is one
// line: a quote left open at the end of the line is an error, not a continuation.
Result<std::vector<std::string>> split_record(std::string_view line) {
  std::vector<std::string> fields;
  size_t i = 0;
  while (true) {
    std::string field;
    if (i < line.size() && line[i] == '"') {
      ++i;
      while (true) {
        if (i >= line.size()) return invalid_input("unterminated quote");
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            field += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        field += line[i++];
      }
      if (i < line.size() && line[i] != ',')
        return invalid_input("unexpected character after a closing quote");
    } else {
      const size_t end = std::min(line.find(',', i), line.size());
      field.assign(line.substr(i, end - i));
      if (field.find('"') != std::string::npos)
        return invalid_input("a quote inside an unquoted field (quote the whole field)");
      i = end;
    }
    fields.push_back(std::move(field));
    if (i >= line.size()) return fields;
    ++i;  // the comma
  }
}

bool is_blank(const std::string& text) {
  return text.find_first_not_of(" \t") == std::string::npos;
}

// Turns one data line into a Row, checking columns, codes, name and level.
Result<Row> parse_row(std::string_view line, size_t line_no) {
  auto fields = split_record(line);
  if (!fields.ok()) return line_error(line_no, fields.error().message());
  if (fields->size() != kColumns)
    return line_error(line_no, "expected " + std::to_string(kColumns) + " columns, found " +
                                   std::to_string(fields->size()));
  auto code = UnitCode::parse((*fields)[0]);
  if (!code.ok()) return line_error(line_no, "bad code: " + code.error().message());
  Row row{line_no, Unit{std::move(code).value(), std::move((*fields)[1]),
                        std::move((*fields)[2]), UnitCode(), UnitState::kActive, {}, {}, {}}};
  if (is_blank(row.unit.name)) return line_error(line_no, "empty name");
  if (is_blank(row.unit.level)) return line_error(line_no, "empty level");
  if (!(*fields)[3].empty()) {
    auto parent = UnitCode::parse((*fields)[3]);
    if (!parent.ok()) return line_error(line_no, "bad parent_code: " + parent.error().message());
    row.unit.parent = std::move(parent).value();
  }
  if (row.unit.parent == row.unit.code)
    return line_error(line_no, "unit " + row.unit.code.str() + " is its own parent");
  return row;
}

// Reads the header and every data line. Lines end in LF (a CR before it is dropped); a BOM is
// skipped; empty lines are allowed only at the end of the file.
Result<std::vector<Row>> read_rows(std::string_view text) {
  if (text.starts_with(kBom)) text.remove_prefix(kBom.size());
  std::vector<Row> rows;
  size_t line_no = 0;
  size_t blank_line = 0;  // the first empty line seen, 0 when none
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line_no == 1) {
      if (line != kHeader)
        return line_error(1, "bad header '" + std::string(line) + "', expected '" +
                                 std::string(kHeader) + "'");
      continue;
    }
    if (line.empty()) {
      if (blank_line == 0) blank_line = line_no;
      continue;
    }
    if (blank_line != 0) return line_error(blank_line, "empty line before the end of the file");
    auto row = parse_row(line, line_no);
    if (!row.ok()) return row.error();
    rows.push_back(std::move(row).value());
  }
  if (line_no == 0) return line_error(1, "missing header, expected '" + std::string(kHeader) + "'");
  if (rows.empty()) return line_error(line_no, "the file lists no units");
  return rows;
}

// The root rule. A listed parentless `VN` is the root; otherwise a single parentless unit of
// level `central` is; otherwise a `VN` unit is added. Every other parentless unit is hung under
// the root. Returns the row to add (line 0) when VN is added.
Result<std::optional<Row>> choose_root(std::vector<Row>& rows,
                                       const std::unordered_map<UnitCode, size_t>& index,
                                       UnitCode& root) {
  const UnitCode national = UnitCode::trusted(UnitMap::kNationalCode);
  std::vector<Row*> parentless;
  for (Row& row : rows) {
    if (row.unit.parent.empty()) parentless.push_back(&row);
  }
  std::optional<Row> added;
  if (auto it = index.find(national); it != index.end()) {
    const Row& vn = rows[it->second];
    if (!vn.unit.parent.empty())
      return line_error(vn.line, "the national unit VN must have an empty parent_code");
    root = national;
  } else if (parentless.size() == 1 && parentless[0]->unit.level == UnitMap::kNationalLevel) {
    root = parentless[0]->unit.code;
  } else {
    root = national;
    added = Row{0, Unit{national, UnitMap::kNationalName, UnitMap::kNationalLevel, UnitCode(), UnitState::kActive, {}, {}, {}}};
  }
  for (Row* row : parentless) {
    if (row->unit.code != root) row->unit.parent = root;
  }
  return added;
}

// Names a cycle of parents in a map where some units do not reach the root: walks up from the
// first such unit in file order until a unit repeats; that unit lies on the cycle.
Error cycle_error(const UnitMap& map, const std::vector<Row>& rows,
                  const std::unordered_map<UnitCode, size_t>& index) {
  std::unordered_set<UnitCode> reached;
  for (const UnitCode& code : map.subtree(map.root())) reached.insert(code);
  for (const Row& row : rows) {
    if (reached.contains(row.unit.code)) continue;
    std::unordered_set<UnitCode> seen;
    UnitCode at = row.unit.code;
    while (seen.insert(at).second) at = map.find(at)->parent;
    std::string chain = at.str();
    for (UnitCode next = map.find(at)->parent;; next = map.find(next)->parent) {
      chain += " -> " + next.str();
      if (next == at) break;
    }
    return line_error(rows[index.at(at)].line, "a cycle of parents: " + chain);
  }
  return Error(ErrorKind::kInternal, "unit map: all units reach the root, yet not all were found");
}

}  // namespace

Result<UnitMap> UnitMap::parse_csv(std::string_view text) {
  auto read = read_rows(text);
  if (!read.ok()) return read.error();
  std::vector<Row>& rows = read.value();

  std::unordered_map<UnitCode, size_t> index;  // code -> position in rows
  index.reserve(rows.size() + 1);
  for (size_t i = 0; i < rows.size(); ++i) {
    auto [it, inserted] = index.emplace(rows[i].unit.code, i);
    if (!inserted)
      return line_error(rows[i].line, "duplicate code " + rows[i].unit.code.str() +
                                          " (first on line " +
                                          std::to_string(rows[it->second].line) + ")");
  }
  UnitMap map;
  auto added = choose_root(rows, index, map.root_);
  if (!added.ok()) return added.error();
  for (const Row& row : rows) {
    const UnitCode& parent = row.unit.parent;
    if (!parent.empty() && !index.contains(parent) && !(added.value() && parent == map.root_))
      return line_error(row.line, "parent " + parent.str() + " of unit " + row.unit.code.str() +
                                      " is not in the file");
  }
  if (added.value()) rows.push_back(std::move(*added.value()));

  map.units_.reserve(rows.size());
  for (const Row& row : rows) {
    if (!row.unit.parent.empty()) map.children_[row.unit.parent].push_back(row.unit.code);
    map.units_.emplace(row.unit.code, row.unit);
  }
  for (auto& [code, kids] : map.children_) std::sort(kids.begin(), kids.end());

  // Every unit reaches the root unless some parent chain loops.
  if (map.subtree(map.root_).size() == map.units_.size()) return map;
  return cycle_error(map, rows, index);
}

Result<UnitMap> UnitMap::load_csv_file(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    const int err = errno;
    if (err == ENOENT) return Error(ErrorKind::kNotFound, "units file " + path + " does not exist");
    return Error(ErrorKind::kIo, "cannot open units file " + path + ": " + std::strerror(err));
  }
  std::string text;
  char buf[1 << 16];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, file)) > 0) text.append(buf, n);
  const bool failed = std::ferror(file) != 0;
  const int err = errno;
  std::fclose(file);
  if (failed)
    return Error(ErrorKind::kIo, "cannot read units file " + path + ": " + std::strerror(err));
  auto map = parse_csv(text);
  if (!map.ok()) return invalid_input(path + ": " + map.error().message());
  return map;
}

std::string UnitMap::to_csv() const {
  const auto field = [](std::string& out, const std::string& text) {
    if (text.find_first_of(",\"") == std::string::npos) {
      out += text;
      return;
    }
    out += '"';
    for (char c : text) {
      if (c == '"') out += '"';
      out += c;
    }
    out += '"';
  };
  std::string out = "code,name,level,parent_code\n";
  for (const UnitCode& code : subtree(root_)) {
    const Unit& unit = *find(code);
    out += unit.code.str();
    out += ',';
    field(out, unit.name);
    out += ',';
    field(out, unit.level);
    out += ',';
    out += unit.parent.str();
    out += '\n';
  }
  return out;
}

const Unit* UnitMap::find(const UnitCode& code) const {
  auto it = units_.find(code);
  return it == units_.end() ? nullptr : &it->second;
}

const std::vector<UnitCode>& UnitMap::children(const UnitCode& code) const {
  static const std::vector<UnitCode> kNone;
  auto it = children_.find(code);
  return it == children_.end() ? kNone : it->second;
}

bool UnitMap::in_subtree(const UnitCode& code, const UnitCode& ancestor) const {
  for (const Unit* unit = find(code); unit != nullptr; unit = find(unit->parent)) {
    if (unit->code == ancestor) return true;
  }
  return false;
}

std::vector<UnitCode> UnitMap::ancestors(const UnitCode& code) const {
  std::vector<UnitCode> chain;
  const Unit* unit = find(code);
  if (unit == nullptr) return chain;
  for (unit = find(unit->parent); unit != nullptr; unit = find(unit->parent))
    chain.push_back(unit->code);
  return chain;
}

std::vector<UnitCode> UnitMap::subtree(const UnitCode& code) const {
  std::vector<UnitCode> out;
  if (!contains(code)) return out;
  out.push_back(code);
  // Breadth first: `out` is its own queue.
  for (size_t i = 0; i < out.size(); ++i) {
    const std::vector<UnitCode>& kids = children(out[i]);
    out.insert(out.end(), kids.begin(), kids.end());
  }
  return out;
}

size_t UnitMap::depth(const UnitCode& code) const {
  size_t d = 0;
  const Unit* unit = find(code);
  if (unit == nullptr) return 0;
  for (unit = find(unit->parent); unit != nullptr; unit = find(unit->parent)) ++d;
  return d;
}

}  // namespace rollcall

namespace rollcall {

const char* unit_state_name(UnitState state) {
  switch (state) {
    case UnitState::kActive: return "active";
    case UnitState::kClosed: return "closed";
    case UnitState::kMerged: return "merged";
  }
  return "unknown";
}

UnitCode UnitMap::heir(const UnitCode& code) const {
  UnitCode at = code;
  // Merges only ever name units that were not merged, so the walk ends; the bound is a guard.
  for (size_t steps = 0; steps <= units_.size(); ++steps) {
    const Unit* unit = find(at);
    if (unit == nullptr || unit->state != UnitState::kMerged || unit->successors.empty()) return at;
    at = unit->successors.front();
  }
  return at;
}

std::vector<UnitCode> UnitMap::rollup_chain(const UnitCode& unit, const UnitCode& node) const {
  std::vector<UnitCode> chain{heir(unit)};
  bool reached = chain.back() == node;
  while (!reached) {
    const Unit* at = find(chain.back());
    if (at == nullptr || at->parent.empty()) break;
    UnitCode up = heir(at->parent);
    if (std::find(chain.begin(), chain.end(), up) != chain.end()) break;  // guard: apply() keeps no cycles
    chain.push_back(std::move(up));
    reached = chain.back() == node;
  }
  if (!reached) return {unit};
  return chain;
}

bool UnitMap::ever_in_subtree(const UnitCode& code, const UnitCode& ancestor) const {
  std::vector<UnitCode> todo{code};
  std::unordered_set<std::string> seen{code.str()};
  while (!todo.empty()) {
    const UnitCode at = std::move(todo.back());
    todo.pop_back();
    if (at == ancestor) return true;
    const Unit* unit = find(at);
    if (unit == nullptr) continue;
    const auto visit = [&](const UnitCode& up) {
      if (!up.empty() && seen.insert(up.str()).second) todo.push_back(up);
    };
    visit(unit->parent);
    for (const UnitCode& up : unit->former_parents) visit(up);
  }
  return false;
}

bool UnitMap::rolls_up_to(const UnitCode& from, const UnitCode& target,
                          const std::function<UnitCode(const UnitCode&)>& heir_of) const {
  UnitCode at = heir_of(from);
  for (size_t steps = 0; steps <= units_.size(); ++steps) {
    if (at == target) return true;
    const Unit* unit = find(at);
    if (unit == nullptr || unit->parent.empty()) return false;
    at = heir_of(unit->parent);
  }
  return true;  // a loop already: treat as reaching it
}

Status UnitMap::apply(const MapChange& c) {
  const auto refuse = [&](const std::string& why) { return invalid_input(describe(c) + ": " + why); };
  const Unit* unit = find(c.code);
  const auto usable = [&](const UnitCode& code, const char* role) -> std::optional<std::string> {
    const Unit* u = find(code);
    if (u == nullptr) return std::string(role) + " " + code.str() + " is not in the map";
    if (u->state != UnitState::kActive)
      return std::string(role) + " " + code.str() + " is " + unit_state_name(u->state);
    return std::nullopt;
  };
  if (c.kind == MapChange::Kind::kRegistered) {
    if (unit != nullptr) return refuse("unit " + c.code.str() + " is already in the map");
    if (c.name.empty() || c.level.empty()) return refuse("a new unit needs a name and a level");
    // Under a closed or merged parent too: a child node that has not seen its parent's change
    // still registers under itself, and the new unit rolls up through the heirs.
    if (!contains(c.parent)) return refuse("parent " + c.parent.str() + " is not in the map");
    Unit added;
    added.code = c.code;
    added.name = c.name;
    added.level = c.level;
    added.parent = c.parent;
    added.changed_on = c.date;
    auto& kids = children_[c.parent];
    kids.insert(std::upper_bound(kids.begin(), kids.end(), c.code), c.code);
    units_.emplace(c.code, std::move(added));
    return ok_status();
  }
  if (unit == nullptr) return refuse("unit " + c.code.str() + " is not in the map");
  if (unit->state == UnitState::kMerged) return refuse("unit " + c.code.str() + " was merged");
  Unit& target = units_.at(c.code);
  switch (c.kind) {
    case MapChange::Kind::kRenamed:
      if (c.name.empty()) return refuse("a unit needs a name");
      target.name = c.name;
      break;
    case MapChange::Kind::kMoved: {
      if (c.code == root_) return refuse("the root cannot move");
      if (auto why = usable(c.parent, "parent")) return refuse(*why);
      if (in_subtree(c.parent, c.code)) return refuse("parent " + c.parent.str() + " lies below the unit");
      if (rolls_up_to(c.parent, c.code, [&](const UnitCode& u) { return heir(u); }))
        return refuse("parent " + c.parent.str() + " rolls up into the unit (through merged units)");
      if (c.parent == target.parent) return refuse("the unit is already under " + c.parent.str());
      auto& old_kids = children_[target.parent];
      old_kids.erase(std::remove(old_kids.begin(), old_kids.end(), c.code), old_kids.end());
      auto& kids = children_[c.parent];
      kids.insert(std::upper_bound(kids.begin(), kids.end(), c.code), c.code);
      target.former_parents.push_back(target.parent);
      target.parent = c.parent;
      break;
    }
    case MapChange::Kind::kMerged: {
      if (c.code == root_) return refuse("the root cannot be merged");
      if (c.into.empty()) return refuse("a merge needs at least one successor");
      bool keeps_code = false;
      for (const UnitCode& into : c.into) {
        if (into == c.code) {
          keeps_code = true;
          continue;
        }
        if (auto why = usable(into, "successor")) return refuse(*why);
        if (in_subtree(into, c.code)) return refuse("successor " + into.str() + " lies below the unit");
      }
      if (!keeps_code) {
        // After the merge, what resolved to the unit resolves to its heir's heir: that chain must
        // not come back to itself (a successor below a unit merged into this one, say).
        const UnitCode next = heir(c.into.front());
        const auto heir_after = [&](const UnitCode& u) {
          UnitCode h = heir(u);
          return h == c.code ? next : h;
        };
        const Unit* top = find(next);
        if (top != nullptr && !top->parent.empty() && rolls_up_to(top->parent, next, heir_after))
          return refuse("successor " + c.into.front().str() + " would roll up into itself (through merged units)");
      }
      target.successors = c.into;
      if (!keeps_code) target.state = UnitState::kMerged;
      break;
    }
    case MapChange::Kind::kClosed:
      if (c.code == root_) return refuse("the root cannot be closed");
      if (target.state == UnitState::kClosed) return refuse("the unit is closed already");
      target.state = UnitState::kClosed;
      break;
    case MapChange::Kind::kRegistered: break;
  }
  target.changed_on = c.date;
  return ok_status();
}

}  // namespace rollcall
