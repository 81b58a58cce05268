// End-to-end tests of `rollcall status`: a stopped node's data dir, a running node asked through
// its data dir and directly, what a node reports of its links (from a stand-in that speaks the
// wire contract of schema/wire.capnp), and the errors.
#include <capnp/message.h>
#include <catch2/catch.hpp>

#include <asio.hpp>

#include <atomic>
#include <fstream>
#include <functional>
#include <regex>
#include <thread>

#include "engine/frame_codec.h"
#include "engine/protocol.h"
#include "schema/wire.capnp.h"
#include "tests/support/json_doc.h"
#include "tests/support/node_harness.h"
#include "tests/support/test_dirs.h"

using namespace rollcall::testing;

namespace {

capnp::JsonValue::Reader field(capnp::JsonValue::Reader object, const std::string& name) {
  REQUIRE(object.isObject());
  for (auto f : object.getObject())
    if (name == f.getName().cStr()) return f.getValue();
  FAIL("no field " << name);
  return object;
}
std::string text(capnp::JsonValue::Reader value) {
  return value.getString().cStr();
}
uint64_t number(capnp::JsonValue::Reader value) {
  return static_cast<uint64_t>(value.getNumber());
}

// The entry of `array` whose "origin" (or other key) is `value`.
capnp::JsonValue::Reader entry(capnp::JsonValue::Reader array, const std::string& key,
                               const std::string& value) {
  REQUIRE(array.isArray());
  for (auto item : array.getArray())
    if (text(field(item, key)) == value) return item;
  FAIL("no entry with " << key << " " << value);
  return array;
}

// Checks the top-level keys every --json answer has.
void check_keys(capnp::JsonValue::Reader root) {
  for (const char* key : {"unit", "name", "incarnation", "lastLsn", "node", "parents", "children",
                          "origins", "forks", "alerts"})
    field(root, key);
  CHECK(field(root, "parents").isArray());
  CHECK(field(root, "children").isArray());
  CHECK(field(root, "origins").isArray());
  CHECK(field(root, "alerts").isArray());
  CHECK(field(root, "forks").isArray());
}

// A node 001 that holds sample_submit_lines() (origin 001, seqs 1..5), stopped.
struct StoppedNode {
  TempDir dir;
  NodeProcess node{"001", dir / "001", units_2024()};

  StoppedNode() {
    REQUIRE(node.start());
    auto client = rollcall::NodeClient::connect(node.address(), std::chrono::seconds(5));
    REQUIRE(client.ok());
    for (const auto& outcome : submit_lines(**client, sample_submit_lines())) REQUIRE(outcome.accepted);
    REQUIRE(node.stop() == 0);
  }
  std::string data_dir() const { return node.data_dir(); }
  void write_address(const std::string& address) const {
    std::ofstream(data_dir() + "/rollcalld.address") << address << "\n";
  }
};

std::string from_hex(const std::string& hex) {
  std::string bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    bytes.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return bytes;
}

// A stand-in for a running node on 127.0.0.1 that answers the hello and a StatusRequest as the
// wire contract says, with the NodeStatus `fill` builds (or, `silent`, answers nothing).
class StatusStandIn {
 public:
  using Fill = std::function<void(rollcall::wire::NodeStatus::Builder)>;
  explicit StatusStandIn(Fill fill, bool silent = false) : fill_(std::move(fill)), silent_(silent) {
    acceptor_.open(asio::ip::tcp::v4());
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { serve(); });
  }
  ~StatusStandIn() {
    stop_ = true;
    asio::io_context io;
    asio::ip::tcp::socket wake(io);
    asio::error_code ec;
    wake.connect({asio::ip::make_address("127.0.0.1"), port_}, ec);  // ends the accept
    thread_.join();
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  void serve() {
    while (!stop_) {
      asio::ip::tcp::socket socket(io_);
      asio::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec || stop_) return;
      answer(socket);
    }
  }
  void answer(asio::ip::tcp::socket& socket) {
    rollcall::FrameDecoder decoder;
    std::array<uint8_t, 4096> buffer;
    for (;;) {
      asio::error_code ec;
      const size_t n = socket.read_some(asio::buffer(buffer), ec);
      if (ec || !decoder.feed(buffer.data(), n).ok()) return;
      while (auto frame = decoder.next()) {
        if (silent_) continue;
        capnp::MallocMessageBuilder reply;
        auto message = reply.initRoot<rollcall::wire::Message>();
        const auto which = frame->root<rollcall::wire::Message>().which();
        if (which == rollcall::wire::Message::HELLO)
          rollcall::fill_hello(message.initHello(), "001", rollcall::wire::PeerRole::CLIENT, "");
        else if (which == rollcall::wire::Message::STATUS_REQUEST)
          fill_(message.initStatus());
        else
          return;
        asio::write(socket, asio::buffer(rollcall::encode_frame(reply)), ec);
      }
    }
  }

  Fill fill_;
  bool silent_;
  std::atomic<bool> stop_{false};
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_{io_};
  uint16_t port_ = 0;
  std::thread thread_;
};

int64_t micros_now() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

// Whether some line of `out` matches `pattern` whole.
bool has_line(const std::string& out, const std::string& pattern) {
  const std::regex re(pattern);
  for (const auto& line : split_lines(out))
    if (std::regex_match(line, re)) return true;
  return false;
}

}  // namespace

TEST_CASE(
    "rollcall status: a stopped node's data dir lists its origins with seqs, names and data as "
    "of, and says the node is not running",
    "[cli][integration]") {
  StoppedNode n;
  auto out = run_rollcall({"status", "--data-dir", n.data_dir()});
  INFO(out.err);
  REQUIRE(out.exit_code == 0);
  auto lines = split_lines(out.out);
  REQUIRE(lines.size() >= 4);
  CHECK_THAT(lines[0], Catch::StartsWith("unit 001 Quận Ba Đình, last LSN 5, incarnation "));
  CHECK_THAT(lines[1], Catch::StartsWith("data as of 20") && Catch::EndsWith(" ago)"));
  CHECK_THAT(out.out, Catch::Contains("node: not running (no rollcalld.address in"));
  CHECK_THAT(out.out, Catch::Contains("parents, children and alerts: unknown"));
  CHECK_THAT(out.out, Catch::Contains("001     Quận Ba Đình    5  20"));

  auto json = run_rollcall({"status", "--json", "--data-dir", n.data_dir()});
  REQUIRE(json.exit_code == 0);
  REQUIRE(split_lines(json.out).size() == 1);
  JsonDoc doc(json.out);
  check_keys(doc.root());
  CHECK(text(field(doc.root(), "unit")) == "001");
  CHECK(text(field(doc.root(), "name")) == "Quận Ba Đình");
  CHECK(text(field(doc.root(), "incarnation")).size() == 32);
  CHECK(number(field(doc.root(), "lastLsn")) == 5);
  CHECK(field(doc.root(), "node").isNull());
  CHECK(field(doc.root(), "parents").getArray().size() == 0);
  auto origin = entry(field(doc.root(), "origins"), "origin", "001");
  CHECK(text(field(origin, "name")) == "Quận Ba Đình");
  CHECK(number(field(origin, "seq")) == 5);
  CHECK_THAT(text(field(origin, "newestRecordedAt")), Catch::Matches(R"(20\d\d-\d\d-\d\dT.*Z)"));
  CHECK(number(field(origin, "headSeq")) == 0);
  CHECK(number(field(origin, "lagEvents")) == 0);

  // An address left behind by a node killed with -9: one line, and still the data dir's part.
  n.write_address("127.0.0.1:1");
  auto stale = run_rollcall({"status", "--data-dir", n.data_dir()});
  CHECK(stale.exit_code == 0);
  CHECK_THAT(stale.out, Catch::Contains("node: not running (no answer at 127.0.0.1:1)"));
  CHECK_THAT(stale.out, Catch::Contains("Quận Ba Đình    5"));
  auto stale_json = run_rollcall({"status", "--json", "--data-dir", n.data_dir()});
  JsonDoc stale_doc(stale_json.out);
  CHECK(text(field(field(stale_doc.root(), "node"), "address")) == "127.0.0.1:1");
  CHECK_FALSE(field(field(stale_doc.root(), "node"), "reachable").getBoolean());
}

// Needs the node side: rollcalld writes DIR/rollcalld.address and answers StatusRequest.
TEST_CASE(
    "rollcall status: --data-dir of a running node shows its origin with the submitted seq and "
    "asks the node: no parents without --parent, no children",
    "[cli][integration]") {
  TempDir dir;
  NodeProcess node("001", dir / "001", units_2024());
  REQUIRE(node.start());
  auto client = rollcall::NodeClient::connect(node.address(), std::chrono::seconds(5));
  REQUIRE(client.ok());
  for (const auto& outcome : submit_lines(**client, sample_submit_lines())) REQUIRE(outcome.accepted);

  auto out = run_rollcall({"status", "--data-dir", node.data_dir()});
  INFO(out.out << out.err);
  REQUIRE(out.exit_code == 0);
  CHECK_THAT(out.out, Catch::StartsWith("unit 001 Quận Ba Đình, last LSN 5,"));
  CHECK_THAT(out.out, Catch::Contains("node: running at " + node.address()));
  CHECK_THAT(out.out, Catch::Contains("parents: none"));
  CHECK_THAT(out.out, Catch::Contains("children: none connected"));
  CHECK_THAT(out.out, Catch::Contains("alerts: none"));
  CHECK_THAT(out.out, Catch::Contains("Quận Ba Đình    5"));

  auto json = run_rollcall({"status", "--json", "--data-dir", node.data_dir()});
  REQUIRE(json.exit_code == 0);
  JsonDoc doc(json.out);
  check_keys(doc.root());
  auto node_field = field(doc.root(), "node");
  CHECK(text(field(node_field, "address")) == node.address());
  CHECK(field(node_field, "reachable").getBoolean());
  CHECK(field(doc.root(), "parents").getArray().size() == 0);
  CHECK(field(doc.root(), "children").getArray().size() == 0);
  CHECK(number(field(entry(field(doc.root(), "origins"), "origin", "001"), "seq")) == 5);
}

// Needs the node side: rollcalld answers StatusRequest.
TEST_CASE("rollcall status: --node asks a running node directly", "[cli][integration]") {
  TempDir dir;
  NodeProcess node("001", dir / "001", units_2024());
  REQUIRE(node.start());
  auto client = rollcall::NodeClient::connect(node.address(), std::chrono::seconds(5));
  REQUIRE(client.ok());
  for (const auto& outcome : submit_lines(**client, sample_submit_lines())) REQUIRE(outcome.accepted);

  auto out = run_rollcall({"status", "--node", node.address()});
  INFO(out.out << out.err);
  REQUIRE(out.exit_code == 0);
  CHECK_THAT(out.out, Catch::StartsWith("unit 001, last LSN 5,"));
  CHECK_THAT(out.out, Catch::Contains("node: running at " + node.address()));
  CHECK_THAT(out.out, Catch::Contains("parents: none"));

  auto json = run_rollcall({"status", "--json", "--node", node.address()});
  REQUIRE(json.exit_code == 0);
  JsonDoc doc(json.out);
  check_keys(doc.root());
  CHECK(text(field(doc.root(), "unit")) == "001");
  CHECK(number(field(doc.root(), "lastLsn")) == 5);
  CHECK(field(field(doc.root(), "node"), "reachable").getBoolean());
  CHECK(field(doc.root(), "parents").getArray().size() == 0);
  CHECK(number(field(entry(field(doc.root(), "origins"), "origin", "001"), "seq")) == 5);
}

TEST_CASE(
    "rollcall status: a node's parents, children, heads from below and alerts are shown as it "
    "reports them, with the lag behind the connected parent",
    "[cli][integration]") {
  StoppedNode n;
  JsonDoc before(run_rollcall({"status", "--json", "--data-dir", n.data_dir()}).out);
  const std::string incarnation = from_hex(text(field(before.root(), "incarnation")));

  StatusStandIn stand_in([&](rollcall::wire::NodeStatus::Builder s) {
    const int64_t now = micros_now();
    const auto micros_ago = [now](int64_t seconds) { return now - seconds * 1'000'000; };
    s.setUnit("001");
    s.setIncarnation(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(incarnation.data()),
                                         incarnation.size()));
    s.setNow(micros_ago(0));
    s.setLastLsn(12);
    auto parents = s.initParents(2);
    parents[0].setAddress("10.0.0.1:7401");
    parents[0].setRank(0);
    parents[0].setUnit("01");
    parents[0].setConnected(true);
    parents[0].setConnectedSince(micros_ago(7200));
    parents[0].setLastAckAt(micros_ago(3));
    parents[1].setAddress("10.0.0.2:7401");
    parents[1].setRank(1);
    parents[1].setLastError("connection refused");
    parents[1].setTakingBackFrom(41);
    parents[1].setTakingBackNext(61);
    parents[1].setTakingBackTo(100);
    auto fork = s.initForks(1)[0];
    fork.setOrigin("00004");
    fork.setPeer("01");
    fork.setFirstSeq(3);
    fork.setSeenAt(micros_ago(30));
    auto child = s.initChildren(1)[0];
    child.setUnit("00001");
    child.setAddress("10.1.0.5:51234");
    child.setIncarnation(
        capnp::Data::Reader(reinterpret_cast<const capnp::byte*>("\xab\xcd\xef\x01"), 4));
    child.setConnectedSince(micros_ago(600));
    child.setLastMessageAt(micros_ago(1));
    child.setEventsApplied(7);
    child.setEventsDuplicate(2);
    auto origins = s.initOrigins(2);
    origins[0].setOrigin("001");
    origins[0].setSeq(5);
    origins[0].setNewestRecordedAt(micros_ago(60));
    origins[0].setParentSeq(3);
    origins[1].setOrigin("00001");
    origins[1].setSeq(7);
    origins[1].setNewestRecordedAt(micros_ago(5));
    origins[1].setHeadSeq(9);
    origins[1].setHeadRecordedAt(micros_ago(1));
    origins[1].setParentSeq(7);
    auto alert = s.initAlerts(1)[0];
    alert.setAt(micros_ago(30));
    alert.setMessage("fork of origin 00004 at seq 3");
  });
  n.write_address(stand_in.address());

  auto out = run_rollcall({"status", "--data-dir", n.data_dir()});
  INFO(out.out << out.err);
  REQUIRE(out.exit_code == 0);
  CHECK_THAT(out.out, Catch::StartsWith("unit 001 Quận Ba Đình, last LSN 12,"));
  CHECK_THAT(out.out, Catch::Contains("node: running at " + stand_in.address()));
  // Lag behind the connected parent: (5 - 3) of 001 + (7 - 7) of 00001.
  const std::string time = R"(20\d\d-\d\d-\d\d \d\d:\d\d:\d\d)";
  CHECK(has_line(out.out, R"( *0 +10\.0\.0\.1:7401 +01 +since )" + time + " +3s ago +2"));
  CHECK(has_line(out.out, R"( *1 +10\.0\.0\.2:7401 +\? +no +never +- +connection refused)"));
  CHECK(has_line(out.out, "00001 +Phường Phúc Xá +10\\.1\\.0\\.5:51234 +" + time +
                              " +1s ago +7 +2 +abcdef01"));
  // Origin 00001: 7 held, 9 reported below, 2 behind; 001 has no head reported.
  CHECK(has_line(out.out, "00001 +Phường Phúc Xá +7 +9 +2 +" + time + " +5s"));
  CHECK(has_line(out.out, "001 +Quận Ba Đình +5 +" + time + " +1m"));
  CHECK_THAT(out.out, Catch::Contains("UTC  fork of origin 00004 at seq 3"));
  CHECK_THAT(out.out, Catch::Contains("taking back seqs 41..100 of this node's own origin 001 from parent "
                                      "10.0.0.2:7401: 20 of 60 taken; submits are refused until then"));
  CHECK_THAT(out.out, Catch::Contains("FORKS: 1"));
  CHECK(has_line(out.out, "00004 +01 +3 +" + time));

  auto json = run_rollcall({"status", "--json", "--data-dir", n.data_dir()});
  REQUIRE(json.exit_code == 0);
  JsonDoc doc(json.out);
  check_keys(doc.root());
  auto parents = field(doc.root(), "parents").getArray();
  REQUIRE(parents.size() == 2);
  CHECK(number(field(parents[0], "lagEvents")) == 2);
  CHECK(field(parents[1], "lagEvents").isNull());
  CHECK(text(field(parents[1], "lastError")) == "connection refused");
  auto child = entry(field(doc.root(), "children"), "unit", "00001");
  CHECK(number(field(child, "eventsApplied")) == 7);
  CHECK(text(field(child, "incarnation")) == "abcdef01");
  auto ward = entry(field(doc.root(), "origins"), "origin", "00001");
  CHECK(text(field(ward, "name")) == "Phường Phúc Xá");
  CHECK(number(field(ward, "headSeq")) == 9);
  CHECK(number(field(ward, "lagEvents")) == 2);
  CHECK(number(field(ward, "parentSeq")) == 7);
  CHECK(field(parents[0], "takingBack").isNull());
  auto taking_back = field(parents[1], "takingBack");
  CHECK(number(field(taking_back, "from")) == 41);
  CHECK(number(field(taking_back, "next")) == 61);
  CHECK(number(field(taking_back, "to")) == 100);
  auto forks = field(doc.root(), "forks").getArray();
  REQUIRE(forks.size() == 1);
  CHECK(text(field(forks[0], "origin")) == "00004");
  CHECK(text(field(forks[0], "peer")) == "01");
  CHECK(number(field(forks[0], "firstDifferingSeq")) == 3);
  auto alert = field(doc.root(), "alerts").getArray()[0];
  CHECK(text(field(alert, "message")) == "fork of origin 00004 at seq 3");
  CHECK_THAT(text(field(alert, "at")), Catch::EndsWith("Z"));
}

TEST_CASE(
    "rollcall status: a node at the address file that is not the data dir's, or says nothing, "
    "is named in one line and the data dir is still shown",
    "[cli][integration]") {
  StoppedNode n;
  StatusStandIn other([](rollcall::wire::NodeStatus::Builder s) {
    s.setUnit("002");
    s.setIncarnation(
        capnp::Data::Reader(reinterpret_cast<const capnp::byte*>("0123456789abcdef"), 16));
  });
  n.write_address(other.address());
  auto out = run_rollcall({"status", "--data-dir", n.data_dir()});
  CHECK(out.exit_code == 0);
  CHECK_THAT(out.out,
             Catch::Contains("is unit 002") && Catch::Contains("rollcalld.address is stale"));
  CHECK_THAT(out.out, Catch::Contains("Quận Ba Đình    5"));
  auto explicit_node =
      run_rollcall({"status", "--data-dir", n.data_dir(), "--node", other.address()});
  CHECK(explicit_node.exit_code == 2);
  CHECK_THAT(explicit_node.err, Catch::Contains("is unit 002"));

  StatusStandIn silent([](rollcall::wire::NodeStatus::Builder) {}, /*silent=*/true);
  n.write_address(silent.address());
  auto quiet = run_rollcall({"status", "--data-dir", n.data_dir(), "--timeout-ms", "300"});
  CHECK(quiet.exit_code == 0);
  CHECK_THAT(quiet.out,
             Catch::Contains("node: no status (node " + silent.address() +
                             " accepted the connection but gave no answer within 300 ms)"));
  auto quiet_node = run_rollcall({"status", "--node", silent.address(), "--timeout-ms", "300"});
  CHECK(quiet_node.exit_code == 2);
  CHECK(quiet_node.out.empty());
}

TEST_CASE(
    "rollcall status: bad usage, a missing or foreign data dir and an unreachable --node exit 2",
    "[cli][integration]") {
  TempDir dir;
  auto neither = run_rollcall({"status"});
  CHECK(neither.exit_code == 2);
  CHECK_THAT(neither.err,
             Catch::Contains("give --data-dir DIR") && Catch::Contains("--node HOST:PORT"));

  auto missing = run_rollcall({"status", "--data-dir", dir / "nowhere"});
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.err, Catch::Contains("no rollcall data dir at") && Catch::Contains("nowhere"));

  auto foreign = run_rollcall({"status", "--data-dir", dir.path()});
  CHECK(foreign.exit_code == 2);
  CHECK_THAT(foreign.err, Catch::Contains("no rollcall data dir at"));

  auto unreachable = run_rollcall({"status", "--node", "127.0.0.1:1"});
  CHECK(unreachable.exit_code == 2);
  CHECK_THAT(unreachable.err, Catch::Contains("cannot reach node at 127.0.0.1:1"));
  CHECK(unreachable.out.empty());

  auto bad_address = run_rollcall({"status", "--node", "nowhere"});
  CHECK(bad_address.exit_code == 2);
  CHECK_THAT(bad_address.err, Catch::Contains("'nowhere'"));

  auto help = run_rollcall({"status", "--help"});
  CHECK(help.exit_code == 0);
  CHECK_THAT(help.out, Catch::Contains("Usage") && Catch::Contains("--data-dir DIR") &&
                           Catch::Contains("--node HOST:PORT") &&
                           Catch::Contains("rollcalld.address"));
}
