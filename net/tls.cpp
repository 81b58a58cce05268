#include "net/tls.h"

#include <filesystem>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

namespace rollcall {

const char* cert_role_name(CertRole role) {
  switch (role) {
    case CertRole::kNode: return "node";
    case CertRole::kWriter: return "writer";
    case CertRole::kReader: return "reader";
  }
  return "?";
}

std::optional<CertRole> parse_cert_role(std::string_view text) {
  for (CertRole role : {CertRole::kNode, CertRole::kWriter, CertRole::kReader})
    if (text == cert_role_name(role)) return role;
  return std::nullopt;
}

const char* access_name(Access access) {
  switch (access) {
    case Access::kNone: return "none";
    case Access::kRead: return "read";
    case Access::kWrite: return "write";
  }
  return "?";
}

std::string openssl_errors() {
  std::string out;
  while (unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    if (!out.empty()) out += "; ";
    out += buffer;
  }
  return out.empty() ? "no detail from OpenSSL" : out;
}

namespace {

Status readable(const std::string& path, const char* what) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return invalid_input(std::string(what) + " '" + path + "' is not a readable file");
  return ok_status();
}

// One entry of a subject, "" when absent.
std::string subject_entry(X509_NAME* name, int nid) {
  const int index = X509_NAME_get_index_by_NID(name, nid, -1);
  if (index < 0) return {};
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  const int length = ASN1_STRING_to_UTF8(&utf8, data);
  if (length < 0) return {};
  std::string text(reinterpret_cast<const char*>(utf8), static_cast<size_t>(length));
  OPENSSL_free(utf8);
  return text;
}

}  // namespace

Status configure_tls_context(SSL_CTX* native, const TlsFiles& files, TlsSide side) {
  if (files.ca.empty()) return invalid_input("TLS needs a CA file (--tls-ca) to verify peers against");
  if (files.cert.empty() != files.key.empty())
    return invalid_input("TLS: a certificate (--tls-cert) and its key (--tls-key) go together");
  if (side == TlsSide::kServer && files.cert.empty())
    return invalid_input("TLS: a node needs its certificate (--tls-cert) and key (--tls-key)");
  ROLLCALL_TRY(readable(files.ca, "TLS CA file"));
  if (!files.cert.empty()) {
    ROLLCALL_TRY(readable(files.cert, "TLS certificate"));
    ROLLCALL_TRY(readable(files.key, "TLS key"));
  }
  ERR_clear_error();
  if (SSL_CTX_set_min_proto_version(native, TLS1_3_VERSION) != 1)
    return Error(ErrorKind::kInternal, "TLS 1.3 is not available: " + openssl_errors());
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION);
  if (!files.cert.empty()) {
    if (SSL_CTX_use_certificate_chain_file(native, files.cert.c_str()) != 1)
      return invalid_input("TLS certificate '" + files.cert + "': " + openssl_errors());
    if (SSL_CTX_use_PrivateKey_file(native, files.key.c_str(), SSL_FILETYPE_PEM) != 1)
      return invalid_input("TLS key '" + files.key + "': " + openssl_errors());
    if (SSL_CTX_check_private_key(native) != 1)
      return invalid_input("TLS key '" + files.key + "' does not match the certificate '" + files.cert + "'");
  }
  if (SSL_CTX_load_verify_locations(native, files.ca.c_str(), nullptr) != 1)
    return invalid_input("TLS CA file '" + files.ca + "': " + openssl_errors());
  // A server takes clients without a certificate too (they show a token); a certificate that is
  // shown must verify. A client always requires the server's.
  SSL_CTX_set_verify(native,
                     side == TlsSide::kServer ? SSL_VERIFY_PEER : SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                     nullptr);
  return ok_status();
}

Result<std::shared_ptr<asio::ssl::context>> make_tls_context(const TlsFiles& files, TlsSide side) {
  auto context = std::make_shared<asio::ssl::context>(side == TlsSide::kServer ? asio::ssl::context::tls_server
                                                                                : asio::ssl::context::tls_client);
  ROLLCALL_TRY(configure_tls_context(context->native_handle(), files, side));
  return context;
}

Access certificate_access(const PeerIdentity& identity) {
  return identity.role == CertRole::kWriter ? Access::kWrite : Access::kRead;
}

Access token_access(std::string_view token, const std::vector<std::string>& write_tokens,
                    const std::vector<std::string>& read_tokens) {
  if (token.empty()) return Access::kNone;
  // Every configured token is compared in full, so the time taken says nothing of a match.
  const auto matches = [&](const std::vector<std::string>& tokens) {
    bool found = false;
    for (const auto& t : tokens)
      found |= t.size() == token.size() && CRYPTO_memcmp(t.data(), token.data(), t.size()) == 0;
    return found;
  };
  const bool write = matches(write_tokens);
  const bool read = matches(read_tokens);
  return write ? Access::kWrite : read ? Access::kRead : Access::kNone;
}

namespace {

Result<PeerIdentity> identity_of(X509* cert) {
  X509_NAME* name = X509_get_subject_name(cert);
  PeerIdentity identity;
  char line[512];
  X509_NAME_oneline(name, line, sizeof line);
  identity.subject = line;
  const std::string organization = subject_entry(name, NID_organizationName);
  const std::string unit = subject_entry(name, NID_organizationalUnitName);
  identity.name = subject_entry(name, NID_commonName);
  if (organization != "rollcall" || identity.name.empty())
    return Error(ErrorKind::kUnauthorized,
                 "the certificate " + identity.subject + " is not a rollcall one (O=rollcall, OU=role, CN=name)");
  if (unit == "node") {
    identity.role = CertRole::kNode;
  } else if (unit == "writer") {
    identity.role = CertRole::kWriter;
  } else if (unit == "reader") {
    identity.role = CertRole::kReader;
  } else {
    return Error(ErrorKind::kUnauthorized,
                 "the certificate " + identity.subject + " names no role (OU=node, writer or reader)");
  }
  return identity;
}

}  // namespace

Result<std::optional<PeerIdentity>> peer_identity(SSL* ssl) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (!cert) return std::optional<PeerIdentity>();
  if (SSL_get_verify_result(ssl) != X509_V_OK)
    return Error(ErrorKind::kUnauthorized, "the peer's certificate did not verify");
  auto identity = identity_of(cert);
  if (!identity.ok()) return identity.error();
  return std::optional<PeerIdentity>(*identity);
}

Result<PeerIdentity> certificate_file_identity(const std::string& path) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_file(path.c_str(), "r"), &BIO_free);
  if (!bio) return invalid_input("TLS certificate '" + path + "' cannot be read: " + openssl_errors());
  std::unique_ptr<X509, decltype(&X509_free)> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), &X509_free);
  if (!cert) return invalid_input("TLS certificate '" + path + "' is not a PEM certificate: " + openssl_errors());
  return identity_of(cert.get());
}

}  // namespace rollcall
