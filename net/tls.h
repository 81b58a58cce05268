// TLS for nodes and their clients (docs/security.md): contexts made from PEM files, the identity
// a verified peer certificate names, and what a client may do.
//
// Certificates (made by `rollcall certs`) name their holder in the subject:
//   O=rollcall, OU=node,   CN=<unit code>     a node (rollcalld of that unit)
//   O=rollcall, OU=writer, CN=<client name>   a client that may submit and import
//   O=rollcall, OU=reader, CN=<client name>   a client that may only read (status)
// Only TLS 1.3; peers are verified against the configured CA (chain and validity dates).
// Host names are not checked: a node is known by the unit its certificate names, which the
// node checks against the hello and the map.
//
// Ownership: contexts are shared (shared_ptr) by the listener, the uplink and their streams.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <asio.hpp>
#include <asio/ssl.hpp>

#include "engine/status.h"

namespace rollcall {

enum class CertRole { kNode, kWriter, kReader };
const char* cert_role_name(CertRole role);
// The role whose name is `text` ("node", "writer", "reader"), or nothing.
std::optional<CertRole> parse_cert_role(std::string_view text);

// Who a verified peer certificate says its holder is.
struct PeerIdentity {
  CertRole role = CertRole::kReader;
  std::string name;     // unit code (node) or client name
  std::string subject;  // the whole subject, for logs
};

// What a client session may do.
enum class Access { kNone, kRead, kWrite };
const char* access_name(Access access);

struct TlsFiles {
  std::string cert;  // PEM certificate (may be empty for a client that authenticates by token)
  std::string key;   // PEM private key of `cert`
  std::string ca;    // PEM CA bundle that peers' certificates must chain to (required)
  bool empty() const { return cert.empty() && key.empty() && ca.empty(); }
};

enum class TlsSide { kServer, kClient };

// A TLS 1.3 context. A server asks for a client certificate and verifies one when given (a
// client without one must then show a token); a client requires and verifies the server's.
// Errors name the file and what OpenSSL said (missing file, key not matching the certificate).
Result<std::shared_ptr<asio::ssl::context>> make_tls_context(const TlsFiles& files, TlsSide side);
// The same settings on a bare OpenSSL context (the HTTP listener's, which cpp-httplib owns).
Status configure_tls_context(SSL_CTX* context, const TlsFiles& files, TlsSide side);

// What a verified certificate lets its holder do: a writer writes, every other role reads.
Access certificate_access(const PeerIdentity& identity);
// What a client token lets its holder do: kNone for an empty or unknown token.
Access token_access(std::string_view token, const std::vector<std::string>& write_tokens,
                    const std::vector<std::string>& read_tokens);

// The identity of the peer of a TLS connection whose handshake succeeded: nullopt when it sent
// no certificate. A certificate without O=rollcall, a known OU and a CN is an error.
Result<std::optional<PeerIdentity>> peer_identity(SSL* ssl);

// The identity a certificate file names (the first certificate of a PEM file), unverified: a
// node checks that its own certificate names its unit before it serves.
Result<PeerIdentity> certificate_file_identity(const std::string& path);

// The text of OpenSSL's error queue (and clears it), for messages.
std::string openssl_errors();

}  // namespace rollcall
