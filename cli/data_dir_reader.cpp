#include "cli/data_dir_reader.h"

namespace rollcall::cli {

Result<DataDirReader> DataDirReader::open(const std::string& dir, bool need_projections) {
  if (dir.empty()) return invalid_input("--data-dir is required");
  auto log = EventLog::open_reader(dir);
  if (!log.ok()) return log.error();
  if (need_projections) ROLLCALL_TRY((*log)->projections_current());
  auto map = (*log)->map();
  if (!map) return (*log)->seed_map().error();  // names why the dir holds no map
  return DataDirReader(std::move(log).value(), *map);
}

Result<UnitCode> DataDirReader::unit_in_scope(std::string_view text) const {
  auto code = UnitCode::parse(text);
  if (!code.ok()) return invalid_input("--unit: " + code.error().message());
  if (!map_.contains(*code))
    return invalid_input("unit " + code->str() +
                         " is not in this node's map (the --units file its data dir "
                         "was created with, and the map events it holds)");
  if (!map_.ever_in_subtree(*code, log_->unit()))
    return invalid_input(
        "unit " + code->str() + " (" + unit_name(code->str()) +
        ") is outside this node's subtree: the node holds only the tallies and members of its "
        "subtree, rooted at " +
        unit_label(log_->unit().str()));
  return code;
}

std::string DataDirReader::unit_name(std::string_view code) const {
  auto parsed = UnitCode::parse(code);
  if (!parsed.ok()) return "";
  const Unit* unit = map_.find(*parsed);
  return unit ? unit->name : "";
}

std::string DataDirReader::unit_label(std::string_view code) const {
  const std::string name = unit_name(code);
  return name.empty() ? std::string(code) : std::string(code) + " " + name;
}

}  // namespace rollcall::cli
