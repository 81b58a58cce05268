// The cost of exactly-once through client retries and restores (DESIGN "Identity and storage").
//
// Measures, each a JSON line:
//   - request ids: synced ingest of N events with a 36-character requestId each against the
//     same N without (the reference, same process), the bytes a remembered request costs on
//     disk (SST files of the requests and request_expiry families after a flush, per request)
//     and in keys and values, and the rate of answering the same N lines again as repeats;
//   - take-back: a ward whose data dir was re-created takes its N events back from its district
//     (real rollcalld processes on loopback): from its start to holding them all, and to its
//     first accepted submit (next seq N + 1), against the ward's own ingest of them (reference).
// Usage: rollcall_exactly_once_bench [--quick] [--requests N] [--take-back N]
//        (default 200,000 requests and 100,000 events taken back; --quick 20,000 and 20,000)
#include <capnp/message.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "report/json_out.h"
#include "cli/node_client.h"
#include "engine/event_json.h"
#include "engine/event_log.h"
#include "engine/unit_map.h"
#include "tests/support/node_harness.h"
#include "tests/support/test_dirs.h"
#include "tests/support/tree_checks.h"

namespace {

using namespace rollcall;
using namespace rollcall::testing;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

const UnitCode kWard = UnitCode::trusted("00001");

double seconds_since(Clock::time_point from) { return std::chrono::duration<double>(Clock::now() - from).count(); }

[[noreturn]] void die(const std::string& message) {
  std::cerr << "rollcall_exactly_once_bench: " << message << "\n";
  std::exit(2);
}

// A UUID-shaped request id (36 characters), different for each i.
std::string request_id(size_t i) {
  char text[40];
  std::snprintf(text, sizeof text, "%08zx-4e1a-4b2c-9d3e-%012zx", i * 2654435761u % 0xffffffffu, i);
  return text;
}

std::string report_line(size_t i, bool with_request) {
  return std::string("{") + (with_request ? R"("requestId":")" + request_id(i) + R"(",)" : "") +
         R"("unit":"00001","effectiveDate":"2024-06-)" + std::to_string(10 + i % 18) +
         R"(","activityReported":{"kind":"onlineDossiers","count":)" + std::to_string(1 + i % 40) +
         R"(,"participants":3}})";
}

// N report lines, parsed (outside the timed part).
struct Parsed {
  std::vector<std::unique_ptr<capnp::MallocMessageBuilder>> messages;
  std::vector<schema::Event::Reader> events;
};
Parsed parse_reports(size_t n, bool with_request) {
  static const EventJson json;
  Parsed out;
  for (size_t i = 0; i < n; ++i) {
    auto& m = out.messages.emplace_back(std::make_unique<capnp::MallocMessageBuilder>());
    if (auto parsed = json.parse(report_line(i, with_request), m->initRoot<schema::Event>()); !parsed.ok())
      die(parsed.error().message());
    out.events.push_back(m->getRoot<schema::Event>().asReader());
  }
  return out;
}

// Submits the events in synced writes of 1,000 at `log`; events/s. Dies on a rejection or when
// the outcomes are not `repeated` as expected.
double submit_reports(EventLog& log, const Parsed& parsed, bool expect_repeats) {
  const std::span<const schema::Event::Reader> all(parsed.events);
  const auto start = Clock::now();
  for (size_t first = 0; first < all.size(); first += 1000) {
    const Timestamp now = Timestamp::of(std::chrono::system_clock::now());
    for (const SubmitOutcome& o : log.submit(all.subspan(first, std::min<size_t>(1000, all.size() - first)), now)) {
      if (!o.accepted) die("rejected: " + (o.rejected ? o.rejected->message : std::string("?")));
      if (o.repeated != expect_repeats) die(expect_repeats ? "a repeat was appended again" : "a new line was taken as a repeat");
    }
  }
  return static_cast<double>(all.size()) / seconds_since(start);
}

std::unique_ptr<EventLog> open_log(const std::string& dir, const UnitMap& map) {
  LogOptions options;
  options.dir = dir;
  options.unit = kWard;
  options.min_free_bytes = 0;
  auto log = EventLog::open_writer(options, map);
  if (!log.ok()) die(log.error().message());
  return std::move(log).value();
}

void request_ids(size_t n) {
  auto map = UnitMap::load_csv_file(units_2024());
  if (!map.ok()) die(map.error().message());
  TempDir dir;
  auto plain = open_log(dir / "plain", *map);
  auto requested = open_log(dir / "requested", *map);
  const Parsed without = parse_reports(n, false), with = parse_reports(n, true);
  const double plain_rate = submit_reports(*plain, without, false);
  const double requested_rate = submit_reports(*requested, with, false);
  const double repeat_rate = submit_reports(*requested, with, true);
  if (requested->next_own_seq() != n + 1) die("the repeats appended events");
  if (auto s = requested->flush(); !s.ok()) die(s.error().message());
  auto bytes = requested->family_bytes();
  if (!bytes.ok()) die(bytes.error().message());
  const uint64_t remembered = requested->remembered_requests().value();
  const double disk = static_cast<double>(bytes->at("requests") + bytes->at("request_expiry"));
  // Keys and values as FORMAT.md gives them: unit 0x00 id -> 16 bytes; BE64 seq -> 8 bytes + key.
  const size_t key = kWard.str().size() + 1 + request_id(0).size();
  const size_t logical = (key + 16) + (8 + 8 + key);
  std::cout << cli::JsonObject()
                   .add("bench", "exactly_once")
                   .add("phase", "request_ids")
                   .add("events", static_cast<uint64_t>(n))
                   .add("request_id_chars", static_cast<uint64_t>(request_id(0).size()))
                   .add("plain_events_per_s", plain_rate)
                   .add("with_request_ids_events_per_s", requested_rate)
                   .add("ratio_vs_plain", requested_rate / plain_rate)
                   .add("repeats_answered_per_s", repeat_rate)
                   .add("remembered", remembered)
                   .add("disk_bytes_per_request", disk / static_cast<double>(remembered))
                   .add("key_value_bytes_per_request", static_cast<uint64_t>(logical))
                   .add("note", "synced writes of 1,000 events; disk: SST files of both families after a flush")
                   .str()
            << std::endl;
}

// Submits the ward's N report lines through the node, in messages of 2,000; events/s.
double submit_to_node(const std::string& address, size_t n) {
  auto client = NodeClient::connect(address, 5s);
  if (!client.ok()) die("cannot reach the ward: " + client.error().message());
  const auto start = Clock::now();
  for (size_t first = 0; first < n; first += 2000) {
    std::vector<std::string> lines;
    for (size_t i = first; i < std::min(n, first + 2000); ++i) lines.push_back(report_line(i, false));
    for (const auto& o : submit_lines(**client, lines))
      if (!o.accepted) die("the ward rejected a line: " + o.message);
  }
  return static_cast<double>(n) / seconds_since(start);
}

void take_back(size_t n) {
  TempDir dir;
  NodeProcess district("001", dir / "district", units_2024(), {"--log-level", "warn"});
  if (!district.start()) die("001 did not start");
  NodeProcess ward(kWard.str(), dir / "ward", units_2024(), {"--parent", district.address(), "--log-level", "warn"});
  if (!ward.start()) die("00001 did not start");
  const double own_rate = submit_to_node(ward.address(), n);
  if (!wait_for_watermarks(district.data_dir(), {{kWard, n}}, 600s)) die("the district did not get the events");

  // The ward's disk is replaced: an empty data dir.
  ward.kill9();
  std::filesystem::remove_all(ward.data_dir());
  const auto started = Clock::now();
  if (!ward.start()) die("00001 did not start again");
  const double start_s = seconds_since(started);
  auto client = NodeClient::connect(ward.address(), 5s);
  if (!client.ok()) die("cannot reach the ward: " + client.error().message());
  uint64_t refused = 0;
  double first_submit_s = 0;
  for (;;) {
    auto outcomes = submit_lines(**client, {report_line(n, false)});
    if (outcomes.size() != 1) die("no answer to a submit");
    if (outcomes[0].accepted) {
      first_submit_s = seconds_since(started);
      if (outcomes[0].id != kWard.str() + ":" + std::to_string(n + 1)) die("the next event got " + outcomes[0].id);
      break;
    }
    if (outcomes[0].code != wire::RejectCode::UNAVAILABLE) die("submit refused: " + outcomes[0].message);
    ++refused;
    if (seconds_since(started) > 600) die("the ward did not take its events back in 10 minutes");
    std::this_thread::sleep_for(5ms);
  }
  const double taken_s = first_submit_s - start_s;
  std::cout << cli::JsonObject()
                   .add("bench", "exactly_once")
                   .add("phase", "take_back")
                   .add("events", static_cast<uint64_t>(n))
                   .add("own_ingest_events_per_s", own_rate)
                   .add("start_s", start_s)
                   .add("first_submit_after_start_s", first_submit_s)
                   .add("take_back_events_per_s", static_cast<double>(n) / taken_s)
                   .add("ratio_vs_own_ingest", static_cast<double>(n) / taken_s / own_rate)
                   .add("submits_refused_meanwhile", refused)
                   .add("note", "a re-created ward (empty data dir) takes its events back from its district on loopback")
                   .str()
            << std::endl;
  const auto problems = exactly_once_problems(ward.data_dir(), {{kWard, n + 1}}, {});
  for (const auto& p : problems) std::cerr << "rollcall_exactly_once_bench: " << p << "\n";
  ward.stop();
  district.stop();
  if (!problems.empty()) std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  size_t requests = 200000, taken_back = 100000;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      requests = 20000;
      taken_back = 20000;
    } else if (std::strcmp(argv[i], "--requests") == 0 && i + 1 < argc) {
      requests = std::stoul(argv[++i]);
    } else if (std::strcmp(argv[i], "--take-back") == 0 && i + 1 < argc) {
      taken_back = std::stoul(argv[++i]);
    } else {
      std::cerr << "usage: rollcall_exactly_once_bench [--quick] [--requests N] [--take-back N]\n";
      return 2;
    }
  }
  request_ids(requests);
  take_back(taken_back);
  return 0;
}
