// Security of real rollcalld processes on loopback (docs/security.md): mutual TLS between
// nodes, subtree authorization of every child's event, client access by certificate or token,
// and hostile peers (connection floods, silent and idle peers, garbage handshakes).
//
// Certificates are made in-process with cli/cert_maker.h, as `rollcall certs` makes them.
#include <catch2/catch.hpp>

#include <atomic>
#include <csignal>
#include <ctime>
#include <thread>
#include <variant>

#include <asio.hpp>
#include <capnp/message.h>
#include <httplib.h>

#include "cli/cert_maker.h"
#include "cli/ports.h"
#include "engine/capnp_guard.h"
#include "engine/event_json.h"
#include "engine/frame_codec.h"
#include "engine/protocol.h"
#include "net/channel.h"
#include "tests/support/node_harness.h"
#include "tests/support/test_dirs.h"
#include "tests/support/tree_checks.h"

using namespace rollcall;
using namespace rollcall::testing;
using namespace std::chrono_literals;

namespace {

const UnitCode kWardA = UnitCode::trusted("00001");
const UnitCode kWardB = UnitCode::trusted("00004");
const UnitCode kDistrict = UnitCode::trusted("001");

// A CA, the node certificates of `units` and two clients (writer "ops", reader "viewer") in
// dir/pki; another CA's certificate for ward 00004 and an expired one of this CA.
struct Pki {
  std::string dir;

  Pki(const std::string& root, const std::vector<std::string>& units) : dir(root + "/pki") {
    std::filesystem::create_directories(dir);
    const cli::Validity now{std::time(nullptr) - 3600, 30};
    auto ca = cli::make_ca("test CA", now);
    REQUIRE(ca.ok());
    REQUIRE(ca->write(dir + "/ca.crt", dir + "/ca.key").ok());
    auto leaf = [&](const cli::Credential& issuer, CertRole role, const std::string& name, const std::string& file,
                    const cli::Validity& validity) {
      auto made = cli::make_leaf(issuer, role, name, validity);
      REQUIRE(made.ok());
      REQUIRE(made->write(dir + "/" + file + ".crt", dir + "/" + file + ".key").ok());
    };
    for (const auto& unit : units) leaf(*ca, CertRole::kNode, unit, unit, now);
    leaf(*ca, CertRole::kWriter, "ops", "client-ops", now);
    leaf(*ca, CertRole::kReader, "viewer", "client-viewer", now);
    leaf(*ca, CertRole::kNode, "00004", "expired-00004", cli::Validity{1577836800, 1});  // 2020-01-01, one day
    auto other = cli::make_ca("another CA", now);
    REQUIRE(other.ok());
    leaf(*other, CertRole::kNode, "00004", "foreign-00004", now);
  }

  TlsFiles files(const std::string& name) const {
    return TlsFiles{dir + "/" + name + ".crt", dir + "/" + name + ".key", dir + "/ca.crt"};
  }
  std::vector<std::string> node_args(const std::string& unit) const {
    const auto f = files(unit);
    return {"--tls-cert", f.cert, "--tls-key", f.key, "--tls-ca", f.ca};
  }
  ClientCredentials client(const std::string& name) const {
    ClientCredentials c;
    c.tls = name.empty() ? TlsFiles{"", "", dir + "/ca.crt"} : files(name);
    return c;
  }
};

std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

uint16_t port_of(const NodeProcess& node) { return static_cast<uint16_t>(std::stoi(node.address().substr(10))); }

// A hand-driven peer: what a stolen or misconfigured machine could send. Every wait is bounded.
class RawPeer {
 public:
  RawPeer(uint16_t port, std::shared_ptr<asio::ssl::context> tls)
      : channel_(asio::ip::tcp::socket(io_), std::move(tls)) {
    asio::error_code ec;
    channel_.socket().connect({asio::ip::make_address("127.0.0.1"), port}, ec);
    connected_ = !ec;
  }

  bool connected() const { return connected_; }

  // The TLS handshake: "" or OpenSSL's reason.
  std::string handshake() {
    std::optional<asio::error_code> result;
    channel_.async_handshake(TlsSide::kClient, [&](asio::error_code ec) { result = ec; });
    run_until([&] { return result.has_value(); }, 5s);
    if (!result) return "no handshake within 5 s";
    return *result ? channel_.handshake_error(*result) : "";
  }

  void send(capnp::MessageBuilder& message) {
    auto frame = encode_frame(message);
    asio::error_code ec;
    channel_.write(asio::buffer(frame), ec);
  }
  void send_bytes(const std::vector<uint8_t>& bytes) {
    asio::error_code ec;
    asio::write(channel_.socket(), asio::buffer(bytes), ec);
  }

  // The next message, or why none came: "closed" (with the read's reason) or "silent".
  std::variant<std::unique_ptr<Frame>, std::string> receive(std::chrono::milliseconds timeout = 10s) {
    for (;;) {
      if (auto frame = decoder_.next()) return frame;
      std::optional<std::pair<asio::error_code, size_t>> got;
      channel_.async_read_some(asio::buffer(buffer_), [&](asio::error_code ec, size_t n) { got.emplace(ec, n); });
      if (!run_until([&] { return got.has_value(); }, timeout)) {
        channel_.close();
        io_.restart();
        io_.run();
        return std::string("silent");
      }
      if (got->first) return "closed: " + got->first.message();
      if (!decoder_.feed(buffer_.data(), got->second).ok()) return std::string("bad frame from the node");
    }
  }

  // The error the node closed with ("code: message"), skipping other messages; or why none.
  std::string error_reply() {
    for (;;) {
      auto got = receive();
      if (auto* why = std::get_if<std::string>(&got)) return *why;
      std::string text;
      auto& frame = std::get<std::unique_ptr<Frame>>(got);
      auto read = guard_capnp("reply", [&]() -> Status {
        auto message = frame->root<wire::Message>();
        if (message.isError())
          text = std::string(error_code_name(message.getError().getCode())) + ": " +
                 message.getError().getMessage().cStr();
        return ok_status();
      });
      if (!read.ok()) return read.error().message();
      if (!text.empty()) return text;
    }
  }

 private:
  template <typename Done>
  bool run_until(Done done, std::chrono::milliseconds timeout) {
    io_.restart();
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done() && std::chrono::steady_clock::now() < deadline) io_.run_for(20ms);
    return done();
  }

  asio::io_context io_;
  Channel channel_;
  bool connected_ = false;
  FrameDecoder decoder_;
  std::array<uint8_t, 64 * 1024> buffer_;
};

std::shared_ptr<asio::ssl::context> client_context(const TlsFiles& files) {
  auto made = make_tls_context(files, TlsSide::kClient);
  REQUIRE(made.ok());
  return *made;
}

void send_hello(RawPeer& peer, const std::string& unit, wire::PeerRole role) {
  capnp::MallocMessageBuilder builder;
  fill_hello(builder.initRoot<wire::Message>().initHello(), unit, role, std::string(16, '\x5a'));
  peer.send(builder);
}

// A child session as unit `unit` (whose certificate `tls` holds) to the node at `port`: the
// error the node closed it with after a hello and `batch`.
std::string child_session(uint16_t port, const std::shared_ptr<asio::ssl::context>& tls, const std::string& unit,
                          capnp::MessageBuilder* batch) {
  RawPeer peer(port, tls);
  if (!peer.connected()) return "cannot connect";
  if (auto failed = peer.handshake(); !failed.empty()) return "handshake: " + failed;
  send_hello(peer, unit, wire::PeerRole::CHILD);
  if (batch) peer.send(*batch);
  return peer.error_reply();
}

// `count` events from ward 00007's link: `lead` of its own origin, valid, then foreign ones:
// a forged origin (another ward's), a unit outside the origin's subtree, a unit of another
// district, in turn.
void fill_rogue_batch(capnp::MallocMessageBuilder& builder, uint64_t first_lsn, size_t lead, size_t count,
                      uint64_t salt) {
  static const EventJson json;
  auto batch = builder.initRoot<wire::Message>().initEventBatch();
  batch.setFirstLsn(first_lsn);
  batch.setLastLsn(first_lsn + count - 1);
  auto list = batch.initEvents(static_cast<unsigned>(count));
  static const char* kForeign[][2] = {{"00001", "00001"}, {"00007", "00001"}, {"00007", "00037"}};
  for (unsigned i = 0; i < count; ++i) {
    const bool own = i < lead;
    const char* origin = own ? "00007" : kForeign[(i + salt) % 3][0];
    const char* unit = own ? "00007" : kForeign[(i + salt) % 3][1];
    const std::string line = std::string(R"({"origin":")") + origin + R"(","seq":)" + std::to_string(i + 1) +
                             R"(,"recordedAt":"2024-03-01T08:00:00Z","unit":")" + unit +
                             R"(","effectiveDate":"2024-03-01","activityReported":{"kind":"forums","count":)" +
                             std::to_string(i + 1) + R"(,"participants":3}})";
    capnp::MallocMessageBuilder one;
    REQUIRE(json.parse(line, one.initRoot<schema::Event>()).ok());
    list.setWithCaveats(i, one.getRoot<schema::Event>().asReader());
  }
}

std::string admit(const std::string& unit, int n) {
  return R"({"unit":")" + unit + R"(","effectiveDate":"2024-03-01","memberAdmitted":{"memberId":")" + unit + "-" +
         std::to_string(100000 + n) + R"(","fullName":"Nguyễn Văn An","birthDate":"2001-05-02"}})";
}

}  // namespace

TEST_CASE("rollcalld security: a rogue ward's 10,000 foreign events are all refused, nothing of them is "
          "written and the legitimate wards keep syncing over TLS",
          "[node][integration][security]") {
  TempDir dir;
  Pki pki(dir.path(), {"001", "00001", "00004", "00007"});
  NodeProcess district("001", dir / "district", units_2024(), pki.node_args("001"));
  REQUIRE(district.start());
  NodeProcess ward_a("00001", dir / "a", units_2024(), with(pki.node_args("00001"), {"--parent", district.address()}));
  NodeProcess ward_b("00004", dir / "b", units_2024(), with(pki.node_args("00004"), {"--parent", district.address()}));
  REQUIRE(ward_a.start());
  REQUIRE(ward_b.start());

  // The legitimate wards take submits (through a writer certificate) the whole time.
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> accepted_a{0}, accepted_b{0};
  auto submitter = [&](const NodeProcess& ward, const std::string& unit, std::atomic<uint64_t>& accepted) {
    auto client = NodeClient::connect(ward.address(), 5s, pki.client("client-ops"));
    if (!client.ok()) return;
    for (int n = 0; !stop && n < 400; n += 10) {
      std::vector<std::string> lines;
      for (int k = n; k < n + 10; ++k) lines.push_back(admit(unit, k));
      for (const auto& o : submit_lines(**client, lines)) accepted += o.accepted;
      std::this_thread::sleep_for(20ms);
    }
  };
  std::thread submit_a(submitter, std::cref(ward_a), "00001", std::ref(accepted_a));
  std::thread submit_b(submitter, std::cref(ward_b), "00004", std::ref(accepted_b));

  // Ward 00007's certificate is valid and its unit is in the district's subtree: its sessions
  // are taken, and each batch carrying foreign events is refused whole and the session closed.
  const auto rogue = client_context(pki.files("00007"));
  size_t refused = 0, foreign_sent = 0;
  std::vector<std::string> unexpected;
  for (uint64_t round = 0; foreign_sent < 10'000; ++round) {
    capnp::MallocMessageBuilder batch;
    const size_t lead = round % 5;  // valid events of its own ahead of the foreign ones
    fill_rogue_batch(batch, 1, lead, lead + 100, round);
    foreign_sent += 100;
    const std::string error = child_session(port_of(district), rogue, "00007", &batch);
    if (error.rfind("notInSubtree: ", 0) == 0 && error.find("not from the subtree of 00007") != std::string::npos)
      ++refused;
    else if (unexpected.size() < 5)
      unexpected.push_back(error);
  }
  stop = true;
  submit_a.join();
  submit_b.join();
  INFO("unexpected answers: " << (unexpected.empty() ? "-" : unexpected.front()));
  CHECK(refused == 100);
  CHECK(accepted_a > 0);
  CHECK(accepted_b > 0);

  // The district holds every accepted event of the wards exactly once and none of 00007's.
  CHECK(wait_for_watermarks(district.data_dir(), {{kWardA, accepted_a}, {kWardB, accepted_b}}, 30s));
  CHECK(watermark_of(district.data_dir(), UnitCode::trusted("00007")) == 0);
  CHECK(district.stop() == 0);
  const auto problems = exactly_once_problems(
      district.data_dir(), {{kWardA, accepted_a}, {kWardB, accepted_b}},
      {{kWardA, ward_a.data_dir()}, {kWardB, ward_b.data_dir()}});
  for (const auto& p : problems) UNSCOPED_INFO(p);
  CHECK(problems.empty());
  // Each refusal is logged with the peer's certificate identity and the reason.
  const std::string log = district.log();
  CHECK_THAT(log, Catch::Contains("(node 00007): closing child session") &&
                      Catch::Contains("is not from the subtree of 00007"));
}

TEST_CASE("rollcalld security: a child without a certificate, with another CA's, with an expired one, for a unit "
          "outside the subtree or naming another unit in its hello is refused",
          "[node][integration][security]") {
  TempDir dir;
  Pki pki(dir.path(), {"001", "00001", "00004", "00037"});
  NodeProcess district("001", dir / "district", units_2024(), pki.node_args("001"));
  REQUIRE(district.start());
  const uint16_t port = port_of(district);

  CHECK_THAT(child_session(port, client_context({"", "", pki.dir + "/ca.crt"}), "00004", nullptr),
             Catch::Contains("unauthorized: a child node must show a node certificate"));
  // A certificate the district cannot verify ends the connection in TLS, before any hello.
  for (const std::string name : {"foreign-00004", "expired-00004"}) {
    INFO(name);
    const std::string answer = child_session(port, client_context(pki.files(name)), "00004", nullptr);
    CHECK(answer.rfind("closed", 0) == 0);
  }
  CHECK_THAT(child_session(port, client_context(pki.files("00037")), "00037", nullptr),
             Catch::Contains("notInSubtree: unit 00037 is not below this node's unit 001"));
  CHECK_THAT(child_session(port, client_context(pki.files("00004")), "00001", nullptr),
             Catch::Contains("unauthorized: the hello says unit '00001' but the certificate names unit 00004"));
  // The real ward with the right certificate is taken.
  NodeProcess ward("00004", dir / "b", units_2024(), with(pki.node_args("00004"), {"--parent", district.address()}));
  REQUIRE(ward.start());
  auto client = NodeClient::connect(ward.address(), 5s, pki.client("client-ops"));
  REQUIRE(client.ok());
  REQUIRE(submit_lines(**client, {admit("00004", 1)})[0].accepted);
  CHECK(wait_for_watermarks(district.data_dir(), {{kWardB, 1}}, 20s));
  CHECK(district.stop() == 0);
  const std::string log = district.log();
  CHECK_THAT(log, Catch::Contains("TLS handshake failed"));
  CHECK(watermark_of(district.data_dir(), UnitCode::trusted("00037")) == 0);
}

TEST_CASE("rollcalld security: writer certificates and write tokens may submit, reader certificates and read "
          "tokens only read, anything else is refused",
          "[node][integration][security]") {
  TempDir dir;
  Pki pki(dir.path(), {"001"});
  const std::string write_token = "w-0123456789abcdef0123", read_token = "r-0123456789abcdef0123";
  const std::string config = write_lines(dir, "node.toml", {"write_tokens = [\"" + write_token + "\"]",
                                                            "read_tokens = [\"" + read_token + "\"]"});
  NodeProcess node("001", dir / "node", units_2024(), with(pki.node_args("001"), {"--config", config}));
  REQUIRE(node.start());
  auto token_client = [&](const std::string& token) {
    ClientCredentials c = pki.client("");
    c.token_file = write_lines(dir, "token-" + std::to_string(token.size()) + token.substr(0, 1), {token});
    return c;
  };
  int n = 0;
  auto submit_as = [&](const ClientCredentials& creds) -> std::string {
    auto client = NodeClient::connect(node.address(), 5s, creds);
    if (!client.ok()) return "connect: " + client.error().message();
    try {  // submit_lines throws the node's error
      auto outcomes = submit_lines(**client, {admit("00001", ++n)});
      return outcomes.size() == 1 && outcomes[0].accepted ? "accepted" : "rejected: " + outcomes.at(0).message;
    } catch (const std::exception& e) {
      return e.what();
    }
  };
  CHECK(submit_as(pki.client("client-ops")) == "accepted");
  CHECK(submit_as(token_client(write_token)) == "accepted");
  CHECK_THAT(submit_as(pki.client("client-viewer")), Catch::Contains("unauthorized: read-only access"));
  CHECK_THAT(submit_as(token_client(read_token)), Catch::Contains("unauthorized: read-only access"));
  CHECK_THAT(submit_as(token_client("x-not-a-token-of-this-node")),
             Catch::Contains("the client's token is not one of this node's tokens"));
  CHECK_THAT(submit_as(pki.client("")), Catch::Contains("a client must show a certificate"));
  CHECK_THAT(submit_as(ClientCredentials{}), Catch::Contains("closed the connection"));  // plain TCP

  // Read access answers status; the CLI takes the same files as flags.
  auto status = run_rollcall({"status", "--node", node.address(), "--tls-ca", pki.dir + "/ca.crt", "--tls-cert",
                              pki.files("client-viewer").cert, "--tls-key", pki.files("client-viewer").key});
  CHECK(status.exit_code == 0);
  CHECK(node.stop() == 0);
  CHECK(watermark_of(node.data_dir(), kDistrict) == 2);
}

TEST_CASE("rollcalld security: without TLS files and without --plaintext, with both, or with another unit's "
          "certificate rollcalld exits 2 naming the problem",
          "[node][integration][security]") {
  TempDir dir;
  Pki pki(dir.path(), {"001", "002"});
  auto run = [&](std::vector<std::string> more) {
    return run_command(with({rollcalld_path(), "--unit", "001", "--data-dir", dir / "d", "--units", units_2024(),
                             "--listen", "127.0.0.1:0"},
                            more));
  };
  auto none = run({});
  CHECK(none.exit_code == 2);
  CHECK_THAT(none.err, Catch::Contains("--tls-cert, --tls-key and --tls-ca") && Catch::Contains("--plaintext"));
  auto both = run(with(pki.node_args("001"), {"--plaintext"}));
  CHECK(both.exit_code == 2);
  CHECK_THAT(both.err, Catch::Contains("choose one"));
  auto other = run(pki.node_args("002"));
  CHECK(other.exit_code == 2);
  CHECK_THAT(other.err, Catch::Contains("names node 002, not node 001"));
}

TEST_CASE("rollcalld security: a flood from one address meets the per-address limit, silent and idle peers and a "
          "garbage handshake are cut off, and the node keeps serving",
          "[node][integration][security]") {
  TempDir dir;
  Pki pki(dir.path(), {"001"});
  const std::string config = write_lines(dir, "node.toml", {"max_connections_per_address = 4",
                                                            "handshake_timeout_s = 1", "idle_timeout_s = 1"});
  NodeProcess node("001", dir / "node", units_2024(), with(pki.node_args("001"), {"--config", config}));
  REQUIRE(node.start());
  const uint16_t port = port_of(node);

  // Four silent TCP peers hold the address's connections; a fifth is closed at once.
  std::vector<std::unique_ptr<RawPeer>> silent;
  for (int i = 0; i < 4; ++i) {
    silent.push_back(std::make_unique<RawPeer>(port, nullptr));
    REQUIRE(silent.back()->connected());
  }
  std::this_thread::sleep_for(200ms);
  RawPeer fifth(port, nullptr);
  CHECK(std::get<std::string>(fifth.receive(3s)).rfind("closed", 0) == 0);
  // The silent ones are closed at the handshake timeout (1 s), not left to hold the slots.
  for (auto& peer : silent) CHECK(std::get<std::string>(peer->receive(5s)).rfind("closed", 0) == 0);

  // Garbage where a TLS ClientHello belongs.
  RawPeer garbage(port, nullptr);
  garbage.send_bytes(std::vector<uint8_t>(512, 0x16));
  CHECK(std::get<std::string>(garbage.receive(5s)).rfind("closed", 0) == 0);

  // A client that says hello and then nothing is closed at the idle timeout, with the reason.
  auto idle = NodeClient::connect(node.address(), 5s, pki.client("client-ops"));
  REQUIRE(idle.ok());
  auto cut = (*idle)->receive();
  REQUIRE(!cut.ok());
  CHECK_THAT(cut.error().message(), Catch::Contains("timeout: no request within the idle timeout"));

  // And the node still serves.
  auto client = NodeClient::connect(node.address(), 5s, pki.client("client-ops"));
  REQUIRE(client.ok());
  CHECK(submit_lines(**client, {admit("00001", 1)})[0].accepted);
  CHECK(node.stop() == 0);
  CHECK_THAT(node.log(), Catch::Contains("no TLS handshake within the handshake timeout"));
}

TEST_CASE("rollcalld security: with TLS the HTTP listener serves HTTPS to certificates of the node's CA and to "
          "read or write tokens, and refuses anyone else",
          "[node][integration][security][http]") {
  // The refused handshakes below close the connection under httplib's SSL_write: an error to
  // the test, not a signal.
  std::signal(SIGPIPE, SIG_IGN);
  TempDir dir;
  Pki pki(dir.path(), {"001"});
  const std::string write_token = "w-0123456789abcdef0123", read_token = "r-0123456789abcdef0123";
  const std::string config = write_lines(dir, "node.toml", {"write_tokens = [\"" + write_token + "\"]",
                                                            "read_tokens = [\"" + read_token + "\"]"});
  const uint16_t port = cli::free_port_below_ephemeral();
  NodeProcess node("001", dir / "node", units_2024(),
                   with(pki.node_args("001"), {"--config", config, "--http", "127.0.0.1:" + std::to_string(port)}));
  REQUIRE(node.start());
  // The status code of GET /api/status as `name`'s certificate (none: "") with `token`.
  auto get = [&](const std::string& name, const std::string& token) {
    std::unique_ptr<httplib::SSLClient> client =
        name.empty() ? std::make_unique<httplib::SSLClient>("127.0.0.1", port)
                     : std::make_unique<httplib::SSLClient>("127.0.0.1", port, pki.files(name).cert, pki.files(name).key);
    client->set_ca_cert_path((pki.dir + "/ca.crt").c_str());
    client->enable_server_certificate_verification(false);  // node certificates name a unit, not a host
    client->set_connection_timeout(2s);
    client->set_read_timeout(5s);
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    auto response = client->Get("/api/status", headers);
    return response ? response->status : -1;
  };
  INFO(node.log());
  CHECK(get("client-viewer", "") == 200);
  CHECK(get("client-ops", "") == 200);
  CHECK(get("", read_token) == 200);
  CHECK(get("", write_token) == 200);
  CHECK(get("", "") == 401);
  CHECK(get("", "x-not-a-token-of-this-node") == 401);
  CHECK(get("foreign-00004", "") == -1);  // another CA's certificate: the handshake fails
  CHECK(http_get(port, "/metrics").status == -1);  // plain HTTP to the HTTPS port
  CHECK(node.stop() == 0);
}
