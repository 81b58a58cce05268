// rollcall log tail | show: read a node's log from its data dir, safely while it runs.
#include <atomic>
#include <csignal>
#include <iostream>
#include <memory>
#include <thread>
#include <tuple>

#include "cli/commands.h"
#include "cli/event_text.h"
#include "report/json_out.h"
#include "engine/event_fields.h"
#include "engine/event_json.h"
#include "engine/event_log.h"

namespace rollcall::cli {
namespace {

std::atomic<bool> g_stop{false};

struct TailOptions {
  std::string data_dir;
  size_t n = 20;
  bool follow = false;
  std::string unit, origin, type, member, from, to;
  bool subtree = false;
  bool json = false;
};

struct ShowOptions {
  std::string data_dir;
  std::string id;
  bool json = false;
};

class EventPrinter {
 public:
  explicit EventPrinter(bool json) : json_(json) {}

  void header() const {
    if (!json_) std::printf("%-8s %-14s %-20s %-7s %-10s %-28s %s\n", "LSN", "ID", "RECORDED", "UNIT", "DATE", "KIND", "DETAIL");
  }
  void print(const LoggedEvent& logged) const {
    auto e = logged.event();
    if (json_) {
      // The event's JSON with the local LSN first.
      std::string body = json_codec_.format(e);
      std::cout << "{\"lsn\":" << logged.lsn.value << (body.size() > 2 ? "," : "") << body.substr(1) << "\n";
      return;
    }
    const std::string id = event_id(e);
    std::string recorded = Timestamp{e.getRecordedAt()}.to_string().substr(0, 19);
    recorded[10] = ' ';
    std::printf("%-8llu %-14s %-20s %-7s %-10s %-28s %s\n", static_cast<unsigned long long>(logged.lsn.value),
                id.c_str(), recorded.c_str(), e.getUnit().cStr(), e.getEffectiveDate().cStr(),
                std::string(event_kind_name(e)).c_str(), payload_summary(e).c_str());
  }

 private:
  bool json_;
  EventJson json_codec_;
};

Result<std::unique_ptr<EventLog>> open_log(const std::string& dir) {
  if (dir.empty()) return invalid_input("--data-dir is required");
  return EventLog::open_reader(dir);
}

// `map`: the data dir's, for --subtree and to name a unit it does not know.
Result<LogFilter> make_filter(const TailOptions& o, const UnitMap& map) {
  LogFilter filter;
  if (o.subtree && o.unit.empty()) return invalid_input("--subtree needs --unit");
  if (!o.unit.empty()) {
    auto unit = UnitCode::parse(o.unit);
    if (!unit.ok()) return invalid_input("--unit: " + unit.error().message());
    if (!map.contains(*unit)) return invalid_input("--unit: unknown unit '" + o.unit + "' in this data dir's map");
    if (o.subtree) {
      filter.units.emplace();
      for (const UnitCode& u : map.subtree(*unit)) filter.units->insert(u.str());
    } else {
      filter.unit = *unit;
    }
  }
  if (!o.member.empty()) filter.member = o.member;
  for (const auto& [text, name, out] : {std::tuple{&o.from, "--from", &filter.from_date},
                                        std::tuple{&o.to, "--to", &filter.to_date}}) {
    if (text->empty()) continue;
    auto day = Date::parse(*text);
    if (!day.ok()) return invalid_input(std::string(name) + ": " + day.error().message());
    *out = day->to_string();
  }
  if (filter.from_date && filter.to_date && *filter.from_date > *filter.to_date)
    return invalid_input("--from " + *filter.from_date + " is after --to " + *filter.to_date);
  if (!o.origin.empty()) {
    auto origin = UnitCode::parse(o.origin);
    if (!origin.ok()) return invalid_input("--origin: " + origin.error().message());
    if (!map.contains(*origin))
      return invalid_input("--origin: unknown unit '" + o.origin + "' in this data dir's map");
    filter.origin = *origin;
  }
  if (!o.type.empty()) {
    if (!is_event_kind_name(o.type))
      return invalid_input("--type: '" + o.type + "' is not an event kind (e.g. memberAdmitted, activityReported)");
    filter.kind = o.type;
  }
  return filter;
}

int run_tail(const TailOptions& o) {
  auto log = open_log(o.data_dir);
  if (!log.ok()) return report("log tail", log.error().message());
  const auto map = (*log)->map();  // the current map: units registered by map events too
  if (!map) return report("log tail", (*log)->seed_map().error().message());
  auto filter = make_filter(o, *map);
  if (!filter.ok()) return report("log tail", filter.error().message());
  EventPrinter printer(o.json);
  printer.header();
  auto events = (*log)->tail(o.n, *filter);
  if (!events.ok()) return report("log tail", events.error().message());
  for (const auto& e : *events) printer.print(e);
  std::cout.flush();
  if (!o.follow) return kExitOk;

  std::signal(SIGINT, [](int) { g_stop = true; });
  std::signal(SIGTERM, [](int) { g_stop = true; });
  Lsn seen = (*log)->last_lsn();
  while (!g_stop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (auto s = (*log)->refresh(); !s.ok()) {
      // The node may be compacting or restarting: say so, and keep following.
      std::cerr << "rollcall log tail: " << s.error().message() << " (retrying)\n";
      std::this_thread::sleep_for(std::chrono::seconds(1));
      continue;
    }
    while ((*log)->last_lsn() > seen && !g_stop) {
      auto fresh = (*log)->read(seen.next(), 10000);
      if (!fresh.ok()) return report("log tail", fresh.error().message());
      if (fresh->empty()) break;
      for (const auto& e : *fresh)
        if (filter->matches(e.event())) printer.print(e);
      std::cout.flush();
      seen = fresh->back().lsn;
    }
  }
  return kExitOk;
}

int run_show(const ShowOptions& o) {
  auto id = OriginSeq::parse(o.id);
  if (!id.ok()) return report("log show", id.error().message());
  auto log = open_log(o.data_dir);
  if (!log.ok()) return report("log show", log.error().message());
  auto found = (*log)->find(*id);
  if (!found.ok()) return report("log show", found.error().message());
  if (!found->has_value()) return report("log show", "no event " + id->to_string() + " in this log", kExitProblem);
  const LoggedEvent& logged = **found;
  auto e = logged.event();
  if (o.json) {
    EventPrinter(true).print(logged);
    return kExitOk;
  }
  std::cout << "id:            " << id->to_string() << "\n"
            << "lsn:           " << logged.lsn.value << "\n"
            << "kind:          " << event_kind_name(e) << "\n"
            << "unit:          " << e.getUnit().cStr() << "\n"
            << "effectiveDate: " << e.getEffectiveDate().cStr() << "\n"
            << "recordedAt:    " << Timestamp{e.getRecordedAt()}.to_string() << "\n";
  if (e.hasRequestId()) std::cout << "requestId:     " << e.getRequestId().cStr() << "\n";
  std::cout << "payload:       " << payload_summary(e) << "\n";
  return kExitOk;
}

}  // namespace

void add_log_command(CLI::App& app, int& exit_code) {
  auto* log = app.add_subcommand("log", "Read a node's event log from its data dir (safe while the node runs).");
  log->require_subcommand(1);

  auto tail = std::make_shared<TailOptions>();
  auto* tail_cmd = log->add_subcommand("tail", "Show the newest events, oldest first; --follow keeps printing new ones.");
  tail_cmd->add_option("--data-dir", tail->data_dir, "the node's data dir")->required();
  tail_cmd->add_option("-n", tail->n, "how many events (default 20)");
  tail_cmd->add_flag("--follow,-f", tail->follow, "keep printing events as the node appends them (Ctrl-C stops)");
  tail_cmd->add_option("--unit", tail->unit, "only events of this unit (with --subtree: and of the units below it)");
  tail_cmd->add_flag("--subtree", tail->subtree, "with --unit: the units below it too, by the data dir's map");
  tail_cmd->add_option("--member", tail->member, "only events about this memberId (admission, transfers, ratings...)");
  tail_cmd->add_option("--from", tail->from, "only events effective on or after this day (YYYY-MM-DD)");
  tail_cmd->add_option("--to", tail->to, "only events effective on or before this day (YYYY-MM-DD)");
  tail_cmd->add_option("--origin", tail->origin, "only events first appended by this unit's node");
  tail_cmd->add_option("--type", tail->type, "only events of this kind, e.g. memberAdmitted");
  tail_cmd->add_flag("--json", tail->json, "one JSON object per event (the event JSON with its lsn)");
  tail_cmd->callback([tail, &exit_code] { exit_code = run_tail(*tail); });

  auto show = std::make_shared<ShowOptions>();
  auto* show_cmd = log->add_subcommand("show", "Show one event by its ORIGIN:SEQ. Exit 1 if this log does not hold it.");
  show_cmd->add_option("id", show->id, "ORIGIN:SEQ, e.g. 001:17")->required();
  show_cmd->add_option("--data-dir", show->data_dir, "the node's data dir")->required();
  show_cmd->add_flag("--json", show->json, "the event as one JSON object");
  show_cmd->callback([show, &exit_code] { exit_code = run_show(*show); });
}

}  // namespace rollcall::cli
