#include "net/channel.h"

#include <openssl/x509.h>

namespace rollcall {

Channel::Channel(Socket socket, std::shared_ptr<asio::ssl::context> tls)
    : tls_(std::move(tls)),
      stream_(tls_ ? std::variant<Socket, TlsStream>(std::in_place_type<TlsStream>, std::move(socket), *tls_)
                   : std::variant<Socket, TlsStream>(std::in_place_type<Socket>, std::move(socket))) {}

void Channel::handshake(TlsSide side, asio::error_code& ec) {
  ec = {};
  if (auto* tls = std::get_if<TlsStream>(&stream_))
    tls->handshake(side == TlsSide::kServer ? asio::ssl::stream_base::server : asio::ssl::stream_base::client, ec);
}

size_t Channel::read_some(asio::mutable_buffer buffer, asio::error_code& ec) {
  if (auto* tls = std::get_if<TlsStream>(&stream_)) return tls->read_some(buffer, ec);
  return std::get<Socket>(stream_).read_some(buffer, ec);
}

void Channel::write(asio::const_buffer buffer, asio::error_code& ec) {
  if (auto* tls = std::get_if<TlsStream>(&stream_))
    asio::write(*tls, buffer, ec);
  else
    asio::write(std::get<Socket>(stream_), buffer, ec);
}

Result<std::optional<PeerIdentity>> Channel::peer_identity() {
  auto* tls = std::get_if<TlsStream>(&stream_);
  if (!tls) return std::optional<PeerIdentity>();
  return rollcall::peer_identity(tls->native_handle());
}

Result<std::string> Channel::peer_node_unit() {
  auto identity = peer_identity();
  if (!identity.ok()) return identity.error();
  if (!*identity || (*identity)->role != CertRole::kNode)
    return Error(ErrorKind::kUnauthorized, "the peer did not show a node certificate (OU=node)");
  return (*identity)->name;
}

void Channel::close() {
  asio::error_code ignored;
  socket().shutdown(Socket::shutdown_both, ignored);
  socket().close(ignored);
}

std::string Channel::handshake_error(const asio::error_code& ec) {
  std::string text = ec.message();
  if (auto* tls = std::get_if<TlsStream>(&stream_)) {
    const long verify = SSL_get_verify_result(tls->native_handle());
    if (verify != X509_V_OK) text += " (" + std::string(X509_verify_cert_error_string(verify)) + ")";
  }
  if (ec == asio::error::eof) text = "the peer closed the connection during the TLS handshake";
  return text;
}

}  // namespace rollcall
