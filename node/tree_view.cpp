// TreeView: builds the `/api/tree` JSON (see tree_view.h). Runs on an HTTP thread.
#include "node/tree_view.h"

#include <chrono>
#include <cstdio>
#include <unordered_map>

#include "engine/period.h"

namespace rollcall {
namespace {

// JSON string literal of UTF-8 text: quotes, backslashes and control characters escaped,
// everything else (Vietnamese names) kept as is.
std::string quoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string iso_or_null(int64_t micros) {
  return micros > 0 ? quoted(Timestamp{micros}.to_string()) : "null";
}

struct OriginView {
  uint64_t seq = 0;
  uint64_t head_seq = 0;
  int64_t newest_recorded_at = 0;
};

// "live" (connected, caught up), "minutes" (< 1 h behind), "hours" (< 24 h), "days", "never".
const char* freshness(bool connected, uint64_t lag, int64_t data_as_of, int64_t now) {
  if (data_as_of <= 0) return "never";
  if (connected && lag == 0) return "live";
  const int64_t age_s = (now - data_as_of) / 1'000'000;
  if (age_s < 3600) return "minutes";
  if (age_s < 86400) return "hours";
  return "days";
}

// The calendar year of `now` (UTC) as a DateRange.
DateRange year_of(Timestamp now) {
  const auto days = static_cast<int32_t>(now.micros / 86'400'000'000LL);
  const int year = Date::from_days(days).year();
  return DateRange{*Date::from_ymd(year, 1, 1), *Date::from_ymd(year, 12, 31)};
}

}  // namespace

std::map<UnitCode, TreeView::Headline> TreeView::headlines(const UnitMap& map, const UnitCode& root, Timestamp now) {
  std::lock_guard lock(mutex_);
  const auto steady_now = std::chrono::steady_clock::now();
  if (cache_valid_ && steady_now - cached_at_ < kTallyCacheFor) return cached_;
  const DateRange year = year_of(now);
  std::map<UnitCode, Headline> fresh;
  for (const auto& code : map.subtree(root)) {
    Headline h;
    // A unit whose tally cannot be read shows 0: the page is a view, the error is in the log.
    if (auto all = log_.tally(code, DateRange::all_time()); all.ok()) {
      if (auto it = all->find("members.active"); it != all->end()) h.members_active = it->second;
    }
    if (auto in_year = log_.tally(code, year); in_year.ok()) {
      if (auto it = in_year->find("members.admitted"); it != in_year->end()) h.admitted_this_year = it->second;
    }
    fresh.emplace(code, h);
  }
  cached_ = std::move(fresh);
  cached_at_ = steady_now;
  cache_valid_ = true;
  return cached_;
}

std::string TreeView::tree_json(wire::NodeStatus::Reader status, Timestamp now) {
  const auto map = log_.map();
  const UnitCode root = UnitCode::trusted(status.getUnit().cStr());
  std::unordered_map<std::string, OriginView> origins;
  for (auto o : status.getOrigins())
    origins[o.getOrigin().cStr()] = OriginView{o.getSeq(), o.getHeadSeq(), o.getNewestRecordedAt()};
  std::unordered_map<std::string, bool> child_connected;
  for (auto c : status.getChildren()) child_connected[c.getUnit().cStr()] = true;

  const Unit* root_unit = map ? map->find(root) : nullptr;
  std::string out = "{\"unit\":" + quoted(root.str()) + ",\"name\":" + quoted(root_unit ? root_unit->name : "") +
                    ",\"now\":" + quoted(now.to_string()) + ",\"units\":[";
  std::map<std::string, int> summary{{"live", 0}, {"minutes", 0}, {"hours", 0}, {"days", 0}, {"never", 0}};
  if (map && root_unit) {
    const auto tallies = headlines(*map, root, now);
    // The direct child of the root each unit hangs under, filled parents-first.
    std::unordered_map<std::string, std::string> via_child;
    bool first = true;
    for (const auto& code : map->subtree(root)) {
      const Unit* unit = map->find(code);
      const bool is_root = code == root;
      // Before the skip below: a unit registered under a merged or closed one still has a link.
      if (!is_root) via_child[code.str()] = unit->parent == root ? code.str() : via_child[unit->parent.str()];
      if (unit->state != UnitState::kActive) continue;  // merged and closed units are history
      const bool connected = is_root || child_connected.count(via_child[code.str()]) > 0;
      const OriginView origin = origins.count(code.str()) ? origins[code.str()] : OriginView{};
      const uint64_t lag = origin.head_seq > origin.seq ? origin.head_seq - origin.seq : 0;
      const bool caught_up = connected && lag == 0;
      const int64_t data_as_of = caught_up ? now.micros : origin.newest_recorded_at;
      // A unit without events whose link is up is live: there is nothing to miss.
      const char* fresh = freshness(connected, lag, data_as_of, now.micros);
      summary[fresh]++;
      const auto tally = tallies.count(code) ? tallies.at(code) : Headline{};
      out += first ? "" : ",";
      first = false;
      out += "{\"code\":" + quoted(code.str()) + ",\"name\":" + quoted(unit->name) +
             ",\"level\":" + quoted(unit->level) + ",\"parent\":" + (is_root ? "null" : quoted(unit->parent.str())) +
             ",\"connected\":" + (connected ? "true" : "false") + ",\"lagEvents\":" + std::to_string(lag) +
             ",\"lastEventAt\":" + iso_or_null(origin.newest_recorded_at) +
             ",\"dataAsOf\":" + iso_or_null(data_as_of) + ",\"ageSeconds\":" +
             (data_as_of > 0 ? std::to_string((now.micros - data_as_of) / 1'000'000) : "null") +
             ",\"freshness\":" + quoted(fresh) + ",\"membersActive\":" + std::to_string(tally.members_active) +
             ",\"admittedThisYear\":" + std::to_string(tally.admitted_this_year) + "}";
    }
  }
  out += "],\"summary\":{";
  bool first = true;
  for (const auto& [name, count] : summary) {
    out += (first ? "" : ",") + quoted(name) + ":" + std::to_string(count);
    first = false;
  }
  return out + "}}";
}

}  // namespace rollcall
