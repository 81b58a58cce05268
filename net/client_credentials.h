// How an operator tool (rollcall submit, status, import; tests and benches) authenticates to a
// node: TLS files and an optional token. Given by flags, else by the environment:
//   ROLLCALL_TLS_CA, ROLLCALL_TLS_CERT, ROLLCALL_TLS_KEY, ROLLCALL_TOKEN_FILE
// No CA: plain TCP (the node must have been started with --plaintext).
#pragma once

#include <memory>
#include <string>

#include <asio/ssl.hpp>

#include "engine/status.h"
#include "net/tls.h"

namespace rollcall {

struct ClientCredentials {
  TlsFiles tls;
  std::string token_file;  // a file whose first line is the token

  // The environment's settings (empty when unset).
  static ClientCredentials from_env();
  // Fills what is empty here from the environment.
  ClientCredentials with_env_defaults() const;
  bool secure() const { return !tls.ca.empty(); }
  // The TLS context (null for plain TCP) and the token (empty when none), with clear errors
  // for missing files or a token given without TLS.
  Result<std::shared_ptr<asio::ssl::context>> context() const;
  Result<std::string> token() const;
};

}  // namespace rollcall
