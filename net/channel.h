// Channel: one TCP connection, plain or TLS, with the same reads and writes either way, so that
// sessions (node/server.*, node/uplink.*, cli/node_client.*) are written once.
//
// Plain when made without a TLS context (only when the operator asked for it: --plaintext).
// With a context, handshake() must complete before any read or write; until then nothing of
// the peer's is read. close() does not wait for the peer's close_notify: frames carry their own
// length, so a truncated stream is seen as an incomplete frame, never as a shorter message.
//
// Threads: as Asio's sockets: one thread (the owner's io_context) at a time.
#pragma once

#include <memory>
#include <optional>
#include <utility>
#include <variant>

#include <asio.hpp>
#include <asio/ssl.hpp>

#include "net/tls.h"

namespace rollcall {

class Channel {
 public:
  using Socket = asio::ip::tcp::socket;
  using TlsStream = asio::ssl::stream<Socket>;

  // A connected socket (the server's side) or a fresh one to connect (socket().async_connect).
  Channel(Socket socket, std::shared_ptr<asio::ssl::context> tls);

  Socket& socket() { return tls_ ? std::get<TlsStream>(stream_).next_layer() : std::get<Socket>(stream_); }
  bool secure() const { return tls_ != nullptr; }

  template <typename Handler>
  void async_handshake(TlsSide side, Handler&& handler) {
    if (auto* tls = std::get_if<TlsStream>(&stream_)) {
      tls->async_handshake(side == TlsSide::kServer ? asio::ssl::stream_base::server : asio::ssl::stream_base::client,
                           std::forward<Handler>(handler));
    } else {
      asio::post(socket().get_executor(), [h = std::forward<Handler>(handler)]() mutable { h(asio::error_code()); });
    }
  }

  template <typename Handler>
  void async_read_some(asio::mutable_buffer buffer, Handler&& handler) {
    if (auto* tls = std::get_if<TlsStream>(&stream_))
      tls->async_read_some(buffer, std::forward<Handler>(handler));
    else
      std::get<Socket>(stream_).async_read_some(buffer, std::forward<Handler>(handler));
  }

  // Writes all of `buffer`.
  template <typename Handler>
  void async_write(asio::const_buffer buffer, Handler&& handler) {
    if (auto* tls = std::get_if<TlsStream>(&stream_))
      asio::async_write(*tls, buffer, std::forward<Handler>(handler));
    else
      asio::async_write(std::get<Socket>(stream_), buffer, std::forward<Handler>(handler));
  }

  // Blocking forms, for one-thread tools.
  void handshake(TlsSide side, asio::error_code& ec);
  size_t read_some(asio::mutable_buffer buffer, asio::error_code& ec);
  void write(asio::const_buffer buffer, asio::error_code& ec);

  // The verified peer's identity after the handshake: nullopt for a plain channel or a peer
  // without a certificate; an error for a certificate that names no rollcall identity.
  Result<std::optional<PeerIdentity>> peer_identity();
  // The unit a TLS peer's verified node certificate (OU=node) names; an error when it showed
  // none, or a client's, or one that names no rollcall identity. For a node's parent and the
  // node a client connects to.
  Result<std::string> peer_node_unit();

  // Shuts the socket down and closes it; pending operations end with operation_aborted.
  void close();

  // The reason of a failed handshake in words an operator can act on (OpenSSL's reason string,
  // e.g. "certificate verify failed", "certificate expired" when the verify result says so).
  std::string handshake_error(const asio::error_code& ec);

 private:
  std::shared_ptr<asio::ssl::context> tls_;
  std::variant<Socket, TlsStream> stream_;
};

}  // namespace rollcall
