#include "cli/node_client.h"

#include "engine/capnp_guard.h"
#include "engine/protocol.h"

namespace rollcall {

Result<std::unique_ptr<NodeClient>> NodeClient::connect(const std::string& host_port,
                                                        std::chrono::milliseconds timeout) {
  auto address = parse_host_port(host_port);
  if (!address.ok()) return invalid_input("--node: " + address.error().message());

  auto client = std::unique_ptr<NodeClient>(new NodeClient());
  client->address_ = host_port;
  asio::error_code ec;
  asio::ip::tcp::resolver resolver(client->io_);
  auto endpoints = resolver.resolve(address->host, std::to_string(address->port), ec);
  if (ec) return Error(ErrorKind::kUnavailable, "cannot resolve node address " + host_port + ": " + ec.message());

  // Connect with a deadline.
  bool done = false;
  asio::error_code connect_ec = asio::error::timed_out;
  asio::async_connect(client->socket_, endpoints, [&](asio::error_code e, const asio::ip::tcp::endpoint&) {
    connect_ec = e;
    done = true;
  });
  client->io_.run_for(timeout);
  if (!done) {
    client->socket_.close(ec);
    client->io_.restart();
    client->io_.run();
    return Error(ErrorKind::kUnavailable, "node " + host_port + " did not answer within " +
                                              std::to_string(timeout.count()) + " ms");
  }
  client->io_.restart();
  if (connect_ec)
    return Error(ErrorKind::kUnavailable, "cannot reach node at " + host_port + ": " + connect_ec.message());
  client->socket_.set_option(asio::ip::tcp::no_delay(true), ec);

  capnp::MallocMessageBuilder hello;
  fill_hello(hello.initRoot<wire::Message>().initHello(), "", wire::PeerRole::CLIENT, "");
  ROLLCALL_TRY(client->send(hello));
  auto reply = client->receive();
  if (!reply.ok()) return reply.error();
  auto checked = guard_capnp("hello from node", [&]() -> Status {
    auto message = (*reply)->root<wire::Message>();
    if (message.which() != wire::Message::HELLO) return invalid_input("the node did not answer with a hello");
    ROLLCALL_TRY(check_hello(message.getHello()));
    client->node_unit_ = message.getHello().getUnit().cStr();
    return ok_status();
  });
  if (!checked.ok()) return checked.error();
  return client;
}

Status NodeClient::send(capnp::MessageBuilder& message) {
  auto frame = encode_frame(message);
  asio::error_code ec;
  asio::write(socket_, asio::buffer(frame), ec);
  if (ec) return Error(ErrorKind::kPeerGone, "sending to node " + address_ + ": " + ec.message());
  return ok_status();
}

Result<std::unique_ptr<Frame>> NodeClient::receive() {
  std::array<uint8_t, 64 * 1024> buffer;
  for (;;) {
    if (auto frame = decoder_.next()) {
      auto error = guard_capnp("message from node", [&]() -> Status {
        auto message = frame->root<wire::Message>();
        if (message.which() != wire::Message::ERROR) return ok_status();
        auto e = message.getError();
        return Error(ErrorKind::kUnavailable, std::string("node ") + address_ + " closed the connection: " +
                                                  error_code_name(e.getCode()) + ": " + e.getMessage().cStr());
      });
      if (!error.ok()) return error.error();
      return frame;
    }
    asio::error_code ec;
    const size_t n = socket_.read_some(asio::buffer(buffer), ec);
    if (ec)
      return Error(ErrorKind::kPeerGone, "node " + address_ + " closed the connection" +
                                             (ec == asio::error::eof ? std::string() : ": " + ec.message()));
    ROLLCALL_TRY(decoder_.feed(buffer.data(), n));
  }
}

}  // namespace rollcall
