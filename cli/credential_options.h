// The flags by which a command that talks to a node authenticates (net/client_credentials.h):
// --tls-ca, --tls-cert, --tls-key, --token-file; unset ones come from the environment.
#pragma once

#include <CLI/CLI.hpp>

#include "net/client_credentials.h"

namespace rollcall::cli {

inline void add_credential_options(CLI::App* cmd, ClientCredentials& credentials) {
  cmd->add_option("--tls-ca", credentials.tls.ca,
                  "CA (PEM) the node's certificate must chain to; connects over TLS (env ROLLCALL_TLS_CA; "
                  "without it: plain TCP, for a node run with --plaintext)")
      ->type_name("FILE")->group("Authentication");
  cmd->add_option("--tls-cert", credentials.tls.cert,
                  "client certificate (PEM; OU=writer to submit and import, OU=reader to read) (env ROLLCALL_TLS_CERT)")
      ->type_name("FILE")->group("Authentication");
  cmd->add_option("--tls-key", credentials.tls.key, "key of --tls-cert (env ROLLCALL_TLS_KEY)")
      ->type_name("FILE")->group("Authentication");
  cmd->add_option("--token-file", credentials.token_file,
                  "file whose first line is a token of the node's config (write_tokens or read_tokens), instead "
                  "of a client certificate (env ROLLCALL_TOKEN_FILE)")
      ->type_name("FILE")->group("Authentication");
}

}  // namespace rollcall::cli
