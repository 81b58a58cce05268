#include "net/client_credentials.h"

#include <cstdlib>
#include <fstream>

namespace rollcall {

namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

void fill(std::string& value, const char* name) {
  if (value.empty()) value = env(name);
}

}  // namespace

ClientCredentials ClientCredentials::from_env() { return ClientCredentials().with_env_defaults(); }

ClientCredentials ClientCredentials::with_env_defaults() const {
  ClientCredentials out = *this;
  fill(out.tls.ca, "ROLLCALL_TLS_CA");
  fill(out.tls.cert, "ROLLCALL_TLS_CERT");
  fill(out.tls.key, "ROLLCALL_TLS_KEY");
  fill(out.token_file, "ROLLCALL_TOKEN_FILE");
  return out;
}

Result<std::shared_ptr<asio::ssl::context>> ClientCredentials::context() const {
  if (!secure()) {
    if (!tls.cert.empty() || !tls.key.empty() || !token_file.empty())
      return invalid_input("a certificate or token needs TLS: give the CA too (--tls-ca or ROLLCALL_TLS_CA)");
    return std::shared_ptr<asio::ssl::context>();
  }
  return make_tls_context(tls, TlsSide::kClient);
}

Result<std::string> ClientCredentials::token() const {
  if (token_file.empty()) return std::string();
  std::ifstream in(token_file);
  std::string line;
  if (!in || !std::getline(in, line)) return invalid_input("token file '" + token_file + "' cannot be read");
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
  if (line.empty()) return invalid_input("token file '" + token_file + "' has an empty first line");
  return line;
}

}  // namespace rollcall
