// Catch-up after a link cut, end to end through a 4-level tree of real rollcalld processes:
// ward 00001 -> district 001 -> city 01 -> VN, the ward's link to the district through a
// LinkProxy. With the link cut, the ward takes a backlog of events (admissions, ratings and
// activity reports); then the link heals and the backlog drains to the top.
//
// Measures, each a JSON line:
//   - backlog: the ward's own ingest rate for the backlog (the reference: one node, no sync);
//   - resume: from heal() to the ward's first connection and its first bytes at the proxy, and
//     to the district's first new event (DESIGN: within a second of the link returning);
//   - drain: time until the district, the city and VN hold the whole backlog, events/s end to
//     end, and its ratio against the reference;
//   - a second cut in the middle of the drain, and the resume after it;
//   - memory: every node's peak RSS (bounded by configuration, not by the backlog).
// Usage: rollcall_sync_bench [--quick] [--events N]   (default 1,000,000; --quick 20,000)
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "report/json_out.h"
#include "cli/node_client.h"
#include "engine/types.h"
#include "cli/link_proxy.h"
#include "tests/support/node_harness.h"
#include "tests/support/test_dirs.h"
#include "tests/support/tree_checks.h"

namespace {

using namespace rollcall;
using namespace rollcall::testing;
using rollcall::cli::LinkProxy;
using rollcall::bench::Clock;
using rollcall::bench::peak_rss_mib;
using rollcall::bench::seconds_between;
using namespace std::chrono_literals;

const UnitCode kWard = UnitCode::trusted("00001");

[[noreturn]] void die(const std::string& message) {
  std::cerr << "rollcall_sync_bench: " << message << "\n";
  std::exit(2);
}

// The i-th backlog line: a member admitted, rated later, or an activity report.
std::string backlog_line(size_t i) {
  const size_t member = i / 3;
  const std::string id = "00001-b" + std::to_string(member);
  const std::string day = std::to_string(10 + i % 18);
  switch (i % 3) {
    case 0:
      return R"({"unit":"00001","effectiveDate":"2024-03-)" + day + R"(","memberAdmitted":{"memberId":")" + id +
             R"(","fullName":"Nguyễn Văn An","birthDate":"2002-04-01"}})";
    case 1:
      return R"({"unit":"00001","effectiveDate":"2024-11-)" + day + R"(","memberRated":{"memberId":")" + id +
             R"(","year":2024,"rating":"good"}})";
    default:
      return R"({"unit":"00001","effectiveDate":"2024-06-)" + day +
             R"(","activityReported":{"kind":"eidLevel1","count":)" + std::to_string(1 + i % 50) +
             R"(,"participants":2}})";
  }
}

// Submits backlog lines [first, first + events) in messages of 2,000 lines; returns events/s.
double submit_backlog(const std::string& address, size_t first, size_t events) {
  auto client = NodeClient::connect(address, 5s);
  if (!client.ok()) die("cannot reach the ward: " + client.error().message());
  const auto start = Clock::now();
  size_t accepted = 0;
  for (size_t next = first; next < first + events; next += 2000) {
    std::vector<std::string> lines;
    for (size_t i = next; i < std::min(first + events, next + 2000); ++i) lines.push_back(backlog_line(i));
    for (const auto& outcome : submit_lines(**client, lines)) {
      if (!outcome.accepted) die("the ward rejected a backlog line: " + outcome.message);
      ++accepted;
    }
  }
  if (accepted != events) die("the ward accepted " + std::to_string(accepted) + " of " + std::to_string(events));
  return static_cast<double>(events) / seconds_between(start, Clock::now());
}

// Waits until `dir` holds the ward's events up to `seq`; the time it did, or dies.
Clock::time_point wait_for(const std::string& dir, uint64_t seq, std::chrono::seconds timeout, const std::string& what) {
  if (!wait_for_watermarks(dir, {{kWard, seq}}, timeout)) die(what + " did not get " + std::to_string(seq) + " events in time");
  return Clock::now();
}

// Polls until the district holds more than `seq` of the ward; the time it first did.
Clock::time_point first_new_event(const std::string& dir, uint64_t seq) {
  return wait_for(dir, seq + 1, 60s, "the district");
}

}  // namespace

int main(int argc, char** argv) {
  size_t events = 1000000;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      events = 20000;
    } else if (std::strcmp(argv[i], "--events") == 0 && i + 1 < argc) {
      events = std::stoul(argv[++i]);
    } else {
      std::cerr << "usage: rollcall_sync_bench [--quick] [--events N]\n"
                   "  a backlog of N events (default 1,000,000; --quick 20,000) at ward 00001 while its\n"
                   "  link is cut, drained through 4 levels once it heals; JSON lines on stdout\n";
      return 2;
    }
  }
  TempDir dir;
  NodeProcess top("VN", dir / "vn", units_2024(), {"--log-level", "warn"});
  if (!top.start()) die("VN did not start");
  NodeProcess city("01", dir / "city", units_2024(), {"--parent", top.address(), "--log-level", "warn"});
  if (!city.start()) die("01 did not start");
  NodeProcess district("001", dir / "district", units_2024(), {"--parent", city.address(), "--log-level", "warn"});
  if (!district.start()) die("001 did not start");
  LinkProxy link(district.address());
  NodeProcess ward(kWard.str(), dir / "ward", units_2024(), {"--parent", link.address(), "--log-level", "warn"});
  if (!ward.start()) die("00001 did not start");

  // 1. The backlog piles up behind a cut link.
  link.cut();
  const double backlog_rate = submit_backlog(ward.address(), 0, events);
  std::cout << cli::JsonObject()
                   .add("bench", "sync")
                   .add("phase", "backlog")
                   .add("events", static_cast<uint64_t>(events))
                   .add("events_per_s", backlog_rate)
                   .add("note", "the ward's own ingest with the link cut: the reference")
                   .str()
            << std::endl;

  // 2. The link returns: time to resume and to drain through every level.
  std::this_thread::sleep_for(1500ms);  // the ward is in its longest backoff
  link.heal();
  const auto healed = *link.last_heal();
  const auto district_first = first_new_event(district.data_dir(), 0);
  const auto connected = link.first_connection_since_heal();
  const auto first_bytes = link.first_byte_since_heal();
  const auto district_done = wait_for(district.data_dir(), events, 600s, "the district");
  const auto city_done = wait_for(city.data_dir(), events, 600s, "the city");
  const auto top_done = wait_for(top.data_dir(), events, 600s, "VN");
  const double drain_s = seconds_between(healed, top_done);
  const double drain_rate = static_cast<double>(events) / drain_s;
  std::cout << cli::JsonObject()
                   .add("bench", "sync")
                   .add("phase", "resume")
                   .add("connect_after_heal_s", connected ? seconds_between(healed, *connected) : -1.0)
                   .add("first_bytes_after_heal_s", first_bytes ? seconds_between(healed, *first_bytes) : -1.0)
                   .add("first_event_at_district_s", seconds_between(healed, district_first))
                   .add("within_1s", connected && seconds_between(healed, *connected) < 1.0)
                   .str()
            << std::endl;
  std::cout << cli::JsonObject()
                   .add("bench", "sync")
                   .add("phase", "drain")
                   .add("events", static_cast<uint64_t>(events))
                   .add("levels", static_cast<uint64_t>(4))
                   .add("district_s", seconds_between(healed, district_done))
                   .add("city_s", seconds_between(healed, city_done))
                   .add("top_s", drain_s)
                   .add("events_per_s", drain_rate)
                   .add("ratio_vs_backlog_ingest", drain_rate / backlog_rate)
                   .str()
            << std::endl;

  // 3. A second backlog, cut in the middle of its drain (slowed down by the proxy so that there
  // is a middle), then healed.
  link.cut();
  submit_backlog(ward.address(), events, events / 2);
  link.set_delay(10ms);
  link.heal();
  const uint64_t total = events + events / 2;
  wait_for(district.data_dir(), events + events / 8, 600s, "the district");
  link.cut();
  const uint64_t held_at_cut = watermark_of(district.data_dir(), kWard);
  if (held_at_cut >= total) die("the second backlog drained before the cut; raise --events");
  link.set_delay(0ms);
  std::this_thread::sleep_for(700ms);
  // Read before the heal: once healed, the rest can drain before a read after it would start.
  const uint64_t held_before_heal = watermark_of(district.data_dir(), kWard);
  if (held_before_heal >= total) die("the second backlog drained while the link was cut; raise --events");
  link.heal();
  const auto healed_again = *link.last_heal();
  const auto resumed = first_new_event(district.data_dir(), held_before_heal);
  const auto all_done = wait_for(top.data_dir(), total, 600s, "VN");
  std::cout << cli::JsonObject()
                   .add("bench", "sync")
                   .add("phase", "cut_mid_drain")
                   .add("held_at_cut", held_at_cut)
                   .add("first_event_after_heal_s", seconds_between(healed_again, resumed))
                   .add("drained_after_heal_s", seconds_between(healed_again, all_done))
                   .str()
            << std::endl;

  // 4. Memory: bounded by configuration, whatever the backlog.
  std::cout << cli::JsonObject()
                   .add("bench", "sync")
                   .add("phase", "memory")
                   .add("ward_peak_rss_mib", peak_rss_mib(ward.pid()))
                   .add("district_peak_rss_mib", peak_rss_mib(district.pid()))
                   .add("city_peak_rss_mib", peak_rss_mib(city.pid()))
                   .add("top_peak_rss_mib", peak_rss_mib(top.pid()))
                   .str()
            << std::endl;

  const auto problems = exactly_once_problems(top.data_dir(), {{kWard, total}}, {});
  for (const auto& p : problems) std::cerr << "rollcall_sync_bench: " << p << "\n";
  for (NodeProcess* node : {&ward, &district, &city, &top}) node->stop();
  return problems.empty() ? 0 : 1;
}
