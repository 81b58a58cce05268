#include "cli/cert_maker.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace rollcall::cli {
namespace {

constexpr int kSerialBytes = 16;  // 128 random bits
constexpr const char* kOrganization = "rollcall";

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using BignumPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using KeyContextPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using NamePtr = std::unique_ptr<X509_NAME, Deleter<X509_NAME_free>>;
using ExtensionPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;

// `what`, then OpenSSL's queued errors (which this empties).
Error openssl_error(ErrorKind kind, const std::string& what) {
  std::string detail;
  while (const unsigned long code = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    detail += (detail.empty() ? "" : "; ") + std::string(text);
  }
  return Error(kind, detail.empty() ? what : what + ": " + detail);
}

Error os_error(const std::string& what, int error_number) {
  return Error(ErrorKind::kIo, what + ": " + std::strerror(error_number));
}

// Closes a file descriptor on every path out.
struct FileCloser {
  int fd;
  ~FileCloser() {
    if (fd >= 0) ::close(fd);
  }
};

Result<std::string> read_file(const std::string& path) {
  FileCloser file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0) return os_error("cannot open " + path, errno);
  std::string data;
  char buffer[16384];
  for (;;) {
    const ssize_t n = ::read(file.fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return os_error("cannot read " + path, errno);
    if (n == 0) return data;
    data.append(buffer, static_cast<size_t>(n));
  }
}

Status sync_directory_of(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  FileCloser file{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (file.fd < 0 || ::fsync(file.fd) != 0) return os_error("cannot sync " + dir, errno);
  return ok_status();
}

// Writes `data` to PATH.tmp with exactly `mode` (whatever the umask or an old PATH.tmp) and
// renames it to `path`.
Status write_file(const std::string& path, std::string_view data, mode_t mode, bool sync) {
  const std::string temp = path + ".tmp";
  {
    FileCloser file{::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)};
    if (file.fd < 0) return os_error("cannot create " + temp, errno);
    if (::fchmod(file.fd, mode) != 0) return os_error("cannot set the mode of " + temp, errno);
    while (!data.empty()) {
      const ssize_t n = ::write(file.fd, data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return os_error("cannot write " + temp, errno);
      data.remove_prefix(static_cast<size_t>(n));
    }
    if (sync && ::fsync(file.fd) != 0) return os_error("cannot sync " + temp, errno);
    const int fd = file.fd;
    file.fd = -1;
    if (::close(fd) != 0) return os_error("cannot write " + temp, errno);
  }
  if (::rename(temp.c_str(), path.c_str()) != 0)
    return os_error("cannot rename " + temp + " to " + path, errno);
  if (sync) ROLLCALL_TRY(sync_directory_of(path));
  return ok_status();
}

// What `write` (a PEM_write_bio_* call) writes, as text.
template <typename Write>
Result<std::string> to_pem(const char* what, Write write) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1)
    return openssl_error(ErrorKind::kInternal, std::string("cannot encode the ") + what);
  std::string text(BIO_ctrl_pending(bio.get()), '\0');
  if (BIO_read(bio.get(), text.data(), static_cast<int>(text.size())) !=
      static_cast<int>(text.size()))
    return openssl_error(ErrorKind::kInternal, std::string("cannot encode the ") + what);
  return text;
}

// A password callback that gives none: an encrypted key fails to load instead of prompting.
int no_password(char*, int, int, void*) {
  return 0;
}

Result<Credential::KeyPtr> generate_p256_key() {
  KeyContextPtr context(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* key = nullptr;
  if (!context || EVP_PKEY_keygen_init(context.get()) != 1 ||
      EVP_PKEY_CTX_set_group_name(context.get(), "P-256") != 1 ||
      EVP_PKEY_generate(context.get(), &key) != 1)
    return openssl_error(ErrorKind::kInternal, "cannot generate an EC P-256 key");
  return Credential::KeyPtr(key);
}

// O=rollcall[, OU=role], CN=`common_name`.
Result<NamePtr> make_name(std::optional<CertRole> role, const std::string& common_name) {
  NamePtr name(X509_NAME_new());
  auto add = [&](int nid, const std::string& value) {
    return X509_NAME_add_entry_by_NID(name.get(), nid, MBSTRING_UTF8,
                                      reinterpret_cast<const unsigned char*>(value.data()),
                                      static_cast<int>(value.size()), -1, 0) == 1;
  };
  if (!name || !add(NID_organizationName, kOrganization) ||
      (role && !add(NID_organizationalUnitName, cert_role_name(*role))) ||
      !add(NID_commonName, common_name))
    return openssl_error(ErrorKind::kInvalidInput,
                         "cannot make the subject name for CN '" + common_name + "'");
  return name;
}

Status set_random_serial(X509* cert) {
  unsigned char bytes[kSerialBytes];
  if (RAND_bytes(bytes, sizeof bytes) != 1)
    return openssl_error(ErrorKind::kInternal, "cannot draw a serial number");
  bytes[0] |= 0x01;  // never zero (RFC 5280 wants a positive serial)
  BignumPtr serial(BN_bin2bn(bytes, sizeof bytes, nullptr));
  if (!serial || BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert)) == nullptr)
    return openssl_error(ErrorKind::kInternal, "cannot set the serial number");
  return ok_status();
}

// Adds an extension written as `openssl x509 -extfile` would ("critical,CA:TRUE").
Status add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX context{};
  X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
  ExtensionPtr extension(X509V3_EXT_conf_nid(nullptr, &context, nid, value));
  if (!extension || X509_add_ext(cert, extension.get(), -1) != 1)
    return openssl_error(ErrorKind::kInternal,
                         std::string("cannot add the extension ") + OBJ_nid2sn(nid) + "=" + value);
  return ok_status();
}

Status check_validity(const Validity& validity) {
  if (validity.days < 1 || validity.days > kMaxValidityDays)
    return invalid_input("a certificate's validity must be 1.." + std::to_string(kMaxValidityDays) +
                         " days, not " + std::to_string(validity.days));
  return ok_status();
}

// An X509v3 certificate for `key` and `subject`, without extensions, not yet signed. `issuer`
// is null for a self-signed one.
Result<Credential::CertPtr> make_unsigned(const X509_NAME* subject, const X509_NAME* issuer,
                                          EVP_PKEY* key, const Validity& validity) {
  Credential::CertPtr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1)
    return openssl_error(ErrorKind::kInternal, "cannot make a certificate");
  ROLLCALL_TRY(set_random_serial(cert.get()));
  if (X509_set_subject_name(cert.get(), subject) != 1 ||
      X509_set_issuer_name(cert.get(), issuer ? issuer : subject) != 1 ||
      ASN1_TIME_set(X509_getm_notBefore(cert.get()), validity.not_before) == nullptr ||
      ASN1_TIME_adj(X509_getm_notAfter(cert.get()), validity.not_before, validity.days, 0) ==
          nullptr ||
      X509_set_pubkey(cert.get(), key) != 1)
    return openssl_error(ErrorKind::kInternal, "cannot fill in a certificate");
  return cert;
}

Status sign(X509* cert, EVP_PKEY* issuer_key) {
  if (X509_sign(cert, issuer_key, EVP_sha256()) <= 0)
    return openssl_error(ErrorKind::kInternal, "cannot sign a certificate");
  return ok_status();
}

}  // namespace

bool is_valid_cert_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

void Credential::KeyFree::operator()(evp_pkey_st* key) const {
  EVP_PKEY_free(key);
}
void Credential::CertFree::operator()(x509_st* cert) const {
  X509_free(cert);
}

Result<Credential> Credential::load(const std::string& cert_path, const std::string& key_path) {
  auto cert_text = read_file(cert_path);
  if (!cert_text.ok()) return cert_text.error();
  auto key_text = read_file(key_path);
  if (!key_text.ok()) return key_text.error();
  BioPtr cert_bio(BIO_new_mem_buf(cert_text->data(), static_cast<int>(cert_text->size())));
  CertPtr cert(cert_bio ? PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert)
    return openssl_error(ErrorKind::kInvalidInput, cert_path + " holds no PEM certificate");
  BioPtr key_bio(BIO_new_mem_buf(key_text->data(), static_cast<int>(key_text->size())));
  KeyPtr key(key_bio ? PEM_read_bio_PrivateKey(key_bio.get(), nullptr, no_password, nullptr)
                     : nullptr);
  OPENSSL_cleanse(key_text->data(), key_text->size());
  if (!key)
    return openssl_error(ErrorKind::kInvalidInput,
                         key_path + " holds no unencrypted PEM private key");
  if (X509_check_private_key(cert.get(), key.get()) != 1)
    return openssl_error(ErrorKind::kInvalidInput, key_path + " is not the key of " + cert_path);
  return Credential(std::move(cert), std::move(key));
}

Status Credential::write(const std::string& cert_path, const std::string& key_path,
                         bool sync) const {
  auto key_pem = to_pem("private key", [&](BIO* bio) {
    return PEM_write_bio_PrivateKey(bio, key_.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  if (!key_pem.ok()) return key_pem.error();
  const Status key_written = write_file(key_path, *key_pem, 0600, sync);
  OPENSSL_cleanse(key_pem->data(), key_pem->size());
  ROLLCALL_TRY(key_written);
  auto cert_pem =
      to_pem("certificate", [&](BIO* bio) { return PEM_write_bio_X509(bio, cert_.get()); });
  if (!cert_pem.ok()) return cert_pem.error();
  return write_file(cert_path, *cert_pem, 0644, sync);
}

std::string Credential::subject() const {
  const X509_NAME* name = X509_get_subject_name(cert_.get());
  std::string out;
  for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
    const X509_NAME_ENTRY* entry = X509_NAME_get_entry(name, i);
    unsigned char* utf8 = nullptr;
    const int length = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
    const char* short_name = OBJ_nid2sn(OBJ_obj2nid(X509_NAME_ENTRY_get_object(entry)));
    out += (out.empty() ? "" : ", ") + std::string(short_name ? short_name : "?") + "=";
    if (length >= 0) out.append(reinterpret_cast<const char*>(utf8), static_cast<size_t>(length));
    OPENSSL_free(utf8);
  }
  return out;
}

std::string Credential::common_name() const {
  const X509_NAME* name = X509_get_subject_name(cert_.get());
  const int index = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (index < 0) return "";
  unsigned char* utf8 = nullptr;
  const int length =
      ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index)));
  std::string out =
      length >= 0 ? std::string(reinterpret_cast<const char*>(utf8), static_cast<size_t>(length))
                  : "";
  OPENSSL_free(utf8);
  return out;
}

bool Credential::is_ca() const {
  return (X509_get_extension_flags(cert_.get()) & EXFLAG_CA) != 0;
}

std::time_t Credential::not_after() const {
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert_.get()), &tm) != 1) return 0;
  return timegm(&tm);
}

Result<Credential> make_ca(const std::string& name, const Validity& validity) {
  if (name.empty()) return invalid_input("the CA's name is empty");
  ROLLCALL_TRY(check_validity(validity));
  auto key = generate_p256_key();
  if (!key.ok()) return key.error();
  auto subject = make_name(std::nullopt, name);
  if (!subject.ok()) return subject.error();
  auto cert = make_unsigned(subject->get(), nullptr, key->get(), validity);
  if (!cert.ok()) return cert.error();
  X509* c = cert->get();
  ROLLCALL_TRY(add_extension(c, c, NID_basic_constraints, "critical,CA:TRUE"));
  ROLLCALL_TRY(add_extension(c, c, NID_key_usage, "critical,keyCertSign,cRLSign"));
  ROLLCALL_TRY(add_extension(c, c, NID_subject_key_identifier, "hash"));
  ROLLCALL_TRY(sign(c, key->get()));
  return Credential(std::move(*cert), std::move(*key));
}

Result<Credential> make_leaf(const Credential& ca, CertRole role, const std::string& name,
                             const Validity& validity) {
  if (!is_valid_cert_name(name))
    return invalid_input("'" + name +
                         "' is not a certificate name: 1..64 letters, digits, '-', '_' or '.'");
  ROLLCALL_TRY(check_validity(validity));
  auto key = generate_p256_key();
  if (!key.ok()) return key.error();
  auto subject = make_name(role, name);
  if (!subject.ok()) return subject.error();
  auto cert = make_unsigned(subject->get(), X509_get_subject_name(ca.cert()), key->get(), validity);
  if (!cert.ok()) return cert.error();
  X509* c = cert->get();
  ROLLCALL_TRY(add_extension(c, ca.cert(), NID_basic_constraints, "critical,CA:FALSE"));
  ROLLCALL_TRY(add_extension(c, ca.cert(), NID_key_usage, "critical,digitalSignature"));
  ROLLCALL_TRY(add_extension(c, ca.cert(), NID_ext_key_usage, "serverAuth,clientAuth"));
  ROLLCALL_TRY(add_extension(c, ca.cert(), NID_subject_key_identifier, "hash"));
  ROLLCALL_TRY(add_extension(c, ca.cert(), NID_authority_key_identifier, "keyid:always"));
  ROLLCALL_TRY(sign(c, ca.key()));
  return Credential(std::move(*cert), std::move(*key));
}

}  // namespace rollcall::cli
