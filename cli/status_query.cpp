// ask_node_status: a client connection that lives for one question, every step under one
// deadline (asio's run_one_until), closing the socket when the deadline passes.
#include "cli/status_query.h"

#include <array>
#include <memory>

#include <asio.hpp>

#include "engine/capnp_guard.h"
#include "engine/frame_codec.h"
#include "engine/protocol.h"
#include "net/channel.h"
#include "schema/wire.capnp.h"

namespace rollcall::cli {
namespace {

using Clock = std::chrono::steady_clock;

class StatusExchange {
 public:
  StatusExchange(std::string address, std::chrono::milliseconds timeout, std::shared_ptr<asio::ssl::context> tls)
      : address_(std::move(address)),
        timeout_(timeout),
        deadline_(Clock::now() + timeout),
        channel_(asio::ip::tcp::socket(io_), std::move(tls)) {}

  Status connect(const HostPort& to) {
    bool done = false;
    asio::error_code ec;
    asio::ip::tcp::resolver::results_type endpoints;
    resolver_.async_resolve(to.host, std::to_string(to.port),
                            [&](asio::error_code e, asio::ip::tcp::resolver::results_type found) {
                              ec = e;
                              endpoints = std::move(found);
                              done = true;
                            });
    if (!run_until(done))
      return Error(ErrorKind::kUnavailable,
                   "cannot resolve node address " + address_ + " within " + ms());
    if (ec)
      return Error(ErrorKind::kUnavailable,
                   "cannot resolve node address " + address_ + ": " + ec.message());
    done = false;
    asio::async_connect(channel_.socket(), endpoints,
                        [&](asio::error_code e, const asio::ip::tcp::endpoint&) {
                          ec = e;
                          done = true;
                        });
    if (!run_until(done))
      return Error(ErrorKind::kUnavailable, "node " + address_ + " did not answer within " + ms());
    if (ec)
      return Error(ErrorKind::kUnavailable,
                   "cannot reach node at " + address_ + ": " + ec.message());
    if (!channel_.secure()) return ok_status();
    done = false;
    channel_.async_handshake(TlsSide::kClient, [&](asio::error_code e) {
      ec = e;
      done = true;
    });
    if (!run_until(done)) return silent();
    if (ec)
      return Error(ErrorKind::kUnauthorized,
                   "TLS handshake with node " + address_ + " failed: " + channel_.handshake_error(ec));
    if (auto unit = channel_.peer_node_unit(); !unit.ok())
      return Error(ErrorKind::kUnauthorized, "node " + address_ + ": " + unit.error().message());
    return ok_status();
  }

  Status send(capnp::MessageBuilder& message) {
    const auto frame = encode_frame(message);
    bool done = false;
    asio::error_code ec;
    channel_.async_write(asio::buffer(frame), [&](asio::error_code e, size_t) {
      ec = e;
      done = true;
    });
    if (!run_until(done)) return silent();
    if (ec)
      return Error(ErrorKind::kPeerGone,
                   "node " + address_ + " closed the connection: " + ec.message());
    return ok_status();
  }

  Result<std::unique_ptr<Frame>> receive() {
    for (;;) {
      if (auto frame = decoder_.next()) return frame;
      bool done = false;
      asio::error_code ec;
      size_t n = 0;
      channel_.async_read_some(asio::buffer(buffer_), [&](asio::error_code e, size_t got) {
        ec = e;
        n = got;
        done = true;
      });
      if (!run_until(done)) return silent();
      if (ec)
        return Error(ErrorKind::kPeerGone, "node " + address_ + " closed the connection" +
                                               (ec == asio::error::eof ? "" : ": " + ec.message()));
      ROLLCALL_TRY(decoder_.feed(buffer_.data(), n));
    }
  }

 private:
  // Runs handlers until `done` is set; false when the deadline passed first (the socket is
  // then closed and the aborted operation finished).
  bool run_until(const bool& done) {
    io_.restart();
    while (!done && io_.run_one_until(deadline_) > 0) {
    }
    if (done) return true;
    resolver_.cancel();
    channel_.close();
    io_.restart();
    io_.run();
    return false;
  }

  Error silent() const {
    return Error(ErrorKind::kBusy,
                 "node " + address_ + " accepted the connection but gave no answer within " + ms());
  }
  std::string ms() const { return std::to_string(timeout_.count()) + " ms"; }

  std::string address_;
  std::chrono::milliseconds timeout_;
  Clock::time_point deadline_;
  asio::io_context io_;
  asio::ip::tcp::resolver resolver_{io_};
  Channel channel_;
  FrameDecoder decoder_;
  std::array<uint8_t, 64 * 1024> buffer_{};
};

// Checks that `message` is the `expected` one; an error frame becomes kProtocol naming it.
Status expect(wire::Message::Reader message, wire::Message::Which expected,
              const std::string& address, const char* what) {
  if (message.which() == expected) return ok_status();
  if (message.which() == wire::Message::ERROR) {
    auto e = message.getError();
    return Error(ErrorKind::kProtocol, "node " + address + " refused " + what + ": " +
                                           error_code_name(e.getCode()) + ": " +
                                           e.getMessage().cStr());
  }
  return Error(ErrorKind::kProtocol,
               "node " + address + " answered " + what + " with something else");
}

}  // namespace

Result<NodeState> ask_node_status(const std::string& host_port, std::chrono::milliseconds timeout,
                                  const ClientCredentials& credentials) {
  auto to = parse_host_port(host_port);
  if (!to.ok()) return invalid_input("node address '" + host_port + "': " + to.error().message());
  auto tls = credentials.context();
  if (!tls.ok()) return tls.error();
  auto token = credentials.token();
  if (!token.ok()) return token.error();
  StatusExchange exchange(host_port, timeout, *tls);
  ROLLCALL_TRY(exchange.connect(*to));

  capnp::MallocMessageBuilder hello;
  auto hello_builder = hello.initRoot<wire::Message>().initHello();
  fill_hello(hello_builder, "", wire::PeerRole::CLIENT, "");
  if (!token->empty()) hello_builder.setToken(*token);
  ROLLCALL_TRY(exchange.send(hello));
  auto reply = exchange.receive();
  if (!reply.ok()) return reply.error();
  auto greeted = guard_capnp("hello from " + host_port, [&]() -> Status {
    auto message = (*reply)->root<wire::Message>();
    ROLLCALL_TRY(expect(message, wire::Message::HELLO, host_port, "the hello"));
    return check_hello(message.getHello());
  });
  if (!greeted.ok()) return greeted.error();

  capnp::MallocMessageBuilder request;
  request.initRoot<wire::Message>().initStatusRequest();
  ROLLCALL_TRY(exchange.send(request));
  auto answer = exchange.receive();
  if (!answer.ok()) return answer.error();
  return guard_capnp("status from " + host_port, [&]() -> Result<NodeState> {
    auto message = (*answer)->root<wire::Message>();
    ROLLCALL_TRY(expect(message, wire::Message::STATUS, host_port, "the status request"));
    return node_state_of(message.getStatus());
  });
}

}  // namespace rollcall::cli
