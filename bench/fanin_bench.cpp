// Fan-in: 1,000 concurrent child sessions into one node.
//
// A real rollcalld at VN (the 2024 map) takes child sessions from the first N communes of the
// map, each speaking the replication protocol as a commune's uplink does (docs/protocol.md):
// hello as a child, the parent's watermarks, then event batches of its own origin, one
// unacknowledged at a time. The sessions are driven by one thread of this process (asio), so
// N is not bounded by processes.
//
// JSON lines:
//   - reference: one child sending the same events in batches of 1,000 (an uplink's batch): the
//     best a single session does on this node;
//   - connect: all N sessions connecting at once (a parent restarted under its children): time
//     until every one has the parent's watermarks, p50/p99 of each handshake;
//   - fanin: every session sends its batches at once: events/s, p50/p99 of a batch's
//     acknowledgement, the ratio to the reference; the node's peak RSS and open descriptors.
// Then it checks VN holds every event of every commune once.
//
// Usage: rollcall_fanin_bench [--quick] [--sessions N] [--batches B] [--batch-events E]
#include <asio.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <capnp/message.h>

#include "bench/bench_util.h"
#include "engine/capnp_guard.h"
#include "engine/frame_codec.h"
#include "engine/protocol.h"
#include "engine/unit_map.h"
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
using asio::ip::tcp;

[[noreturn]] void die(const std::string& message) {
  std::cerr << "rollcall_fanin_bench: " << message << "\n";
  std::exit(2);
}

double ms_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// Events [first_seq, first_seq + count) of `origin`, as its log holds them.
std::vector<uint8_t> batch_frame(const UnitCode& origin, uint64_t first_seq, size_t count) {
  capnp::MallocMessageBuilder message;
  auto batch = message.initRoot<wire::Message>().initEventBatch();
  batch.setFirstLsn(first_seq);
  batch.setLastLsn(first_seq + count - 1);
  auto list = batch.initEvents(static_cast<unsigned>(count));
  for (unsigned i = 0; i < count; ++i) {
    const uint64_t seq = first_seq + i;
    auto e = list[i];
    e.setOrigin(origin.str());
    e.setSeq(seq);
    e.setRecordedAt(1780000000000000 + static_cast<int64_t>(seq) * 1000);
    e.setUnit(origin.str());
    const std::string day = std::to_string(10 + seq % 18);
    if (seq % 2 == 1) {
      e.setEffectiveDate("2024-03-" + day);
      auto a = e.initMemberAdmitted();
      a.setMemberId(origin.str() + "-f" + std::to_string(seq));
      a.setFullName("Trần Thị Bình");
      a.setBirthDate("2003-07-15");
    } else {
      e.setEffectiveDate("2024-06-" + day);
      auto r = e.initActivityReported();
      r.setKind(schema::ActivityKind::EID_LEVEL2);
      r.setCount(static_cast<uint32_t>(1 + seq % 30));
      r.setParticipants(3);
    }
  }
  return encode_frame(message);
}

struct Figures {
  std::vector<double> handshake_ms;
  std::vector<double> ack_ms;
  size_t handshaken = 0;
  size_t finished = 0;
  Clock::time_point all_handshaken, all_finished;
};

// One commune's uplink, reduced to the protocol: hello, watermarks, then `batches` batches of
// `per_batch` events, each sent when the previous one is acknowledged.
class Child : public std::enable_shared_from_this<Child> {
 public:
  Child(asio::io_context& io, UnitCode unit, size_t batches, size_t per_batch, size_t sessions, Figures& figures)
      : socket_(io), unit_(std::move(unit)), batches_(batches), per_batch_(per_batch), sessions_(sessions),
        figures_(figures) {}

  // Connects from `source` (a loopback address of its own: the node limits the sessions one
  // address may hold, as communes' servers each have their own).
  void connect(const tcp::endpoint& node, const asio::ip::address& source) {
    started_ = Clock::now();
    socket_.open(tcp::v4());
    socket_.bind(tcp::endpoint(source, 0));
    socket_.async_connect(node, [self = shared_from_this()](asio::error_code ec) {
      if (ec) die("child " + self->unit_.str() + " cannot connect: " + ec.message());
      self->socket_.set_option(tcp::no_delay(true));
      capnp::MallocMessageBuilder hello;
      std::string incarnation(16, '\0');
      std::mt19937_64 rng(std::hash<std::string>{}(self->unit_.str()));
      for (auto& c : incarnation) c = static_cast<char>(rng());
      fill_hello(hello.initRoot<wire::Message>().initHello(), self->unit_.str(), wire::PeerRole::CHILD, incarnation);
      self->send(encode_frame(hello));
      self->read();
    });
  }

  // Starts sending batches (once every session has handshaken).
  void go() { send_batch(); }
  void close() {
    asio::error_code ignored;
    socket_.close(ignored);
  }

 private:
  void send(std::vector<uint8_t> frame) {
    out_.push_back(std::move(frame));
    if (out_.size() == 1) write_next();
  }
  void write_next() {
    asio::async_write(socket_, asio::buffer(out_.front()), [self = shared_from_this()](asio::error_code ec, size_t) {
      if (ec) die("child " + self->unit_.str() + " write: " + ec.message());
      self->out_.pop_front();
      if (!self->out_.empty()) self->write_next();
    });
  }
  void read() {
    socket_.async_read_some(asio::buffer(buffer_), [self = shared_from_this()](asio::error_code ec, size_t n) {
      if (ec) {
        if (self->closing_) return;
        die("child " + self->unit_.str() + " read: " + ec.message());
      }
      if (auto fed = self->decoder_.feed(self->buffer_.data(), n); !fed.ok()) die(fed.error().message());
      while (auto frame = self->decoder_.next()) self->on_frame(*frame);
      self->read();
    });
  }
  void on_frame(Frame& frame) {
    auto handled = guard_capnp("message to " + unit_.str(), [&]() -> Status {
      auto m = frame.root<wire::Message>();
      switch (m.which()) {
        case wire::Message::HELLO:
        case wire::Message::HEARTBEAT:
          return ok_status();
        case wire::Message::WATERMARKS:
          figures_.handshake_ms.push_back(ms_between(started_, Clock::now()));
          if (++figures_.handshaken == sessions_) figures_.all_handshaken = Clock::now();
          return ok_status();
        case wire::Message::ACK:
          figures_.ack_ms.push_back(ms_between(batch_sent_, Clock::now()));
          if (sent_ < batches_) {
            send_batch();
          } else if (++figures_.finished == sessions_) {
            figures_.all_finished = Clock::now();
          }
          return ok_status();
        case wire::Message::ERROR:
          return invalid_input("the node closed the session: " + std::string(m.getError().getMessage().cStr()));
        default:
          return invalid_input("unexpected message");
      }
    });
    if (!handled.ok()) die("child " + unit_.str() + ": " + handled.error().message());
  }
  void send_batch() {
    batch_sent_ = Clock::now();
    send(batch_frame(unit_, 1 + sent_ * per_batch_, per_batch_));
    ++sent_;
  }

  tcp::socket socket_;
  UnitCode unit_;
  size_t batches_, per_batch_, sessions_;
  Figures& figures_;
  FrameDecoder decoder_;
  std::array<uint8_t, 16384> buffer_{};
  std::deque<std::vector<uint8_t>> out_;
  size_t sent_ = 0;
  bool closing_ = false;
  Clock::time_point started_, batch_sent_;

  friend void close_all(std::vector<std::shared_ptr<Child>>&);
};

void close_all(std::vector<std::shared_ptr<Child>>& children) {
  for (auto& c : children) {
    c->closing_ = true;
    c->close();
  }
}

// Child i's source address: 127.0.0.10 and on, 200 sessions each (the node's default limit for
// one address is 256).
asio::ip::address source_address(size_t child) {
  return asio::ip::make_address_v4(static_cast<asio::ip::address_v4::uint_type>((127u << 24) + 10 + child / 200));
}

// Runs the io context until `done` holds, or dies after `timeout`.
void run_until(asio::io_context& io, const std::function<bool()>& done, std::chrono::seconds timeout,
               const std::string& what) {
  const auto deadline = Clock::now() + timeout;
  while (!done()) {
    io.run_for(20ms);
    if (Clock::now() > deadline) die(what + " did not finish in " + std::to_string(timeout.count()) + " s");
  }
}

size_t open_descriptors(pid_t pid) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd"))
    ++n;
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  size_t sessions = 1000, batches = 10, per_batch = 20;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--quick") {
      batches = 2;
      per_batch = 10;
    } else if (arg == "--sessions" && i + 1 < argc) {
      sessions = std::stoul(argv[++i]);
    } else if (arg == "--batches" && i + 1 < argc) {
      batches = std::stoul(argv[++i]);
    } else if (arg == "--batch-events" && i + 1 < argc) {
      per_batch = std::stoul(argv[++i]);
    } else {
      std::cerr << "usage: rollcall_fanin_bench [--quick] [--sessions N] [--batches B] [--batch-events E]\n"
                   "  N child sessions (default 1,000) each send B batches (default 10; --quick 2) of E events\n"
                   "  (default 20; --quick 10), one unacknowledged at a time, into one node at VN\n";
      return 2;
    }
  }
  if (sessions == 0 || batches == 0 || per_batch == 0) die("--sessions, --batches and --batch-events must be > 0");
  auto map = UnitMap::load_csv_file(units_2024());
  if (!map.ok()) die(map.error().message());
  std::vector<UnitCode> communes;
  for (const UnitCode& code : map->subtree(map->root()))
    if (map->children(code).empty()) communes.push_back(code);
  if (communes.size() < sessions + 1) die("the map has only " + std::to_string(communes.size()) + " communes");
  const size_t events = sessions * batches * per_batch;

  TempDir dir;
  NodeProcess node("VN", dir / "vn", units_2024(), {"--log-level", "warn"});
  if (!node.start()) die("VN did not start");
  const auto address = parse_host_port(node.address());
  if (!address.ok()) die(address.error().message());
  const tcp::endpoint endpoint(asio::ip::make_address(address->host), address->port);
  asio::io_context io;

  // 1. The reference: one child, the same events in batches of 1,000.
  double reference_rate = 0;
  std::map<UnitCode, uint64_t> expected;
  {
    Figures f;
    const size_t big = 1000;
    const size_t big_batches = (events + big - 1) / big;
    auto one = std::make_shared<Child>(io, communes[sessions], big_batches, big, 1, f);
    one->connect(endpoint, source_address(0));
    run_until(io, [&] { return f.handshaken == 1; }, 30s, "the reference's handshake");
    const auto start = Clock::now();
    one->go();
    run_until(io, [&] { return f.finished == 1; }, 600s, "the reference");
    reference_rate = static_cast<double>(big_batches * big) / seconds_between(start, f.all_finished);
    expected[communes[sessions]] = big_batches * big;
    std::vector<std::shared_ptr<Child>> all{one};
    close_all(all);
    std::cout << cli::JsonObject()
                     .add("bench", "fanin")
                     .add("phase", "reference")
                     .add("sessions", uint64_t{1})
                     .add("events", static_cast<uint64_t>(big_batches * big))
                     .add("batch_events", static_cast<uint64_t>(big))
                     .add("events_per_s", reference_rate)
                     .str()
              << std::endl;
  }

  // 2. Every session connects at once.
  Figures f;
  std::vector<std::shared_ptr<Child>> children;
  const auto connect_start = Clock::now();
  for (size_t i = 0; i < sessions; ++i) {
    children.push_back(std::make_shared<Child>(io, communes[i], batches, per_batch, sessions, f));
    children.back()->connect(endpoint, source_address(i));
  }
  run_until(io, [&] { return f.handshaken == sessions; }, 120s, "the handshakes");
  const size_t descriptors = open_descriptors(node.pid());
  std::sort(f.handshake_ms.begin(), f.handshake_ms.end());
  std::cout << cli::JsonObject()
                   .add("bench", "fanin")
                   .add("phase", "connect")
                   .add("sessions", static_cast<uint64_t>(sessions))
                   .add("all_handshaken_s", seconds_between(connect_start, f.all_handshaken))
                   .raw("handshake_p50_ms", std::to_string(percentile(f.handshake_ms, 0.5)))
                   .raw("handshake_p99_ms", std::to_string(percentile(f.handshake_ms, 0.99)))
                   .add("node_open_descriptors", static_cast<uint64_t>(descriptors))
                   .str()
            << std::endl;

  // 3. Every session sends at once.
  const auto start = Clock::now();
  for (auto& c : children) c->go();
  run_until(io, [&] { return f.finished == sessions; }, 600s, "the fan-in");
  const double rate = static_cast<double>(events) / seconds_between(start, f.all_finished);
  std::sort(f.ack_ms.begin(), f.ack_ms.end());
  std::cout << cli::JsonObject()
                   .add("bench", "fanin")
                   .add("phase", "fanin")
                   .add("sessions", static_cast<uint64_t>(sessions))
                   .add("events", static_cast<uint64_t>(events))
                   .add("batch_events", static_cast<uint64_t>(per_batch))
                   .add("seconds", seconds_between(start, f.all_finished))
                   .add("events_per_s", rate)
                   .raw("ack_p50_ms", std::to_string(percentile(f.ack_ms, 0.5)))
                   .raw("ack_p99_ms", std::to_string(percentile(f.ack_ms, 0.99)))
                   .add("ratio_vs_one_session", rate / reference_rate)
                   .add("node_peak_rss_mib", peak_rss_mib(node.pid()))
                   .str()
            << std::endl;
  close_all(children);
  io.run_for(100ms);

  for (size_t i = 0; i < sessions; ++i) expected[communes[i]] = batches * per_batch;
  const auto problems = exactly_once_problems(node.data_dir(), expected, {});
  for (const auto& p : problems) std::cerr << "rollcall_fanin_bench: " << p << "\n";
  node.stop();
  return problems.empty() ? 0 : 1;
}
