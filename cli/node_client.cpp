#include "cli/node_client.h"

#include "engine/capnp_guard.h"
#include "engine/protocol.h"

namespace rollcall {

Result<std::unique_ptr<NodeClient>> NodeClient::connect(const std::string& host_port,
                                                        std::chrono::milliseconds timeout,
                                                        const ClientCredentials& credentials) {
  auto address = parse_host_port(host_port);
  if (!address.ok()) return invalid_input("--node: " + address.error().message());
  auto tls = credentials.context();
  if (!tls.ok()) return tls.error();
  auto token = credentials.token();
  if (!token.ok()) return token.error();

  auto client = std::unique_ptr<NodeClient>(new NodeClient());
  client->address_ = host_port;
  client->channel_ = std::make_unique<Channel>(asio::ip::tcp::socket(client->io_), *tls);
  asio::error_code ec;
  asio::ip::tcp::resolver resolver(client->io_);
  auto endpoints = resolver.resolve(address->host, std::to_string(address->port), ec);
  if (ec) return Error(ErrorKind::kUnavailable, "cannot resolve node address " + host_port + ": " + ec.message());

  // Connect with a deadline.
  bool done = false;
  asio::error_code connect_ec = asio::error::timed_out;
  asio::async_connect(client->channel_->socket(), endpoints, [&](asio::error_code e, const asio::ip::tcp::endpoint&) {
    connect_ec = e;
    done = true;
  });
  client->io_.run_for(timeout);
  if (!done) {
    client->channel_->close();
    client->io_.restart();
    client->io_.run();
    return Error(ErrorKind::kUnavailable, "node " + host_port + " did not answer within " +
                                              std::to_string(timeout.count()) + " ms");
  }
  client->io_.restart();
  if (connect_ec)
    return Error(ErrorKind::kUnavailable, "cannot reach node at " + host_port + ": " + connect_ec.message());
  client->channel_->socket().set_option(asio::ip::tcp::no_delay(true), ec);

  if (client->channel_->secure()) {
    bool shaken = false;
    asio::error_code handshake_ec;
    client->channel_->async_handshake(TlsSide::kClient, [&](asio::error_code e) {
      handshake_ec = e;
      shaken = true;
    });
    client->io_.run_for(timeout);
    if (!shaken) {
      client->channel_->close();
      client->io_.restart();
      client->io_.run();
      return Error(ErrorKind::kUnavailable, "node " + host_port + " did not finish the TLS handshake within " +
                                                std::to_string(timeout.count()) + " ms");
    }
    client->io_.restart();
    if (handshake_ec)
      return Error(ErrorKind::kUnauthorized, "TLS handshake with node " + host_port +
                                                 " failed: " + client->channel_->handshake_error(handshake_ec));
    if (auto unit = client->channel_->peer_node_unit(); !unit.ok())
      return Error(ErrorKind::kUnauthorized, "node " + host_port + ": " + unit.error().message());
  }

  capnp::MallocMessageBuilder hello;
  auto hello_builder = hello.initRoot<wire::Message>().initHello();
  fill_hello(hello_builder, "", wire::PeerRole::CLIENT, "");
  if (!token->empty()) hello_builder.setToken(*token);
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
  channel_->write(asio::buffer(frame), ec);
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
    const size_t n = channel_->read_some(asio::buffer(buffer), ec);
    if (ec)
      return Error(ErrorKind::kPeerGone,
                   "node " + address_ + " closed the connection" +
                       (ec == asio::error::eof ? std::string() : ": " + ec.message()) +
                       (channel_->secure() ? std::string()
                                           : " (a node serving TLS closes plain connections: give --tls-ca)"));
    ROLLCALL_TRY(decoder_.feed(buffer.data(), n));
  }
}

}  // namespace rollcall
