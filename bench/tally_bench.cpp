// Tallies at national scale: a node at VN holding events of all 10,035 communes of the 2024
// map. Measures
//   - tally queries at the national, province and commune level, against the naive way of
//     answering them (one pass over the whole log), and
//   - projection rebuild speed (replaying the log into every projection), against reading and
//     decoding the same log without projecting it.
// Prints JSON lines, each with its ratio against the reference measured in the same process.
// Usage: rollcall_tally_bench [--quick] [--units FILE] [--dir DIR]
#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include <capnp/message.h>

#include "report/json_out.h"
#include "engine/event_fields.h"
#include "engine/event_log.h"
#include "engine/metrics.h"
#include "schema/storage.capnp.h"

#ifndef ROLLCALL_SHARED_DIR
#define ROLLCALL_SHARED_DIR "../shared"
#endif

namespace {

using namespace rollcall;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

[[noreturn]] void die(const std::string& message) {
  std::cerr << "rollcall_tally_bench: " << message << "\n";
  std::exit(2);
}

// What one commune's node would append, before it is numbered.
struct Planned {
  enum Kind { kAdmit, kRate, kReport, kOut, kIn } kind;
  std::string member;
  std::string other;  // transfer: the other unit
  int month = 1;
  int day = 1;
};

// Plans `per_commune` events for every commune, in each commune's own order: admissions,
// ratings, activity reports and transfers to other communes (whose in-half goes to the
// receiving commune's queue).
std::vector<std::vector<Planned>> plan(const std::vector<UnitCode>& communes, size_t per_commune) {
  std::mt19937_64 rng(2024);
  std::vector<std::vector<Planned>> queues(communes.size());
  std::vector<std::vector<std::string>> members(communes.size());
  for (size_t round = 0; round < per_commune; ++round) {
    for (size_t c = 0; c < communes.size(); ++c) {
      const int month = static_cast<int>(1 + round * 12 / per_commune);
      const int day = static_cast<int>(1 + rng() % 28);
      const unsigned roll = static_cast<unsigned>(rng() % 10);
      auto& mine = members[c];
      if (roll < 4 || mine.empty()) {
        mine.push_back(communes[c].str() + "-" + std::to_string(100000 + round));
        queues[c].push_back({Planned::kAdmit, mine.back(), "", month, day});
      } else if (roll < 6) {
        queues[c].push_back({Planned::kRate, mine[rng() % mine.size()], "", month, day});
      } else if (roll < 9) {
        queues[c].push_back({Planned::kReport, "", "", month, day});
      } else {
        const size_t to = rng() % communes.size();
        if (to == c) continue;
        const size_t pick = rng() % mine.size();
        const std::string member = mine[pick];
        mine.erase(mine.begin() + static_cast<std::ptrdiff_t>(pick));
        queues[c].push_back({Planned::kOut, member, communes[to].str(), month, day});
        queues[to].push_back({Planned::kIn, member, communes[c].str(), month, std::min(day + 2, 28)});
        members[to].push_back(member);
      }
    }
  }
  return queues;
}

void fill(schema::Event::Builder e, const UnitCode& origin, uint64_t seq, const Planned& p) {
  e.setOrigin(origin.str());
  e.setSeq(seq);
  e.setRecordedAt(1735689600000000 + static_cast<int64_t>(seq) * 1000);
  e.setUnit(origin.str());
  char date[16];
  std::snprintf(date, sizeof date, "2024-%02d-%02d", p.month, p.day);
  e.setEffectiveDate(date);
  switch (p.kind) {
    case Planned::kAdmit: {
      auto a = e.initMemberAdmitted();
      a.setMemberId(p.member);
      a.setFullName("Nguyễn Thị Minh Khai");
      a.setBirthDate("2002-05-19");
      break;
    }
    case Planned::kRate: {
      auto r = e.initMemberRated();
      r.setMemberId(p.member);
      r.setYear(2024);
      r.setRating(seq % 3 == 0 ? schema::Rating::EXCELLENT : schema::Rating::GOOD);
      break;
    }
    case Planned::kReport: {
      auto r = e.initActivityReported();
      r.setKind(static_cast<schema::ActivityKind>(seq % 11));
      r.setCount(static_cast<uint32_t>(5 + seq % 200));
      r.setParticipants(static_cast<uint32_t>(2 + seq % 40));
      break;
    }
    case Planned::kOut: {
      auto o = e.initMemberTransferredOut();
      o.setMemberId(p.member);
      o.setToUnit(p.other);
      break;
    }
    case Planned::kIn: {
      auto i = e.initMemberTransferredIn();
      i.setMemberId(p.member);
      i.setFromUnit(p.other);
      break;
    }
  }
}

// Ingests every commune's queue, interleaving communes, in relayed batches of `batch` events.
size_t ingest_all(EventLog& log, const std::vector<UnitCode>& communes,
                  const std::vector<std::vector<Planned>>& queues, size_t batch) {
  std::vector<size_t> next(queues.size(), 0);
  size_t total = 0;
  size_t remaining = 0;
  for (const auto& q : queues) remaining += q.size();
  size_t cursor = 0;
  while (remaining > 0) {
    capnp::MallocMessageBuilder message;
    auto list = message.initRoot<storage::LogBatch>().initEvents(static_cast<unsigned>(std::min(batch, remaining)));
    for (unsigned i = 0; i < list.size();) {
      const size_t c = cursor++ % queues.size();
      if (next[c] == queues[c].size()) continue;
      // A few consecutive events of one commune, as a relay would forward them.
      for (int k = 0; k < 4 && next[c] < queues[c].size() && i < list.size(); ++k, ++i) {
        fill(list[i], communes[c], next[c] + 1, queues[c][next[c]]);
        ++next[c];
      }
    }
    std::vector<schema::Event::Reader> readers;
    for (auto e : list.asReader()) readers.push_back(e);
    auto report = log.ingest(readers);
    if (!report.ok()) die("ingest: " + report.error().message());
    total += report->applied;
    remaining -= list.size();
  }
  return total;
}

// The naive answer: one pass over the log, summing the metric for events under `unit` in range.
int64_t naive_sum(const EventLog& log, const UnitMap& map, const UnitCode& unit, const DateRange& range,
                  std::string_view metric) {
  int64_t sum = 0;
  std::vector<MetricDelta> deltas;
  for (Lsn from{1}; from.value <= log.last_lsn().value;) {
    auto events = log.read(from, 20000);
    if (!events.ok()) die(events.error().message());
    for (const auto& logged : *events) {
      auto e = logged.event();
      const auto date = Date::parse(text_view(e.getEffectiveDate()));
      if (!date.ok() || !range.contains(*date)) continue;
      if (!map.in_subtree(UnitCode::trusted(text_view(e.getUnit())), unit)) continue;
      deltas.clear();
      event_metric_deltas(e, deltas);
      for (const auto& d : deltas)
        if (d.metric == metric) sum += d.delta;
    }
    from = Lsn{events->back().lsn.value + 1};
  }
  return sum;
}

struct QueryCase {
  const char* unit;
  const char* period;  // "" = all time, "asOf:..." or a period
};

DateRange range_of(const std::string& period) {
  if (period.empty()) return DateRange::all_time();
  if (period.starts_with("asOf:")) return DateRange::as_of(Date::parse(period.substr(5)).value());
  return parse_period(period).value();
}

void bench_queries(const EventLog& log, const UnitMap& map, bool quick) {
  const QueryCase cases[] = {{"VN", ""}, {"VN", "2024-Q1"}, {"VN", "asOf:2024-06-30"}, {"79", "2024-03"},
                             {"01", "2024-H1"}, {"00001", "2024"}};
  const int repeats = quick ? 50 : 500;
  for (const auto& qc : cases) {
    const UnitCode unit = UnitCode::trusted(qc.unit);
    const DateRange range = range_of(qc.period);
    std::vector<double> micros;
    std::map<std::string, int64_t> sums;
    for (int i = 0; i < repeats; ++i) {
      const auto start = Clock::now();
      auto result = log.tally(unit, range);
      micros.push_back(seconds_since(start) * 1e6);
      if (!result.ok()) die(result.error().message());
      sums = std::move(result).value();
    }
    std::sort(micros.begin(), micros.end());
    const auto start = Clock::now();
    const int64_t naive = naive_sum(log, map, unit, range, "members.admitted");
    const double naive_us = seconds_since(start) * 1e6;
    const int64_t stored = sums.count("members.admitted") ? sums.at("members.admitted") : 0;
    size_t communes = 0;
    for (const auto& code : map.subtree(unit)) communes += map.children(code).empty() ? 1 : 0;
    cli::JsonObject line;
    line.add("bench", "tally_query").add("unit", qc.unit).add("period", qc.period[0] ? qc.period : "all")
        .add("communes_below", static_cast<uint64_t>(communes)).add("metrics", static_cast<uint64_t>(sums.size()))
        .add("median_us", micros[micros.size() / 2]).add("p99_us", micros[micros.size() * 99 / 100])
        .add("naive_scan_us", naive_us).add("agrees_with_scan", naive == stored)
        .add("ratio_vs_naive_scan", naive_us / micros[micros.size() / 2]);
    std::cout << line.str() << std::endl;
  }
}

void bench_rebuild(const std::string& dir, const UnitMap& map, const UnitCode& node, uint64_t events) {
  auto log = EventLog::open_writer(LogOptions{dir, node, 0, 0, /*for_rebuild=*/true}, map);
  if (!log.ok()) die(log.error().message());
  // Reference: read and decode the whole log, touching each event's unit, without projecting.
  auto start = Clock::now();
  size_t touched = 0;
  for (Lsn from{1}; from.value <= (*log)->last_lsn().value;) {
    auto batch = (*log)->read(from, 20000);
    if (!batch.ok()) die(batch.error().message());
    for (const auto& logged : *batch) touched += logged.event().getUnit().size();
    from = Lsn{batch->back().lsn.value + 1};
  }
  const double read_s = seconds_since(start);
  start = Clock::now();
  auto rebuilt = (*log)->rebuild_projections(nullptr);
  if (!rebuilt.ok()) die("rebuild: " + rebuilt.error().message());
  const double rebuild_s = seconds_since(start);
  start = Clock::now();
  auto verified = (*log)->verify_projections(fs::temp_directory_path().string(), nullptr);
  if (!verified.ok()) die("verify: " + verified.error().message());
  const double verify_s = seconds_since(start);
  cli::JsonObject line;
  line.add("bench", "projection_rebuild").add("events", static_cast<uint64_t>(*rebuilt))
      .add("rebuild_events_per_s", static_cast<double>(*rebuilt) / rebuild_s)
      .add("read_only_events_per_s", static_cast<double>(events) / read_s)
      .add("verify_events_per_s", static_cast<double>(verified->events) / verify_s)
      .add("verify_differences", verified->differences)
      .add("ratio_rebuild_vs_read", read_s / rebuild_s)
      .add("checksum", static_cast<uint64_t>(touched % 1000));
  std::cout << line.str() << std::endl;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::string units = std::string(ROLLCALL_SHARED_DIR) + "/data/vn-units-2024.csv";
  std::string dir = (fs::temp_directory_path() / ("rollcall-tally-bench-" + std::to_string(getpid()))).string();
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--quick") quick = true;
    else if (arg == "--units" && i + 1 < argc) units = argv[++i];
    else if (arg == "--dir" && i + 1 < argc) dir = argv[++i];
    else if (arg == "--help") {
      std::cout << "rollcall_tally_bench [--quick] [--units FILE] [--dir DIR]\n"
                   "National-scale tally queries and projection rebuild; JSON lines on stdout.\n";
      return 0;
    } else die("unknown argument " + arg + " (try --help)");
  }
  auto map = UnitMap::load_csv_file(units);
  if (!map.ok()) die(map.error().message());
  std::vector<UnitCode> communes;
  for (const UnitCode& code : map->subtree(map->root()))
    if (map->children(code).empty()) communes.push_back(code);
  const size_t per_commune = quick ? 6 : 40;
  fs::remove_all(dir);

  const UnitCode node = map->root();
  const auto queues = plan(communes, per_commune);
  uint64_t events = 0;
  {
    auto log = EventLog::open_writer(LogOptions{dir, node, 0, 0}, *map);
    if (!log.ok()) die(log.error().message());
    const auto start = Clock::now();
    events = ingest_all(**log, communes, queues, 5000);
    const double s = seconds_since(start);
    cli::JsonObject line;
    line.add("bench", "ingest_with_tallies").add("node", node.str()).add("communes", static_cast<uint64_t>(communes.size()))
        .add("events", events).add("events_per_s", static_cast<double>(events) / s).add("seconds", s);
    std::cout << line.str() << std::endl;
    bench_queries(**log, *map, quick);
  }
  bench_rebuild(dir, *map, node, events);
  fs::remove_all(dir);
  return 0;
}
