// rollcalld: one unit server's node. Builds the object graph in plain sight:
// units map -> event log -> commit queue (writer thread) -> server (acceptor, sessions: clients
// and child nodes) and uplink (replication to the parents).
#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>

#include <CLI/CLI.hpp>
#include <asio.hpp>
#include <spdlog/spdlog.h>

#include "engine/event_log.h"
#include "engine/protocol.h"
#include "engine/unit_map.h"
#include "node/commit_queue.h"
#include "node/http_listener.h"
#include "node/node_config.h"
#include "node/node_log.h"
#include "node/node_status.h"
#include "node/wall_clock.h"
#include "node/server.h"
#include "node/uplink.h"
#include "net/tls.h"

namespace {

using namespace rollcall;

constexpr int kExitUsage = 2;
constexpr int kExitFailure = 1;

// The config as main() builds it from --config and the flags; called again on SIGHUP.
using ConfigLoader = std::function<Result<NodeConfig>()>;

Result<spdlog::level::level_enum> parse_log_level(const std::string& text) {
  const auto level = spdlog::level::from_str(text);
  if (level == spdlog::level::off && text != "off") {
    return invalid_input("log level '" + text + "' is not one of trace, debug, info, warn, error, critical, off");
  }
  return level;
}

// SIGHUP: applies what of `fresh` the running node can change in place (log_level) and names
// each other changed key, which waits for a restart. `running` is what the node runs with.
void apply_reloaded_config(NodeConfig& running, const NodeConfig& fresh) {
  auto log = node_log();
  auto level = parse_log_level(fresh.log_level);
  if (!level.ok()) {
    log->error("SIGHUP: config not applied, the node keeps its settings: {}", level.error().message());
    return;
  }
  const auto hosts = [](const std::vector<HostPort>& list) {
    std::string text;
    for (const auto& hp : list) text += hp.to_string() + " ";
    return text;
  };
  const auto http = [](const NodeConfig& c) { return c.http ? c.http->to_string() : std::string(); };
  const std::pair<const char*, bool> needs_restart[] = {
      {"unit", running.unit != fresh.unit},
      {"data_dir", running.data_dir != fresh.data_dir},
      {"units", running.units_file != fresh.units_file},
      {"listen", running.listen.to_string() != fresh.listen.to_string()},
      {"parents", hosts(running.parents) != hosts(fresh.parents)},
      {"http", http(running) != http(fresh)},
      {"tls_cert", running.tls_cert != fresh.tls_cert},
      {"tls_key", running.tls_key != fresh.tls_key},
      {"tls_ca", running.tls_ca != fresh.tls_ca},
      {"plaintext", running.plaintext != fresh.plaintext},
      {"write_tokens", running.write_tokens != fresh.write_tokens},
      {"read_tokens", running.read_tokens != fresh.read_tokens},
      {"max_connections", running.max_connections != fresh.max_connections},
      {"max_connections_per_address", running.max_connections_per_address != fresh.max_connections_per_address},
      {"idle_timeout_s", running.idle_timeout_s != fresh.idle_timeout_s},
      {"handshake_timeout_s", running.handshake_timeout_s != fresh.handshake_timeout_s},
      {"min_free_mb", running.min_free_mb != fresh.min_free_mb},
      {"max_dir_mb", running.max_dir_mb != fresh.max_dir_mb},
      {"max_in_flight_mb", running.max_in_flight_mb != fresh.max_in_flight_mb},
      {"request_window_events", running.request_window_events != fresh.request_window_events},
      {"request_window_days", running.request_window_days != fresh.request_window_days},
  };
  bool changed = false;
  if (running.log_level != fresh.log_level) {
    // Said at the more verbose of the two levels, so that it shows whichever way the level went.
    log->set_level(std::min(log->level(), *level));
    log->warn("SIGHUP: log_level changed from {} to {}", running.log_level, fresh.log_level);
    log->set_level(*level);
    running.log_level = fresh.log_level;
    changed = true;
  }
  for (const auto& [key, differs] : needs_restart) {
    if (!differs) continue;
    log->warn("SIGHUP: '{}' changed in the config; it takes effect after a restart (the node keeps the old value)",
              key);
    changed = true;
  }
  if (!changed) log->info("SIGHUP: config re-read, nothing changed");
}

int run(const NodeConfig& config, const std::string& config_file, const ConfigLoader& reload_config) {
  auto log = node_log();
  auto level = parse_log_level(config.log_level);
  if (!level.ok()) {
    log->error("{}", level.error().message());
    return kExitUsage;
  }
  log->set_level(*level);

  auto units = UnitMap::load_csv_file(config.units_file);
  if (!units.ok()) {
    log->error("units file: {}", units.error().message());
    return kExitUsage;
  }
  auto unit = UnitCode::parse(config.unit);
  if (!unit.ok() || !units->contains(*unit)) {
    log->error("--unit '{}' is not a unit of {}", config.unit, config.units_file);
    return kExitUsage;
  }

  for (const auto& parent : config.parents) {
    asio::error_code ec;
    asio::ip::make_address(parent.host, ec);
    if (ec) {
      log->error("parent {}: the host must be an IP address (names are not resolved)", parent.to_string());
      return kExitUsage;
    }
  }
  if (!config.parents.empty() && *unit == units->root()) {
    log->error("--parent: unit {} is the root of the map and has no ancestor to replicate to", unit->str());
    return kExitUsage;
  }

  const TlsFiles tls_files{config.tls_cert, config.tls_key, config.tls_ca};
  std::shared_ptr<asio::ssl::context> server_tls, client_tls;
  if (config.plaintext) {
    if (!tls_files.empty()) {
      log->error("--plaintext and --tls-* were both given: choose one");
      return kExitUsage;
    }
    log->warn("serving plain TCP (--plaintext): no encryption, child nodes are known by their hello only and "
              "every client may submit; use TLS (docs/security.md) anywhere but a closed test network");
  } else {
    if (tls_files.cert.empty() || tls_files.key.empty() || tls_files.ca.empty()) {
      log->error("rollcalld serves TLS: give --tls-cert, --tls-key and --tls-ca (`rollcall certs` makes them), "
                 "or --plaintext to serve plain TCP without authentication");
      return kExitUsage;
    }
    auto own = certificate_file_identity(tls_files.cert);
    if (!own.ok() || own->role != CertRole::kNode || own->name != unit->str()) {
      log->error("--tls-cert {}: {}", tls_files.cert,
                 own.ok() ? "names " + std::string(cert_role_name(own->role)) + " " + own->name +
                                ", not node " + unit->str()
                          : own.error().message());
      return kExitUsage;
    }
    auto made_server = make_tls_context(tls_files, TlsSide::kServer);
    auto made_client = made_server.ok() ? make_tls_context(tls_files, TlsSide::kClient) : made_server;
    if (!made_client.ok()) {
      log->error("{}", made_client.error().message());
      return kExitUsage;
    }
    server_tls = *made_server;
    client_tls = *made_client;
  }
  if (config.request_window_days > 36500) {
    log->error("request_window_days: {} is more than 36500 (a hundred years)", config.request_window_days);
    return kExitUsage;
  }
  LogOptions log_options;
  log_options.dir = config.data_dir;
  log_options.unit = *unit;
  log_options.min_free_bytes = config.min_free_mb << 20;
  log_options.max_dir_bytes = config.max_dir_mb << 20;
  log_options.requests.max_events = config.request_window_events;
  log_options.requests.max_age_us = static_cast<int64_t>(config.request_window_days) * 24 * 3600 * 1'000'000;
  auto event_log = EventLog::open_writer(log_options, *units);
  if (!event_log.ok()) {
    log->error("{}", event_log.error().message());
    return kExitFailure;
  }
  asio::io_context io;
  // Before the node says it listens (port file): a SIGTERM from then on is queued for the drain
  // below, never the default action.
  asio::signal_set signals(io, SIGTERM, SIGINT);
  asio::signal_set reload_signal(io, SIGHUP);  // systemctl reload
  Alerts alerts;
  NodeMetrics metrics;
  metrics.start_time_us = wall_now().micros;
  CommitQueue queue(**event_log, wall_now, metrics);
  ServerOptions server_options;
  server_options.max_in_flight_bytes = std::max<uint64_t>(1, config.max_in_flight_mb) << 20;
  server_options.tls = server_tls;
  server_options.write_tokens = config.write_tokens;
  server_options.read_tokens = config.read_tokens;
  server_options.max_connections = std::max<uint64_t>(1, config.max_connections);
  server_options.max_connections_per_address = std::max<uint64_t>(1, config.max_connections_per_address);
  server_options.idle_timeout = std::chrono::seconds(std::max<uint64_t>(1, config.idle_timeout_s));
  server_options.handshake_timeout = std::chrono::seconds(std::max<uint64_t>(1, config.handshake_timeout_s));
  Server server(io, **event_log, queue, server_options, alerts, metrics);
  std::unique_ptr<Uplink> uplink;  // made once the node listens: its hello says where
  const auto fill_status = [&](wire::NodeStatus::Builder status) {
    fill_node_status(status, **event_log, server, uplink.get(), alerts, wall_now());
  };
  server.set_status_filler(fill_status);
  HttpListener http(io, **event_log, fill_status, metrics);
  queue.on_appended([&] {
    if (uplink) uplink->wake();
  });
  auto bound = server.listen(config.listen.host, config.listen.port);
  if (!bound.ok()) {
    log->error("{}", bound.error().message());
    return kExitFailure;
  }
  const std::string listen_address =
      (bound->address().is_v6() ? "[" + bound->address().to_string() + "]" : bound->address().to_string()) + ":" +
      std::to_string(bound->port());
  if (!config.parents.empty()) {
    UplinkOptions uplink_options;
    uplink_options.replication.listen_address = listen_address;
    uplink_options.tls = client_tls;
    uplink = std::make_unique<Uplink>(io, **event_log, config.parents, uplink_options, alerts, queue, metrics);
  }
  const Unit* info = units->find(*unit);
  // Before the writer thread starts: next_own_seq() reads the writer's state.
  log->info("rollcalld {} for {} ({}) listening on {}:{} ({}), data dir {}, {} events held, next seq {}",
            kSoftwareVersion, unit->str(), info->name, bound->address().to_string(), bound->port(),
            server_tls ? "TLS 1.3, mutual" : "plain TCP",
            config.data_dir, (*event_log)->last_lsn().value, (*event_log)->next_own_seq());
  if (config.http) {
    HttpOptions http_options;
    http_options.listen = *config.http;
    http_options.tls = tls_files;
    http_options.write_tokens = config.write_tokens;
    http_options.read_tokens = config.read_tokens;
    http_options.node_address = listen_address;
    auto http_port = http.start(http_options);
    if (!http_port.ok()) {
      log->error("{}", http_port.error().message());
      return kExitFailure;
    }
    const std::string scheme = tls_files.empty() ? "http" : "https";
    log->info("status page at {}://{}:{}/, metrics at /metrics, JSON at /api/status and /api/tally", scheme,
              config.http->host, *http_port);
  }
  queue.start();
  server.start_accepting();
  if (uplink) uplink->start();
  if (!config.port_file.empty()) {
    std::ofstream(config.port_file) << bound->port() << "\n";
  }
  // `rollcall status --data-dir` finds the running node here.
  const auto address_file = std::filesystem::path(config.data_dir) / "rollcalld.address";
  std::ofstream(address_file) << listen_address << "\n";
  for (const auto& parent : config.parents) log->info("parent (in order of preference): {}", parent.to_string());

  NodeConfig running = config;
  std::function<void()> await_reload = [&] {
    reload_signal.async_wait([&](asio::error_code ec, int) {
      if (ec) return;
      if (config_file.empty()) {
        log->warn("SIGHUP: rollcalld was started without --config; there is nothing to re-read");
      } else if (auto fresh = reload_config(); !fresh.ok()) {
        log->error("SIGHUP: config not applied, the node keeps its settings: {}", fresh.error().message());
      } else {
        apply_reloaded_config(running, *fresh);
      }
      await_reload();
    });
  };
  await_reload();

  auto work = asio::make_work_guard(io);
  asio::steady_timer deadline(io);
  signals.async_wait([&](asio::error_code ec, int signal) {
    if (ec) return;
    log->info("signal {}: draining (no new connections; committing what is queued)", signal);
    reload_signal.cancel();
    if (uplink) uplink->stop();
    http.stop();
    server.stop_accepting();
    queue.close([&] {
      asio::post(io, [&] {
        work.reset();
        deadline.expires_after(std::chrono::seconds(5));
        deadline.async_wait([&](asio::error_code timer_ec) {
          if (!timer_ec) {
            log->warn("clients did not take their results within 5 s; closing anyway");
            io.stop();
          }
        });
        // The uplink's connections were closed at once by uplink->stop(); only client and child
        // sessions finish what they have in flight.
        server.on_idle([&] { deadline.cancel(); });
        server.close_sessions();
        if (server.session_count() == 0) deadline.cancel();
      });
    });
  });
  io.run();
  queue.join();
  std::error_code ignored;
  std::filesystem::remove(address_file, ignored);
  log->info("stopped cleanly at LSN {}", (*event_log)->last_lsn().value);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // A peer that closes its end must cost a write error, not the process: cpp-httplib's HTTPS
  // writes (SSL_write on the raw socket) are not sent with MSG_NOSIGNAL as asio's are.
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"rollcalld: the rollcall node of one unit. Appends events durably to its RocksDB "
               "log, keeps the tallies and member registry of its subtree in the same writes, "
               "serves clients and child nodes over TCP, and pushes its log (its own and its "
               "children's events) to its parent. SIGTERM or SIGINT drains and exits 0. SIGHUP re-reads "
               "--config: log_level applies at once; other changed keys are logged as needing a restart."};
  NodeConfig flags;
  std::string config_file, listen;
  std::vector<std::string> parents;
  auto* unit_opt = app.add_option("--unit", flags.unit, "this node's unit code (e.g. 001)");
  auto* dir_opt = app.add_option("--data-dir", flags.data_dir, "data directory (created if missing)");
  auto* listen_opt = app.add_option("--listen", listen, "HOST:PORT to serve on (default 127.0.0.1:7400; port 0 picks one)");
  auto* parent_opt = app.add_option("--parent", parents, "IP:PORT of a parent node (an ancestor unit's rollcalld), in order of preference (repeatable): the node pushes its log to the first that answers and moves back to an earlier one when it returns. At start, submits wait (at most 3 s) until a parent says how much of this node's own events it holds");
  auto* units_opt = app.add_option("--units", flags.units_file, "units CSV (code,name,level,parent_code); a new data dir keeps this map, and a data dir refuses another")->check(CLI::ExistingFile);
  app.add_option("--config", config_file, "TOML config file; flags given here win")->check(CLI::ExistingFile);
  auto* cert_opt = app.add_option("--tls-cert", flags.tls_cert,
                                  "this node's certificate (PEM; OU=node, CN=its unit code; made by `rollcall certs`)");
  auto* key_opt = app.add_option("--tls-key", flags.tls_key, "the private key of --tls-cert (PEM)");
  auto* ca_opt = app.add_option("--tls-ca", flags.tls_ca,
                                "the CA (PEM) that parents', children's and clients' certificates must chain to");
  auto* plain_opt = app.add_flag("--plaintext", flags.plaintext,
                                 "serve and connect over plain TCP: no TLS, no authentication (tests, closed "
                                 "networks); without it the node requires --tls-cert, --tls-key and --tls-ca");
  auto* level_opt = app.add_option("--log-level", flags.log_level, "trace, debug, info, warn, error (default info)");
  auto* free_opt = app.add_option("--min-free-mb", flags.min_free_mb, "refuse appends below this much free disk (default 256)");
  auto* cap_opt = app.add_option("--max-dir-mb", flags.max_dir_mb, "refuse appends while the data dir holds more (default 0: no cap)");
  auto* flight_opt = app.add_option("--max-in-flight-mb", flags.max_in_flight_mb,
                                    "submitted bytes held before answering, over all clients; past it the node stops reading (default 256)");
  auto* window_opt = app.add_option("--request-window-events", flags.request_window_events,
                                    "a line's requestId is remembered while its event is among this node's newest N own "
                                    "events (default 1000000); a repeat within the window gets the original ORIGIN:SEQ");
  auto* days_opt = app.add_option("--request-window-days", flags.request_window_days,
                                  "a remembered requestId is forgotten after this many days (default 30, at most 36500)");
  std::string http_listen;
  auto* http_opt = app.add_option("--http", http_listen,
                                  "HOST:PORT of a read-only HTTP listener (HTTPS with the node's TLS files, for clients "
                                  "with a certificate of its CA or a read/write token as `Authorization: Bearer`): "
                                  "/metrics (Prometheus text), /api/status and /api/tally (the JSON of `rollcall status "
                                  "--json` and `rollcall tally --json`); none unless given; keep it on a loopback "
                                  "address unless the port is firewalled");
  app.add_option("--port-file", flags.port_file, "write the bound port to this file once listening");
  app.set_version_flag("--version", kSoftwareVersion);
  CLI11_PARSE(app, argc, argv);

  // The file first, then the flags given over it; again on SIGHUP, so flags keep winning.
  const ConfigLoader load_config = [&]() -> Result<NodeConfig> {
    NodeConfig config;
    if (!config_file.empty()) {
      ROLLCALL_TRY(load_config_file(config_file, config));
    }
    if (*unit_opt) config.unit = flags.unit;
    if (*dir_opt) config.data_dir = flags.data_dir;
    if (*units_opt) config.units_file = flags.units_file;
    if (*cert_opt) config.tls_cert = flags.tls_cert;
    if (*key_opt) config.tls_key = flags.tls_key;
    if (*ca_opt) config.tls_ca = flags.tls_ca;
    if (*plain_opt) config.plaintext = flags.plaintext;
    if (*level_opt) config.log_level = flags.log_level;
    if (*free_opt) config.min_free_mb = flags.min_free_mb;
    if (*cap_opt) config.max_dir_mb = flags.max_dir_mb;
    if (*flight_opt) config.max_in_flight_mb = flags.max_in_flight_mb;
    if (*window_opt) config.request_window_events = flags.request_window_events;
    if (*days_opt) config.request_window_days = flags.request_window_days;
    config.port_file = flags.port_file;
    if (*http_opt) {
      auto hp = parse_host_port(http_listen);
      if (!hp.ok()) {
        return invalid_input("--http: " + hp.error().message());
      }
      config.http = *hp;
    }
    if (*listen_opt) {
      auto hp = parse_host_port(listen);
      if (!hp.ok()) {
        return invalid_input("--listen: " + hp.error().message());
      }
      config.listen = *hp;
    }
    if (*parent_opt) {
      config.parents.clear();
      for (const auto& text : parents) {
        auto hp = parse_host_port(text);
        if (!hp.ok()) {
          return invalid_input("--parent: " + hp.error().message());
        }
        config.parents.push_back(*hp);
      }
    }
    return config;
  };
  auto config = load_config();
  if (!config.ok()) {
    std::cerr << "rollcalld: " << config.error().message() << "\n";
    return kExitUsage;
  }
  for (const auto& [value, name] : {std::pair{&config->unit, "--unit"},
                                    std::pair{&config->data_dir, "--data-dir"},
                                    std::pair{&config->units_file, "--units"}}) {
    if (value->empty()) {
      std::cerr << "rollcalld: " << name << " is required (as a flag or in --config)\n";
      return kExitUsage;
    }
  }
  return run(*config, config_file, load_config);
}
