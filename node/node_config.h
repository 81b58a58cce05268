// rollcalld's configuration: flags (DESIGN.md "Interfaces") and an optional TOML file.
// A flag given on the command line wins over the same setting in the file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/protocol.h"
#include "engine/status.h"

namespace rollcall {

struct NodeConfig {
  std::string unit;
  std::string data_dir;
  HostPort listen{"127.0.0.1", 7400};
  std::vector<HostPort> parents;
  std::string units_file;
  std::string tls_cert, tls_key, tls_ca;
  // Serve and connect over plain TCP, without TLS or authentication (docs/security.md); only
  // when asked for, never as a fallback.
  bool plaintext = false;
  // Tokens a client without a certificate may show (TLS only): write (submit, import) or read.
  std::vector<std::string> write_tokens, read_tokens;
  uint64_t max_connections = 1024;
  uint64_t max_connections_per_address = 256;
  uint64_t idle_timeout_s = 300;       // a client that sends nothing this long is disconnected
  uint64_t handshake_timeout_s = 10;   // TCP accepted to hello (TLS handshake included)
  std::string log_level = "info";
  uint64_t min_free_mb = 256;
  uint64_t max_dir_mb = 0;
  uint64_t max_in_flight_mb = 256;
  uint64_t request_window_events = 1'000'000;  // request ids remembered among the newest N own events
  uint64_t request_window_days = 30;           // and for at most this many days
  std::optional<HostPort> http;  // the read-only HTTP listener (/metrics); none when unset
  std::string port_file;  // written with the bound port once listening (tests, scripts)
};

// Reads settings from a TOML file into `config` (only the keys present). Unknown keys are an
// error naming the key.
Status load_config_file(const std::string& path, NodeConfig& config);

}  // namespace rollcall
