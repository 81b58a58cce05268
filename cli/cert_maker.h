// CertMaker: the certificates of rollcall's mutual TLS (issue 8), made with OpenSSL's C API.
//
// One CA signs every certificate. Subjects follow one scheme, which the nodes check:
//   CA      O=rollcall, CN=<CA name>                    (default "rollcall CA")
//   node    O=rollcall, OU=node,   CN=<unit code>       (00001, 001, 01, VN)
//   client  O=rollcall, OU=writer|reader, CN=<name>     (an operator's or a program's name)
// Keys are EC P-256; signatures SHA-256; serials 128 random bits. The CA has basicConstraints
// critical CA:TRUE, keyUsage critical keyCertSign,cRLSign and a subjectKeyIdentifier. Leaves have
// basicConstraints critical CA:FALSE, keyUsage critical digitalSignature, extendedKeyUsage
// serverAuth,clientAuth (a node is both server and client) and subject and authority key
// identifiers.
//
// Ownership: a Credential owns its OpenSSL objects; a plain move-only value, one thread at a time.
// OpenSSL errors are translated into rollcall errors here and nowhere else in cli/.
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "engine/status.h"
#include "net/tls.h"

// OpenSSL's own types, declared here so that users of this header need no OpenSSL headers.
struct evp_pkey_st;
struct x509_st;

namespace rollcall::cli {

// True for a CN the scheme allows: 1..64 characters of letters, digits, '-', '_' and '.'
// (every unit code and every client name).
bool is_valid_cert_name(std::string_view name);

// When a certificate is valid: from `not_before` (seconds since the Unix epoch, UTC) for `days`,
// 1..kMaxValidityDays.
inline constexpr int kMaxValidityDays = 36500;
struct Validity {
  std::time_t not_before = 0;
  int days = 0;
};

// A certificate and its private key.
class Credential {
 public:
  struct KeyFree {
    void operator()(evp_pkey_st* key) const;
  };
  struct CertFree {
    void operator()(x509_st* cert) const;
  };
  using KeyPtr = std::unique_ptr<evp_pkey_st, KeyFree>;
  using CertPtr = std::unique_ptr<x509_st, CertFree>;

  Credential(CertPtr cert, KeyPtr key) : cert_(std::move(cert)), key_(std::move(key)) {}

  // Reads a PEM certificate and its PEM (unencrypted) private key and checks that they belong
  // together. Errors name the file.
  static Result<Credential> load(const std::string& cert_path, const std::string& key_path);
  // Writes the certificate (mode 0644) and the key (unencrypted PKCS#8, mode 0600) as PEM, each
  // through a temporary file renamed into place; with `sync`, flushed to disk first.
  Status write(const std::string& cert_path, const std::string& key_path, bool sync = false) const;

  // "O=rollcall, OU=node, CN=001": the subject's entries in the certificate's order.
  std::string subject() const;
  // The CN of the subject ("" without one).
  std::string common_name() const;
  // True when basicConstraints says CA:TRUE.
  bool is_ca() const;
  // The last second of validity, seconds since the Unix epoch (UTC).
  std::time_t not_after() const;

  x509_st* cert() const { return cert_.get(); }
  evp_pkey_st* key() const { return key_.get(); }

 private:
  CertPtr cert_;
  KeyPtr key_;
};

inline constexpr std::string_view kDefaultCaName = "rollcall CA";

// A self-signed CA, subject O=rollcall, CN=`name`.
Result<Credential> make_ca(const std::string& name, const Validity& validity);
// A leaf certificate for `role` with CN `name`, signed by `ca`. `name` must pass
// is_valid_cert_name.
Result<Credential> make_leaf(const Credential& ca, CertRole role, const std::string& name,
                             const Validity& validity);

}  // namespace rollcall::cli
