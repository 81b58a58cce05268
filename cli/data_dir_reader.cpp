#include "cli/data_dir_reader.h"

#include "report/tally_report.h"

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
  return cli::unit_in_scope(map_, log_->unit(), text, "--unit");
}

std::string DataDirReader::unit_name(std::string_view code) const { return cli::unit_name(map_, code); }

std::string DataDirReader::unit_label(std::string_view code) const { return cli::unit_label(map_, code); }

}  // namespace rollcall::cli
