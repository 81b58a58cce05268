#include "node/node_config.h"

#include <set>

#include <toml++/toml.h>

namespace rollcall {

Status load_config_file(const std::string& path, NodeConfig& config) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return invalid_input("config file '" + path + "': " + std::string(e.description()) + " (line " +
                         std::to_string(e.source().begin.line) + ")");
  }
  static const std::set<std::string> kKeys = {"unit",     "data_dir", "listen",   "parents",
                                              "units",    "tls_cert", "tls_key",  "tls_ca",
                                              "log_level", "min_free_mb", "max_dir_mb",
                                              "max_in_flight_mb", "request_window_events",
                                              "request_window_days", "http", "plaintext",
                                              "write_tokens", "read_tokens", "max_connections",
                                              "max_connections_per_address", "idle_timeout_s",
                                              "handshake_timeout_s"};
  for (const auto& [key, value] : table) {
    if (!kKeys.count(std::string(key.str())))
      return invalid_input("config file '" + path + "': unknown key '" + std::string(key.str()) + "'");
  }
  auto text = [&](const char* key, std::string& out) -> Status {
    if (auto node = table[key]) {
      auto value = node.value<std::string>();
      if (!value) return invalid_input("config file '" + path + "': '" + key + "' must be a string");
      out = *value;
    }
    return ok_status();
  };
  auto number = [&](const char* key, uint64_t& out) -> Status {
    if (auto node = table[key]) {
      auto value = node.value<int64_t>();
      if (!value || *value < 0)
        return invalid_input("config file '" + path + "': '" + key + "' must be a non-negative integer");
      out = static_cast<uint64_t>(*value);
    }
    return ok_status();
  };
  ROLLCALL_TRY(text("unit", config.unit));
  ROLLCALL_TRY(text("data_dir", config.data_dir));
  ROLLCALL_TRY(text("units", config.units_file));
  ROLLCALL_TRY(text("tls_cert", config.tls_cert));
  ROLLCALL_TRY(text("tls_key", config.tls_key));
  ROLLCALL_TRY(text("tls_ca", config.tls_ca));
  ROLLCALL_TRY(text("log_level", config.log_level));
  ROLLCALL_TRY(number("min_free_mb", config.min_free_mb));
  ROLLCALL_TRY(number("max_dir_mb", config.max_dir_mb));
  ROLLCALL_TRY(number("max_in_flight_mb", config.max_in_flight_mb));
  ROLLCALL_TRY(number("request_window_events", config.request_window_events));
  ROLLCALL_TRY(number("request_window_days", config.request_window_days));
  ROLLCALL_TRY(number("max_connections", config.max_connections));
  ROLLCALL_TRY(number("max_connections_per_address", config.max_connections_per_address));
  ROLLCALL_TRY(number("idle_timeout_s", config.idle_timeout_s));
  ROLLCALL_TRY(number("handshake_timeout_s", config.handshake_timeout_s));
  if (auto node = table["plaintext"]) {
    auto value = node.value<bool>();
    if (!value) return invalid_input("config file '" + path + "': 'plaintext' must be true or false");
    config.plaintext = *value;
  }
  auto tokens = [&](const char* key, std::vector<std::string>& out) -> Status {
    auto node = table[key];
    if (!node) return ok_status();
    auto* array = node.as_array();
    if (!array) return invalid_input("config file '" + path + "': '" + key + "' must be an array of strings");
    for (const auto& item : *array) {
      auto value = item.value<std::string>();
      if (!value || value->size() < 16)
        return invalid_input("config file '" + path + "': '" + key +
                             "' must hold strings of at least 16 characters (e.g. `openssl rand -hex 24`)");
      out.push_back(*value);
    }
    return ok_status();
  };
  ROLLCALL_TRY(tokens("write_tokens", config.write_tokens));
  ROLLCALL_TRY(tokens("read_tokens", config.read_tokens));
  std::string listen;
  ROLLCALL_TRY(text("listen", listen));
  if (!listen.empty()) {
    auto hp = parse_host_port(listen);
    if (!hp.ok()) return invalid_input("config file '" + path + "': listen: " + hp.error().message());
    config.listen = *hp;
  }
  std::string http;
  ROLLCALL_TRY(text("http", http));
  if (!http.empty()) {
    auto hp = parse_host_port(http);
    if (!hp.ok()) return invalid_input("config file '" + path + "': http: " + hp.error().message());
    config.http = *hp;
  }
  if (auto parents = table["parents"]) {
    auto* array = parents.as_array();
    if (!array) return invalid_input("config file '" + path + "': 'parents' must be an array of \"HOST:PORT\"");
    for (const auto& item : *array) {
      auto value = item.value<std::string>();
      if (!value) return invalid_input("config file '" + path + "': 'parents' must hold strings");
      auto hp = parse_host_port(*value);
      if (!hp.ok()) return invalid_input("config file '" + path + "': parents: " + hp.error().message());
      config.parents.push_back(*hp);
    }
  }
  return ok_status();
}

}  // namespace rollcall
