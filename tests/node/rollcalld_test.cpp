// Integration tests of rollcalld as a process on loopback: submit, read back while it runs,
// bad input, kill -9 durability, SIGTERM drain, protocol errors.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include <asio.hpp>
#include <capnp/any.h>
#include <capnp/message.h>
#include <capnp/serialize.h>

#include "engine/event_log.h"
#include "engine/frame_codec.h"
#include "engine/protocol.h"
#include "tests/support/node_harness.h"
#include "cli/ports.h"
#include "tests/support/test_dirs.h"

using namespace rollcall;
using namespace rollcall::testing;
using rollcall::cli::free_port_below_ephemeral;

namespace {

std::string admit(const std::string& unit, const std::string& member, const std::string& date = "2024-03-01") {
  return R"({"unit":")" + unit + R"(","effectiveDate":")" + date + R"(","memberAdmitted":{"memberId":")" + member +
         R"(","fullName":"Nguyễn Văn An","birthDate":"2001-05-02"}})";
}

std::unique_ptr<NodeClient> connect_to(const NodeProcess& node) {
  auto client = NodeClient::connect(node.address(), std::chrono::seconds(5));
  REQUIRE(client.ok());
  return std::move(client).value();
}

}  // namespace

TEST_CASE("rollcalld: submitted events get dense seqs of the node's origin and are readable while it runs",
          "[node][integration]") {
  TempDir dir;
  NodeProcess node("001", dir / "001", units_2024());
  REQUIRE(node.start());
  auto client = connect_to(node);
  CHECK(client->node_unit() == "001");

  auto outcomes = submit_lines(*client, {
      admit("00001", "00001-000001"),
      admit("00004", "00004-000001"),
      R"({"unit":"00001","effectiveDate":"2024-04-02","memberTransferredOut":{"memberId":"00001-000001","toUnit":"00004"}})",
      R"({"unit":"00004","effectiveDate":"2024-04-09","memberTransferredIn":{"memberId":"00001-000001","fromUnit":"00001"}})",
      R"({"unit":"00004","effectiveDate":"2024-04-10","activityReported":{"kind":"eidLevel1","count":135,"participants":12}})",
  });
  REQUIRE(outcomes.size() == 5);
  for (size_t i = 0; i < outcomes.size(); ++i) {
    INFO(outcomes[i].message);
    CHECK(outcomes[i].accepted);
    CHECK(outcomes[i].id == "001:" + std::to_string(i + 1));
  }

  // A reader beside the running node sees them, and the node keeps going.
  auto reader = EventLog::open_reader(node.data_dir());
  REQUIRE(reader.ok());
  auto events = (*reader)->read(Lsn{1}, 100);
  REQUIRE(events.ok());
  REQUIRE(events->size() == 5);
  CHECK(std::string((*events)[4].event().getUnit().cStr()) == "00004");
  CHECK((*events)[4].event().isActivityReported());

  auto more = submit_lines(*client, {admit("00006", "00006-000001")});
  CHECK(more[0].id == "001:6");
  REQUIRE((*reader)->refresh().ok());
  CHECK((*reader)->last_lsn().value == 6);
  CHECK(node.stop() == 0);
}

TEST_CASE("rollcalld: bad lines are rejected by name while the others in the same submit land",
          "[node][integration]") {
  TempDir dir;
  NodeProcess node("001", dir / "001", units_2024());
  REQUIRE(node.start());
  auto client = connect_to(node);
  auto outcomes = submit_lines(*client, {
      admit("00001", "00001-000007"),
      admit("99999", "99999-000001"),                // unknown unit
      admit("00001", "00001-000007"),                // admitted twice
      admit("26734", "26734-000001"),                // a real ward outside Ba Đình
      R"({"unit":"00001","effectiveDate":"2024-02-30","activityReported":{"kind":"forums","count":1,"participants":9}})",
      R"({"unit":"00001","effectiveDate":"2024-05-01","memberMatured":{"memberId":"00001-404"}})",
      admit("00004", "00004-000002"),
  });
  REQUIRE(outcomes.size() == 7);
  CHECK(outcomes[0].id == "001:1");
  CHECK(outcomes[1].code == wire::RejectCode::UNKNOWN_UNIT);
  CHECK_THAT(outcomes[1].message, Catch::Contains("99999"));
  CHECK(outcomes[2].code == wire::RejectCode::DOMAIN_RULE);
  CHECK_THAT(outcomes[2].message, Catch::Contains("already admitted"));
  CHECK(outcomes[3].code == wire::RejectCode::OUTSIDE_SUBTREE);
  CHECK_THAT(outcomes[3].message, Catch::Contains("26734"));
  CHECK(outcomes[4].code == wire::RejectCode::INVALID);
  CHECK_THAT(outcomes[4].message, Catch::Contains("2024-02-30"));
  CHECK(outcomes[5].code == wire::RejectCode::DOMAIN_RULE);
  CHECK_THAT(outcomes[5].message, Catch::Contains("00001-404"));
  CHECK(outcomes[6].id == "001:2");  // rejected lines consume no seq
}

TEST_CASE("rollcalld: an acknowledged event survives kill -9 and the next seq continues after it",
          "[node][integration][fault]") {
  TempDir dir;
  NodeProcess node("001", dir / "001", units_2024());
  uint64_t acknowledged = 0;
  for (int cycle = 0; cycle < 8; ++cycle) {
    REQUIRE(node.start());
    auto client = connect_to(node);
    std::vector<std::string> lines;
    for (int i = 0; i < 50; ++i)
      lines.push_back(admit("00001", "00001-" + std::to_string(cycle * 1000 + i)));
    auto outcomes = submit_lines(*client, lines);
    for (const auto& o : outcomes) {
      REQUIRE(o.accepted);
      CHECK(o.id == "001:" + std::to_string(++acknowledged));
    }
    node.kill9();  // right after the results came back
  }
  auto log = EventLog::open_reader(dir / "001");
  REQUIRE(log.ok());
  CHECK((*log)->last_lsn().value == acknowledged);
  CHECK((*log)->next_own_seq() == acknowledged + 1);
  for (uint64_t seq = 1; seq <= acknowledged; ++seq) {
    auto found = (*log)->find(OriginSeq{UnitCode::trusted("001"), seq});
    REQUIRE(found.ok());
    REQUIRE(found->has_value());
  }
}

TEST_CASE("rollcalld: SIGTERM drains and exits 0, and a restart serves the same log",
          "[node][integration]") {
  TempDir dir;
  NodeProcess node("001", dir / "001", units_2024());
  REQUIRE(node.start());
  {
    auto client = connect_to(node);
    auto outcomes = submit_lines(*client, {admit("00001", "00001-000001")});
    CHECK(outcomes[0].accepted);
  }
  CHECK(node.stop() == 0);
  CHECK_THAT(node.log(), Catch::Contains("stopped cleanly"));
  REQUIRE(node.start());
  auto client = connect_to(node);
  auto outcomes = submit_lines(*client, {admit("00001", "00001-000001"), admit("00001", "00001-000002")});
  CHECK(outcomes[0].code == wire::RejectCode::DOMAIN_RULE);  // the member state survived too
  CHECK(outcomes[1].id == "001:2");
}

TEST_CASE("rollcalld: a wrong protocol version and a garbage frame each get a clear error and "
          "leave the node serving others", "[node][integration]") {
  TempDir dir;
  NodeProcess node("001", dir / "001", units_2024());
  REQUIRE(node.start());
  asio::io_context io;
  auto raw_connect = [&] {
    asio::ip::tcp::socket socket(io);
    socket.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                           static_cast<uint16_t>(std::stoi(node.address().substr(10)))));
    return socket;
  };
  auto read_error = [&](asio::ip::tcp::socket& socket) {
    FrameDecoder decoder;
    std::array<uint8_t, 4096> buffer;
    asio::error_code ec;
    while (!ec) {
      const size_t n = socket.read_some(asio::buffer(buffer), ec);
      if (n) REQUIRE(decoder.feed(buffer.data(), n).ok());
      if (auto frame = decoder.next()) {
        auto message = frame->root<wire::Message>();
        REQUIRE(message.isError());
        return std::string(error_code_name(message.getError().getCode())) + ": " +
               message.getError().getMessage().cStr();
      }
    }
    return std::string("closed without an error frame");
  };

  {
    auto socket = raw_connect();
    capnp::MallocMessageBuilder builder;
    auto hello = builder.initRoot<wire::Message>().initHello();
    fill_hello(hello, "", wire::PeerRole::CLIENT, "");
    hello.setProtocolVersion(99);
    asio::write(socket, asio::buffer(encode_frame(builder)));
    auto error = read_error(socket);
    CHECK_THAT(error, Catch::Contains("incompatibleProtocol") && Catch::Contains("99"));
  }
  {
    auto socket = raw_connect();
    const uint8_t junk[] = {0x07, 0x00, 0x00, 0x00, 1, 2, 3, 4, 5, 6, 7};
    asio::write(socket, asio::buffer(junk));
    CHECK_THAT(read_error(socket), Catch::Contains("badFrame"));
  }
  {
    auto socket = raw_connect();
    const uint8_t huge[] = {0x00, 0x00, 0x00, 0x7f};
    asio::write(socket, asio::buffer(huge));
    CHECK_THAT(read_error(socket), Catch::Contains("exceeds the limit"));
  }
  {
    auto socket = raw_connect();  // a submit before any hello
    capnp::MallocMessageBuilder builder;
    builder.initRoot<wire::Message>().initSubmit();
    asio::write(socket, asio::buffer(encode_frame(builder)));
    CHECK_THAT(read_error(socket), Catch::Contains("before hello"));
  }
  auto client = connect_to(node);
  CHECK(submit_lines(*client, {admit("00001", "00001-000001")})[0].accepted);
  CHECK(node.running());
}

TEST_CASE("rollcalld: refuses a data dir of another unit and a data dir in use", "[node][integration]") {
  TempDir dir;
  NodeProcess first("001", dir / "data", units_2024());
  REQUIRE(first.start());
  NodeProcess second("001", dir / "data", units_2024());
  CHECK_FALSE(second.start());
  CHECK_THAT(second.log(), Catch::Contains("in use by another rollcalld"));
  CHECK(first.stop() == 0);

  NodeProcess other("002", dir / "data", units_2024());
  CHECK_FALSE(other.start());
  CHECK_THAT(other.log(), Catch::Contains("belongs to unit 001"));
}

TEST_CASE("rollcalld: group commit answers many concurrent clients correctly", "[node][integration]") {
  TempDir dir;
  NodeProcess node("001", dir / "001", units_2024());
  REQUIRE(node.start());
  constexpr int kClients = 8;
  constexpr int kSubmits = 20;
  std::vector<std::thread> threads;
  std::vector<std::vector<std::string>> ids(kClients);
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      auto client = NodeClient::connect(node.address(), std::chrono::seconds(5));
      if (!client.ok()) return;
      for (int s = 0; s < kSubmits; ++s) {
        auto outcomes = submit_lines(**client, {admit("00001", "m-" + std::to_string(c) + "-" + std::to_string(s))});
        ids[c].push_back(outcomes[0].accepted ? outcomes[0].id : "rejected: " + outcomes[0].message);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  for (const auto& client_ids : ids) {
    REQUIRE(client_ids.size() == kSubmits);
    for (const auto& id : client_ids) all.insert(id);
  }
  CHECK(all.size() == kClients * kSubmits);  // distinct ids, none rejected
  std::set<std::string> expected;
  for (int i = 1; i <= kClients * kSubmits; ++i) expected.insert("001:" + std::to_string(i));
  CHECK(all == expected);

  // Group commit: submits that waited together share one write, hence one recordedAt.
  auto log = EventLog::open_reader(node.data_dir());
  REQUIRE(log.ok());
  auto events = (*log)->read(Lsn{1}, 1000);
  REQUIRE(events.ok());
  std::set<int64_t> writes;
  for (const auto& e : *events) writes.insert(e.event().getRecordedAt());
  INFO(writes.size() << " writes for " << events->size() << " events");
  CHECK(writes.size() < events->size());
}

TEST_CASE("rollcalld: kill -9 at random moments under concurrent submits loses no acknowledged "
          "event and leaves seqs dense", "[node][integration][fault]") {
  TempDir dir;
  NodeProcess node("001", dir / "001", units_2024());
  std::mt19937 random(20241125);
  std::map<std::string, std::string> acknowledged;  // origin:seq -> memberId
  std::mutex mutex;
  int next_member = 0;
  constexpr int kCycles = 10;
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    REQUIRE(node.start());
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int c = 0; c < 4; ++c) {
      clients.emplace_back([&] {
        auto client = NodeClient::connect(node.address(), std::chrono::seconds(2));
        if (!client.ok()) return;
        while (!stop) {
          std::vector<std::string> members;
          std::vector<std::string> lines;
          {
            std::lock_guard lock(mutex);
            for (int i = 0; i < 10; ++i) members.push_back("00001-k" + std::to_string(next_member++));
          }
          for (const auto& m : members) lines.push_back(admit("00001", m));
          std::vector<LineOutcome> outcomes;
          try {
            outcomes = submit_lines(**client, lines);
          } catch (const std::exception&) {
            return;  // the node died under us: these were never acknowledged
          }
          std::lock_guard lock(mutex);
          for (size_t i = 0; i < outcomes.size(); ++i)
            if (outcomes[i].accepted) acknowledged[outcomes[i].id] = members[i];
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(30, 250)(random)));
    node.kill9();
    stop = true;
    for (auto& t : clients) t.join();
  }
  REQUIRE(acknowledged.size() > 100);

  auto log = EventLog::open_reader(dir / "001");
  REQUIRE(log.ok());
  auto events = (*log)->read(Lsn{1}, 1 << 20);
  REQUIRE(events.ok());
  // Dense: the i-th event is 001:i, and every member appears once.
  std::set<std::string> members;
  for (size_t i = 0; i < events->size(); ++i) {
    auto e = (*events)[i].event();
    REQUIRE(e.getSeq() == i + 1);
    REQUIRE(members.insert(e.getMemberAdmitted().getMemberId().cStr()).second);
  }
  // Every acknowledged event is there with the content it was acknowledged for.
  for (const auto& [id, member] : acknowledged) {
    auto found = (*log)->find(OriginSeq::parse(id).value());
    REQUIRE(found.ok());
    REQUIRE(found->has_value());
    CHECK(std::string((*found)->event().getMemberAdmitted().getMemberId().cStr()) == member);
  }
}

TEST_CASE("rollcalld: an amplified submit (10,000 events pointing at one shared 60 KB text) is "
          "refused on its own connection and others keep submitting", "[node][integration]") {
  TempDir dir;
  NodeProcess node("001", dir / "001", units_2024());
  REQUIRE(node.start());
  auto attacker = connect_to(node);
  constexpr int kEvents = 10000;
  capnp::MallocMessageBuilder message(1 << 20, capnp::AllocationStrategy::FIXED_SIZE);
  auto events = message.initRoot<wire::Message>().initSubmit().initEvents(kEvents);
  events[0].setUnit(std::string(60000, '0'));
  for (int i = 0; i < kEvents; ++i) {
    if (i) events[i].setUnit("x");
    events[i].setEffectiveDate("2024-01-01");
    events[i].initActivityReported().setCount(1);
  }
  // Point every event's `unit` (its second pointer) at event 0's text.
  auto unit_pointer = [&](int i) {
    capnp::AnyStruct::Builder any(events[i]);
    return reinterpret_cast<uint64_t*>(any.getDataSection().end()) + 1;  // origin is pointer 0
  };
  uint64_t* first = unit_pointer(0);
  const uint64_t first_word = *first;
  uint64_t* text = first + 1 + (static_cast<int32_t>(static_cast<uint32_t>(first_word)) >> 2);
  for (int i = 1; i < kEvents; ++i) {
    uint64_t* p = unit_pointer(i);
    const int64_t offset = text - (p + 1);
    *p = (first_word & 0xffffffff00000000ull) | ((static_cast<uint32_t>(static_cast<int32_t>(offset)) << 2) | 1u);
  }
  REQUIRE(capnp::computeSerializedSizeInWords(message) * 8 < (2u << 20));  // small on the wire
  REQUIRE(attacker->send(message).ok());
  auto answer = attacker->receive();
  REQUIRE_FALSE(answer.ok());
  CHECK_THAT(answer.error().message(), Catch::Contains("badMessage") && Catch::Contains("traversal limit"));

  auto client = connect_to(node);
  CHECK(submit_lines(*client, {admit("00001", "00001-000001")})[0].id == "001:1");
}

TEST_CASE("rollcalld: with a 1 MiB in-flight budget, many clients sending large submits all get "
          "their answers", "[node][integration]") {
  TempDir dir;
  NodeProcess node("001", dir / "001", units_2024(), {"--max-in-flight-mb", "1"});
  REQUIRE(node.start());
  constexpr int kClients = 6;
  constexpr int kSubmits = 4;
  constexpr int kEvents = 2000;  // about 0.6 MB per submit: two or three exhaust the budget
  std::atomic<int> accepted{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      auto client = NodeClient::connect(node.address(), std::chrono::seconds(5));
      if (!client.ok()) return;
      for (int s = 0; s < kSubmits; ++s) {
        std::vector<std::string> lines;
        for (int i = 0; i < kEvents; ++i)
          lines.push_back(admit("00004", "f-" + std::to_string(c) + "-" + std::to_string(s) + "-" + std::to_string(i)));
        for (const auto& o : submit_lines(**client, lines)) accepted += o.accepted ? 1 : 0;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(accepted == kClients * kSubmits * kEvents);
  CHECK(node.stop() == 0);
}

TEST_CASE("rollcalld: --http serves /metrics in the Prometheus text format, from the same status rollcall status shows",
          "[node][integration]") {
  TempDir dir;
  const uint16_t port = free_port_below_ephemeral();
  NodeProcess node("001", dir / "001", units_2024(), {"--http", "127.0.0.1:" + std::to_string(port)});
  REQUIRE(node.start());
  auto client = connect_to(node);
  for (const auto& outcome : submit_lines(*client, sample_submit_lines())) REQUIRE(outcome.accepted);

  const auto metrics = http_get(port, "/metrics");
  INFO(metrics.body << node.log());
  REQUIRE(metrics.status == 200);
  CHECK_THAT(metrics.content_type, Catch::StartsWith("text/plain; version=0.0.4"));
  CHECK(metric_value(metrics.body, "rollcall_log_last_lsn", R"(unit="001")") == 5.0);
  CHECK(metric_value(metrics.body, "rollcall_origin_watermark_seq", R"(unit="001",origin="001")") == 5.0);
  CHECK(metric_value(metrics.body, "rollcall_forks", R"(unit="001")") == 0.0);
  CHECK(metric_value(metrics.body, "rollcall_children_connected", R"(unit="001")") == 0.0);
  CHECK_THAT(metrics.body, Catch::Contains("# TYPE rollcall_parent_acked_events_total counter"));
  // Every sample line is `name{labels} number`, every family has HELP and TYPE.
  size_t samples = 0;
  for (const auto& line : split_lines(metrics.body)) {
    if (line[0] == '#') {
      CHECK(std::regex_match(line, std::regex(R"(# (HELP|TYPE) rollcall_[a-z_]+ .+)")));
      continue;
    }
    CHECK(std::regex_match(line, std::regex(R"(rollcall_[a-z_]+\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\} -?[0-9.e+-]+)")));
    ++samples;
  }
  CHECK(samples >= 6);

  const auto missing = http_get(port, "/nope");
  CHECK(missing.status == 404);
  CHECK_THAT(missing.body, Catch::Contains("no such path: /nope"));
  CHECK(node.stop() == 0);

  auto taken = NodeProcess("001", dir / "other", units_2024(), {"--http", "127.0.0.1:" + std::to_string(port)});
  NodeProcess holder("001", dir / "holder", units_2024(), {"--http", "127.0.0.1:" + std::to_string(port)});
  REQUIRE(holder.start());
  CHECK_FALSE(taken.start());  // the HTTP port is in use: the node says so and exits
  CHECK_THAT(taken.log(), Catch::Contains("--http: cannot listen on 127.0.0.1:" + std::to_string(port)));
}

// Disk full on the real disk of the data dir, with the node running: its reserve is set 256 MiB
// below the space free now, then a 768 MiB file is allocated beside the data dir, so the disk
// really holds less than the reserve (statvfs, as in production). Submits are refused as
// storageFull saying why, the node stays up and answers, nothing is appended; once the file is
// gone the same lines are accepted, right after the events from before.
TEST_CASE("rollcalld: below its free-space reserve a running node refuses submits as storageFull, "
          "stays up, appends nothing, and takes them again when space returns",
          "[node][integration][fault]") {
  TempDir dir;
  struct statvfs vfs {};
  REQUIRE(statvfs(dir.path().c_str(), &vfs) == 0);
  const uint64_t free_mib = (static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize) >> 20;
  if (free_mib < 2048) FAIL("the test needs 2 GiB free on the disk of " << dir.path() << ", there are " << free_mib << " MiB");
  NodeProcess node("001", dir / "001", units_2024(), {"--min-free-mb", std::to_string(free_mib - 256)});
  REQUIRE(node.start());
  auto client = connect_to(node);
  auto lines_from = [](int first) {
    std::vector<std::string> lines;
    for (int i = first; i < first + 5; ++i) lines.push_back(admit("00001", "00001-full-" + std::to_string(i)));
    return lines;
  };
  for (const auto& o : submit_lines(*client, lines_from(0))) REQUIRE(o.accepted);

  const std::string filler = dir / "filler";
  {
    const int fd = ::open(filler.c_str(), O_CREAT | O_WRONLY, 0600);
    REQUIRE(fd >= 0);
    const int allocated = ::posix_fallocate(fd, 0, off_t{768} << 20);
    ::close(fd);
    REQUIRE(allocated == 0);
  }
  const auto refused = submit_lines(*client, lines_from(5));
  for (const auto& o : refused) {
    CHECK_FALSE(o.accepted);
    CHECK(o.code == wire::RejectCode::STORAGE_FULL);
    CHECK_THAT(o.message, Catch::Contains("free on the disk of the data dir") && Catch::Contains("resume when space returns"));
  }
  CHECK(node.running());
  const auto status = run_rollcall({"status", "--node", node.address()});
  CHECK(status.exit_code == 0);

  std::filesystem::remove(filler);
  const auto accepted = submit_lines(*client, lines_from(5));
  for (size_t i = 0; i < accepted.size(); ++i) {
    REQUIRE(accepted[i].accepted);
    CHECK(accepted[i].id == "001:" + std::to_string(6 + i));
  }
  CHECK(node.stop() == 0);
  auto log = EventLog::open_reader(dir / "001");
  REQUIRE(log.ok());
  CHECK((*log)->last_lsn().value == 10);
  TempDir scratch;
  auto verified = (*log)->verify_projections(scratch.path(), nullptr);
  REQUIRE(verified.ok());
  CHECK(verified->differences == 0);
}
