// End-to-end sync through a live tree, side by side with the NATS JetStream chain in the same
// run (bench/nats_chain.h).
//
// rollcall: real rollcalld processes for ward 00001 -> district 001 -> city 01 (Hà Nội, a
// province-level unit) -> VN, from the 2024 map, every link up, every level maintaining its
// tallies. Client threads submit to the ward while it replicates upward.
//   - sustained: events/s from the first submit until VN holds them all; and, per submit, the
//     time from sending it to the ward until the province (01) and VN hold its last event;
//   - paced: single events `--gap-ms` apart (an idle tree), each from its submit to the
//     province's and VN's tally. A node commits an event and its tally rows in one write, so
//     the moment a node holds an event (its watermark, read through the node's status) is the
//     moment its tally counts it.
// NATS: the same count of messages of the same size (the mean encoded size of the events
// rollcall stores) through the 3-level chain, the same two ways.
// JSON lines: each figure, and the ratios rollcall / NATS.
//
// Usage: rollcall_chain_bench [--quick] [--events N] [--probes N]
#include <algorithm>
#include <atomic>
#include <cstring>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <capnp/message.h>
#include <capnp/serialize.h>

#include "bench/bench_util.h"
#include "bench/nats_chain.h"
#include "cli/node_client.h"
#include "engine/capnp_guard.h"
#include "report/json_out.h"
#include "schema/wire.capnp.h"
#include "tests/support/node_harness.h"
#include "tests/support/test_dirs.h"
#include "tests/support/tree_checks.h"

namespace {

using namespace rollcall;
using namespace rollcall::bench;
using namespace rollcall::testing;
using namespace std::chrono_literals;

const UnitCode kWard = UnitCode::trusted("00001");
constexpr size_t kSubmitEvents = 500;
constexpr int kSubmitters = 2;

[[noreturn]] void die(const std::string& message) {
  std::cerr << "rollcall_chain_bench: " << message << "\n";
  std::exit(2);
}

// The i-th event: an admission of a new member or an activity report, as a ward submits them.
void fill_event(schema::Event::Builder e, size_t i) {
  e.setUnit(kWard.str());
  const std::string day = std::to_string(10 + i % 18);
  if (i % 2 == 0) {
    e.setEffectiveDate("2024-03-" + day);
    auto a = e.initMemberAdmitted();
    a.setMemberId("00001-c" + std::to_string(i));
    a.setFullName("Nguyễn Văn An");
    a.setBirthDate("2002-04-01");
  } else {
    e.setEffectiveDate("2024-06-" + day);
    auto r = e.initActivityReported();
    r.setKind(schema::ActivityKind::EID_LEVEL1);
    r.setCount(static_cast<uint32_t>(1 + i % 50));
    r.setParticipants(2);
  }
}

// The mean encoded size of these events as the ward stores them (origin, seq and recordedAt
// set): the size of NATS's messages.
size_t stored_event_bytes() {
  size_t total = 0;
  for (size_t i = 0; i < 100; ++i) {
    capnp::MallocMessageBuilder message;
    auto e = message.initRoot<schema::Event>();
    fill_event(e, 1000000 + i);
    e.setOrigin(kWard.str());
    e.setSeq(1000000 + i);
    e.setRecordedAt(1780000000000000);
    total += capnp::computeSerializedSizeInWords(message) * sizeof(capnp::word);
  }
  return total / 100;
}

// Submits events [first, first + count) in one message; the largest seq accepted.
uint64_t submit(NodeClient& client, size_t first, size_t count) {
  capnp::MallocMessageBuilder message;
  auto s = message.initRoot<wire::Message>().initSubmit();
  s.setRequestTag(first + 1);
  auto list = s.initEvents(static_cast<unsigned>(count));
  for (unsigned i = 0; i < count; ++i) fill_event(list[i], first + i);
  if (auto sent = client.send(message); !sent.ok()) die("submit: " + sent.error().message());
  auto frame = client.receive();
  if (!frame.ok()) die("submit: " + frame.error().message());
  uint64_t last = 0;
  auto handled = guard_capnp("submit result", [&]() -> Status {
    for (auto o : (*frame)->root<wire::Message>().getSubmitResult().getOutcomes()) {
      if (!o.isAccepted()) return invalid_input("rejected: " + std::string(o.getRejected().getMessage().cStr()));
      last = std::max(last, o.getAccepted().getSeq());
    }
    return ok_status();
  });
  if (!handled.ok()) die(handled.error().message());
  return last;
}

// The ward's watermark at a running node, from its status (one connection, asked again and
// again).
class Watcher {
 public:
  explicit Watcher(const std::string& address) {
    auto c = NodeClient::connect(address, 5s);
    if (!c.ok()) die("cannot reach " + address + ": " + c.error().message());
    client_ = std::move(*c);
  }
  uint64_t held() {
    capnp::MallocMessageBuilder request;
    request.initRoot<wire::Message>().initStatusRequest();
    if (auto s = client_->send(request); !s.ok()) die("status: " + s.error().message());
    auto frame = client_->receive();
    if (!frame.ok()) die("status: " + frame.error().message());
    uint64_t seq = 0;
    auto handled = guard_capnp("status", [&]() -> Status {
      for (auto o : (*frame)->root<wire::Message>().getStatus().getOrigins())
        if (o.getOrigin() == kWard.str()) seq = o.getSeq();
      return ok_status();
    });
    if (!handled.ok()) die(handled.error().message());
    return seq;
  }
  // Polls until the node holds `seq`; the time it did.
  Clock::time_point wait_for(uint64_t seq, std::chrono::seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (held() < seq) {
      if (Clock::now() > deadline) die("a node did not get seq " + std::to_string(seq) + " in time");
      std::this_thread::sleep_for(200us);
    }
    return Clock::now();
  }

 private:
  std::unique_ptr<NodeClient> client_;
};

// Samples of a node's watermark over time, taken by a thread until it reaches `until`.
struct Samples {
  std::vector<std::pair<Clock::time_point, uint64_t>> points;
  // The first time the node held `seq`.
  Clock::time_point when(uint64_t seq) const {
    auto it = std::lower_bound(points.begin(), points.end(), seq,
                               [](const auto& p, uint64_t s) { return p.second < s; });
    if (it == points.end()) die("no sample holds seq " + std::to_string(seq));
    return it->first;
  }
};

Samples sample_until(const std::string& address, uint64_t until) {
  Watcher watcher(address);
  Samples out;
  const auto deadline = Clock::now() + 600s;
  for (uint64_t seq = 0; seq < until;) {
    seq = watcher.held();
    out.points.emplace_back(Clock::now(), seq);
    if (Clock::now() > deadline) die("the tree did not drain in 600 s");
    std::this_thread::sleep_for(1ms);
  }
  return out;
}

struct Sent {
  Clock::time_point at;
  uint64_t last_seq;
};

std::string fixed(double v) { return std::to_string(v); }

void print_latency(cli::JsonObject& line, const std::string& prefix, std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  line.raw(prefix + "_p50_ms", fixed(percentile(ms, 0.5))).raw(prefix + "_p99_ms", fixed(percentile(ms, 0.99)));
}

}  // namespace

int main(int argc, char** argv) {
  size_t events = 200000;
  size_t probes = 300;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      events = 20000;
      probes = 50;
    } else if (std::strcmp(argv[i], "--events") == 0 && i + 1 < argc) {
      events = std::stoul(argv[++i]);
    } else if (std::strcmp(argv[i], "--probes") == 0 && i + 1 < argc) {
      probes = std::stoul(argv[++i]);
    } else {
      std::cerr << "usage: rollcall_chain_bench [--quick] [--events N] [--probes N]\n"
                   "  --quick     20,000 events and 50 probes (CI), instead of 200,000 and 300\n"
                   "  --events N  events through each tree in the sustained run\n"
                   "  --probes N  single events timed one by one through an idle tree\n";
      return 2;
    }
  }
  events = (events + kSubmitEvents - 1) / kSubmitEvents * kSubmitEvents;
  const size_t event_bytes = stored_event_bytes();
  constexpr int kGapMs = 5;

  TempDir dir;
  NodeProcess top("VN", dir / "vn", units_2024(), {"--log-level", "warn"});
  if (!top.start()) die("VN did not start");
  NodeProcess city("01", dir / "city", units_2024(), {"--parent", top.address(), "--log-level", "warn"});
  if (!city.start()) die("01 did not start");
  NodeProcess district("001", dir / "district", units_2024(), {"--parent", city.address(), "--log-level", "warn"});
  if (!district.start()) die("001 did not start");
  NodeProcess ward(kWard.str(), dir / "ward", units_2024(), {"--parent", district.address(), "--log-level", "warn"});
  if (!ward.start()) die("00001 did not start");

  // 1. rollcall, sustained: submitters at the ward, samplers at the province and VN.
  std::vector<std::vector<Sent>> sent(kSubmitters);
  std::atomic<size_t> next{0};
  Samples at_city, at_top;
  const auto start = Clock::now();
  {
    std::thread city_sampler([&] { at_city = sample_until(city.address(), events); });
    std::thread top_sampler([&] { at_top = sample_until(top.address(), events); });
    std::vector<std::thread> submitters;
    for (int t = 0; t < kSubmitters; ++t)
      submitters.emplace_back([&, t] {
        auto client = NodeClient::connect(ward.address(), 5s);
        if (!client.ok()) die("cannot reach the ward: " + client.error().message());
        for (size_t first; (first = next.fetch_add(kSubmitEvents)) < events;) {
          const auto at = Clock::now();
          sent[t].push_back({at, submit(**client, first, kSubmitEvents)});
        }
      });
    for (auto& s : submitters) s.join();
    city_sampler.join();
    top_sampler.join();
  }
  const double rollcall_s = seconds_between(start, at_top.when(events));
  const double rollcall_rate = static_cast<double>(events) / rollcall_s;
  std::vector<double> to_city, to_top;
  for (const auto& thread : sent)
    for (const auto& s : thread) {
      to_city.push_back(std::chrono::duration<double, std::milli>(at_city.when(s.last_seq) - s.at).count());
      to_top.push_back(std::chrono::duration<double, std::milli>(at_top.when(s.last_seq) - s.at).count());
    }
  {
    cli::JsonObject line;
    line.add("bench", "chain").add("system", "rollcall").add("phase", "sustained").add("levels", uint64_t{4});
    line.add("events", static_cast<uint64_t>(events)).add("event_bytes", static_cast<uint64_t>(event_bytes));
    line.add("events_per_submit", static_cast<uint64_t>(kSubmitEvents)).add("submitters", uint64_t{kSubmitters});
    line.add("province_s", seconds_between(start, at_city.when(events))).add("top_s", rollcall_s);
    line.add("events_per_s", rollcall_rate);
    print_latency(line, "submit_to_province", to_city);
    print_latency(line, "submit_to_top", to_top);
    std::cout << line.str() << std::endl;
  }

  // 2. rollcall, paced: one event at a time through an idle tree.
  std::vector<double> paced_city, paced_top;
  {
    auto client = NodeClient::connect(ward.address(), 5s);
    if (!client.ok()) die("cannot reach the ward: " + client.error().message());
    Watcher city_watch(city.address()), top_watch(top.address());
    for (size_t i = 0; i < probes; ++i) {
      const auto at = Clock::now();
      const uint64_t seq = submit(**client, events + i, 1);
      paced_city.push_back(std::chrono::duration<double, std::milli>(city_watch.wait_for(seq, 60s) - at).count());
      paced_top.push_back(std::chrono::duration<double, std::milli>(top_watch.wait_for(seq, 60s) - at).count());
      std::this_thread::sleep_for(std::chrono::milliseconds(kGapMs));
    }
    cli::JsonObject line;
    line.add("bench", "chain").add("system", "rollcall").add("phase", "paced").add("probes", static_cast<uint64_t>(probes));
    line.add("gap_ms", uint64_t{kGapMs});
    print_latency(line, "to_province", paced_city);
    print_latency(line, "to_top", paced_top);
    std::cout << line.str() << std::endl;
  }
  const double rollcall_paced_p50 = percentile((std::sort(paced_city.begin(), paced_city.end()), paced_city), 0.5);
  std::cout << cli::JsonObject()
                   .add("bench", "chain")
                   .add("system", "rollcall")
                   .add("phase", "memory")
                   .add("ward_peak_rss_mib", peak_rss_mib(ward.pid()))
                   .add("district_peak_rss_mib", peak_rss_mib(district.pid()))
                   .add("city_peak_rss_mib", peak_rss_mib(city.pid()))
                   .add("top_peak_rss_mib", peak_rss_mib(top.pid()))
                   .str()
            << std::endl;
  const auto problems = exactly_once_problems(top.data_dir(), {{kWard, events + probes}}, {});
  for (const auto& p : problems) std::cerr << "rollcall_chain_bench: " << p << "\n";
  for (NodeProcess* node : {&ward, &district, &city, &top}) node->stop();

  // 3. NATS JetStream, the same count and size: async publishes, 2 x 500 unacknowledged at
  // most (rollcall's submitters have as many events in flight).
  try {
    NatsChain nats(dir / "nats");
    const auto t = nats.throughput(events, event_bytes, kSubmitters * kSubmitEvents);
    const auto l = nats.latency(probes, event_bytes, kGapMs);
    const auto rss = nats.peak_rss_mib();
    cli::JsonObject line;
    line.add("bench", "chain").add("system", "nats-jetstream-2.9").add("phase", "sustained").add("levels", uint64_t{3});
    line.add("events", static_cast<uint64_t>(events)).add("event_bytes", static_cast<uint64_t>(event_bytes));
    line.add("publish_s", t.publish_s).add("middle_s", t.middle_s).add("top_s", t.top_s);
    line.add("events_per_s", t.events_per_s);
    line.add("note", "acknowledged before fsync (NATS 2.9 file store); rollcall fsyncs every write at every level");
    std::cout << line.str() << std::endl;
    cli::JsonObject paced;
    paced.add("bench", "chain").add("system", "nats-jetstream-2.9").add("phase", "paced");
    paced.add("probes", static_cast<uint64_t>(probes)).add("gap_ms", uint64_t{kGapMs});
    print_latency(paced, "to_top", l.ms);
    paced.add("bottom_peak_rss_mib", rss[0]).add("middle_peak_rss_mib", rss[1]).add("top_peak_rss_mib", rss[2]);
    std::cout << paced.str() << std::endl;
    const double nats_paced_p50 = percentile(l.ms, 0.5);
    std::cout << cli::JsonObject()
                     .add("bench", "chain")
                     .add("phase", "ratio")
                     .add("rollcall_4_levels_events_per_s", rollcall_rate)
                     .add("nats_3_levels_events_per_s", t.events_per_s)
                     .add("ratio", rollcall_rate / t.events_per_s)
                     .add("target", 5.0)
                     .add("paced_p50_ratio_province_vs_nats_top", rollcall_paced_p50 / nats_paced_p50)
                     .str()
              << std::endl;
  } catch (const std::exception& e) {
    die(std::string("the NATS reference failed: ") + e.what());
  }
  return problems.empty() ? 0 : 1;
}
