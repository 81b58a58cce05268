// Tests of LinkProxy (cli/link_proxy.h) against a small echo server in this process: forwarding, cut (existing
// connections end, new connects are refused), heal on the same port, the counters and times, an
// unreachable target, added delay, throttle, blackhole, dropped and reset connections, and
// destruction with live connections.
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <asio.hpp>

#include "cli/link_proxy.h"

using rollcall::cli::LinkProxy;
using asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

constexpr auto kTimeout = 5s;

// Echoes every byte back, on 127.0.0.1 with an OS-picked port, on its own thread.
class EchoServer {
 public:
  EchoServer() : acceptor_(io_, tcp::endpoint(asio::ip::address_v4::loopback(), 0)) {
    port_ = acceptor_.local_endpoint().port();
    accept_next();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~EchoServer() {
    asio::post(io_, [this] {
      asio::error_code ignored;
      acceptor_.close(ignored);
      for (auto& socket : sockets_) socket->close(ignored);
      io_.stop();
    });
    thread_.join();
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  void accept_next() {
    acceptor_.async_accept([this](asio::error_code ec, tcp::socket socket) {
      if (ec) return;
      auto shared = std::make_shared<tcp::socket>(std::move(socket));
      sockets_.insert(shared);
      echo(shared, std::make_shared<std::vector<char>>(4096));
      accept_next();
    });
  }
  void echo(std::shared_ptr<tcp::socket> socket, std::shared_ptr<std::vector<char>> buffer) {
    socket->async_read_some(asio::buffer(*buffer), [this, socket, buffer](asio::error_code ec, size_t n) {
      if (ec) {
        sockets_.erase(socket);
        return;
      }
      asio::async_write(*socket, asio::buffer(buffer->data(), n), [this, socket, buffer](asio::error_code e, size_t) {
        if (e) {
          sockets_.erase(socket);
          return;
        }
        echo(socket, buffer);
      });
    });
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::set<std::shared_ptr<tcp::socket>> sockets_;
  std::thread thread_;
};

// A client whose every operation has a deadline (a blocking read could hang the test forever).
class Client {
 public:
  // The connect's error (asio::error::timed_out when it did not finish in time).
  asio::error_code connect(const std::string& address) {
    const auto colon = address.rfind(':');
    const tcp::endpoint endpoint(asio::ip::make_address(address.substr(0, colon)),
                                 static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
    asio::error_code result = asio::error::timed_out;
    socket_.async_connect(endpoint, [&](asio::error_code ec) { result = ec; });
    run_with_deadline();
    return result;
  }

  // Sends all of `text` (it stays alive while the write runs).
  asio::error_code send(const std::string& text) {
    asio::error_code result = asio::error::timed_out;
    asio::async_write(socket_, asio::buffer(text), [&](asio::error_code ec, size_t) { result = ec; });
    run_with_deadline();
    return result;
  }

  // Reads exactly `size` bytes; the error (eof when the peer closed, timed_out) and what was read.
  asio::error_code receive(size_t size, std::string& out) {
    out.assign(size, '\0');
    asio::error_code result = asio::error::timed_out;
    size_t got = 0;
    asio::async_read(socket_, asio::buffer(out), [&](asio::error_code ec, size_t n) {
      result = ec;
      got = n;
    });
    run_with_deadline();
    out.resize(got);
    return result;
  }

  // Sends `text` while reading its echo (so a long text cannot fill every buffer on the way).
  std::string echo(const std::string& text) {
    std::string out(text.size(), '\0');
    asio::error_code write_ec = asio::error::timed_out;
    asio::error_code read_ec = asio::error::timed_out;
    size_t got = 0;
    asio::async_write(socket_, asio::buffer(text), [&](asio::error_code ec, size_t) { write_ec = ec; });
    asio::async_read(socket_, asio::buffer(out), [&](asio::error_code ec, size_t n) {
      read_ec = ec;
      got = n;
    });
    run_with_deadline();
    INFO("echo: write " << write_ec.message() << ", read " << read_ec.message());
    CHECK(!write_ec);
    CHECK(!read_ec);
    out.resize(got);
    return out;
  }

 private:
  void run_with_deadline() {
    io_.restart();
    io_.run_for(kTimeout);
    if (!io_.stopped()) {  // timed out: abort the operation and let its handler run
      asio::error_code ignored;
      socket_.cancel(ignored);
      io_.restart();
      io_.run();
    }
  }

  asio::io_context io_;
  tcp::socket socket_{io_};
};

// Polls `condition` (counters move on the proxy's thread just after the bytes do).
template <class Condition>
bool eventually(Condition condition) {
  const auto deadline = std::chrono::steady_clock::now() + kTimeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// A loopback port that nothing listens on (bound once, then released).
std::string unused_address() {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  return "127.0.0.1:" + std::to_string(acceptor.local_endpoint().port());
}

}  // namespace

TEST_CASE("LinkProxy: forwards both ways and counts bytes", "[proxy]") {
  EchoServer server;
  LinkProxy proxy(server.address());
  CHECK(proxy.address() == "127.0.0.1:" + std::to_string(proxy.port()));
  CHECK(proxy.target() == server.address());
  CHECK_FALSE(proxy.is_cut());

  Client client;
  REQUIRE(!client.connect(proxy.address()));
  CHECK(client.echo("hello") == "hello");
  const std::string big(300 * 1024, 'x');  // several 64 KiB chunks each way
  CHECK(client.echo(big) == big);

  CHECK(eventually([&] { return proxy.bytes_up() == 5 + big.size() && proxy.bytes_down() == 5 + big.size(); }));
  CHECK(proxy.connections_accepted() == 1);
  CHECK(proxy.live_connections() == 1);
  // No heal yet: the "since heal" times stay empty.
  CHECK_FALSE(proxy.last_heal());
  CHECK_FALSE(proxy.first_connection_since_heal());
  CHECK_FALSE(proxy.first_byte_since_heal());

  Client second;
  REQUIRE(!second.connect(proxy.address()));
  CHECK(second.echo("two") == "two");
  CHECK(proxy.connections_accepted() == 2);
  CHECK(proxy.live_connections() == 2);
}

TEST_CASE("LinkProxy: cut ends connections and refuses new ones, heal accepts again", "[proxy]") {
  EchoServer server;
  LinkProxy proxy(server.address());
  const uint16_t port = proxy.port();

  Client before_cut;
  REQUIRE(!before_cut.connect(proxy.address()));
  CHECK(before_cut.echo("ping") == "ping");

  proxy.cut();
  CHECK(proxy.is_cut());
  CHECK(proxy.live_connections() == 0);  // cut() returns once every connection is closed

  // The existing connection ends (EOF or reset) promptly: not a timeout.
  std::string out;
  const auto ended = before_cut.receive(1, out);
  INFO("read after cut: " << ended.message());
  CHECK((ended == asio::error::eof || ended == asio::error::connection_reset));
  CHECK(out.empty());

  // New connects are refused, not left hanging.
  {
    Client refused;
    CHECK(refused.connect(proxy.address()) == asio::error::connection_refused);
  }
  proxy.cut();  // cutting twice is harmless
  CHECK(proxy.connections_accepted() == 1);

  const auto before_heal = std::chrono::steady_clock::now();
  proxy.heal();
  CHECK_FALSE(proxy.is_cut());
  CHECK(proxy.port() == port);
  REQUIRE(proxy.last_heal());
  CHECK(*proxy.last_heal() >= before_heal);
  CHECK_FALSE(proxy.first_connection_since_heal());
  CHECK_FALSE(proxy.first_byte_since_heal());

  const uint64_t up_before = proxy.bytes_up();
  Client after_heal;
  REQUIRE(!after_heal.connect("127.0.0.1:" + std::to_string(port)));
  CHECK(after_heal.echo("again") == "again");
  REQUIRE(proxy.first_connection_since_heal());
  REQUIRE(proxy.first_byte_since_heal());
  CHECK(*proxy.first_connection_since_heal() >= *proxy.last_heal());
  CHECK(*proxy.first_byte_since_heal() >= *proxy.first_connection_since_heal());
  CHECK(eventually([&] { return proxy.bytes_up() == up_before + 5; }));
  CHECK(proxy.connections_accepted() == 2);
  CHECK(proxy.live_connections() == 1);

  // A second cycle works the same way.
  proxy.cut();
  CHECK(after_heal.receive(1, out));
  proxy.heal();
  proxy.heal();  // healing a listening proxy only restarts the clock
  Client third;
  REQUIRE(!third.connect(proxy.address()));
  CHECK(third.echo("three") == "three");
  CHECK(proxy.first_connection_since_heal());
}

TEST_CASE("LinkProxy: a refusing target closes the client", "[proxy]") {
  LinkProxy proxy(unused_address());
  Client client;
  REQUIRE(!client.connect(proxy.address()));
  std::string out;
  const auto ec = client.receive(1, out);
  INFO("read: " << ec.message());
  CHECK((ec == asio::error::eof || ec == asio::error::connection_reset));
  CHECK(proxy.connections_accepted() == 1);
  CHECK(eventually([&] { return proxy.live_connections() == 0; }));
}

TEST_CASE("LinkProxy: set_delay adds latency per chunk", "[proxy]") {
  EchoServer server;
  LinkProxy proxy(server.address());
  Client client;
  REQUIRE(!client.connect(proxy.address()));
  CHECK(client.echo("warm") == "warm");

  proxy.set_delay(300ms);
  auto start = std::chrono::steady_clock::now();
  CHECK(client.echo("slow") == "slow");
  CHECK(std::chrono::steady_clock::now() - start >= 600ms);  // once up, once down

  proxy.set_delay(0ms);
  start = std::chrono::steady_clock::now();
  CHECK(client.echo("fast") == "fast");
  CHECK(std::chrono::steady_clock::now() - start < 300ms);
}

TEST_CASE("LinkProxy: set_throttle caps the bytes a second", "[proxy]") {
  EchoServer server;
  LinkProxy proxy(server.address());
  Client client;
  REQUIRE(!client.connect(proxy.address()));
  proxy.set_throttle(100 * 1024);  // 100 KiB/s each way
  const std::string text(40 * 1024, 't');
  auto start = std::chrono::steady_clock::now();
  CHECK(client.echo(text) == text);
  // 40 KiB up at 100 KiB/s is 0.4 s, pipelined with the way down: at least 0.35 s, not 64 KiB at once.
  CHECK(std::chrono::steady_clock::now() - start >= 350ms);
  proxy.clear_faults();
  start = std::chrono::steady_clock::now();
  CHECK(client.echo(text) == text);
  CHECK(std::chrono::steady_clock::now() - start < 300ms);
}

TEST_CASE("LinkProxy: a blackhole holds live and new connections without closing them, and lets go of "
          "what it held", "[proxy]") {
  EchoServer server;
  LinkProxy proxy(server.address());
  Client live;
  REQUIRE(!live.connect(proxy.address()));
  CHECK(live.echo("before") == "before");

  proxy.set_blackhole(true);
  CHECK(proxy.blackholed());
  REQUIRE(!live.send("held"));
  std::string out;
  // Nothing comes back and nothing closes: the read is still waiting at the deadline.
  CHECK(live.receive(4, out) == asio::error::operation_aborted);
  CHECK(proxy.live_connections() == 1);
  Client waiting;
  REQUIRE(!waiting.connect(proxy.address()));  // accepted, but not connected to the target
  REQUIRE(!waiting.send("new"));

  proxy.set_blackhole(false);
  CHECK(!live.receive(4, out));
  CHECK(out == "held");  // held, not lost
  CHECK(!waiting.receive(3, out));
  CHECK(out == "new");
  CHECK(live.echo("after") == "after");
}

TEST_CASE("LinkProxy: drop_connections closes with FIN, reset_connections with RST, and both keep "
          "accepting", "[proxy]") {
  EchoServer server;
  LinkProxy proxy(server.address());
  std::string out;
  {
    Client client;
    REQUIRE(!client.connect(proxy.address()));
    CHECK(client.echo("one") == "one");
    proxy.drop_connections();
    CHECK(proxy.live_connections() == 0);
    CHECK(client.receive(1, out) == asio::error::eof);
  }
  {
    Client client;
    REQUIRE(!client.connect(proxy.address()));
    CHECK(client.echo("two") == "two");
    proxy.reset_connections();
    CHECK(proxy.live_connections() == 0);
    CHECK(client.receive(1, out) == asio::error::connection_reset);
  }
  CHECK_FALSE(proxy.is_cut());
  Client after;
  REQUIRE(!after.connect(proxy.address()));
  CHECK(after.echo("three") == "three");
  CHECK(proxy.connections_accepted() == 3);
}

TEST_CASE("LinkProxy: rejects a non-loopback target", "[proxy]") {
  CHECK_THROWS_AS(LinkProxy("10.1.2.3:7401"), std::invalid_argument);
  CHECK_THROWS_AS(LinkProxy("no-port"), std::invalid_argument);
}

TEST_CASE("LinkProxy: destruction closes live connections", "[proxy]") {
  EchoServer server;
  Client client;
  Client pending;
  {
    LinkProxy proxy(server.address());
    REQUIRE(!client.connect(proxy.address()));
    CHECK(client.echo("bye") == "bye");
    proxy.set_delay(1000ms);
    CHECK(!client.send("in flight"));  // waiting in a delay timer when the proxy goes
    std::this_thread::sleep_for(20ms);
    REQUIRE(!pending.connect(proxy.address()));
  }
  std::string out;
  const auto ec = client.receive(1, out);
  INFO("read: " << ec.message());
  CHECK((ec == asio::error::eof || ec == asio::error::connection_reset));
  CHECK(pending.receive(1, out));
}
