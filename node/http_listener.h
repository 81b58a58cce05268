// HttpListener: the node's read-only HTTP listener (`--http HOST:PORT`, or `http` in the TOML
// config), separate from the replication and client port, through cpp-httplib:
//   /metrics      the Prometheus text exposition (node/metrics_text.h)
//   /api/status   the JSON of `rollcall status --json` (report/status_view.h)
//   /api/tally    the JSON of `rollcall tally --json`: ?unit=U[&period=P|&asOf=D][&metric=M][&mapAsOf=D]
//   /api/tree     the subtree with freshness, lag and headline tallies (node/tree_view.h)
//   /             the status page that renders it (node/web/status.html, built into the binary)
// Only GET (and HEAD); an unknown path is 404, an unknown or bad query parameter 400 naming it.
// With TLS (the node's --tls-*), it serves HTTPS and a client shows what the node's other read
// access asks for: a certificate of the node's CA, or `Authorization: Bearer TOKEN` with one of
// the node's read or write tokens; else 401.
//
// Never in replication's way: the node's live status is built on the io_context's thread (the
// only one that may read its sessions) and handed back; if the io thread does not answer within
// a second (draining, very busy) the request gets 503. Tallies and what the log holds are read
// on the HTTP threads (RocksDB reads only). At most two requests are served at a time; a request
// is cut off after 5 s of reading, may carry no body, and its request line and headers are
// bounded by cpp-httplib (8 KiB URI).
//
// Threads: cpp-httplib's own for serving; start/stop from the main thread.
// Ownership: borrows the io_context and the log, which must outlive it; stop() before
// destroying either.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <asio.hpp>

#include "engine/event_log.h"
#include "engine/protocol.h"
#include "engine/status.h"
#include "net/tls.h"
#include "node/node_metrics.h"
#include "schema/wire.capnp.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace rollcall {

class TreeView;

struct HttpOptions {
  HostPort listen;
  TlsFiles tls;  // empty: plain HTTP (the node runs --plaintext)
  std::vector<std::string> write_tokens, read_tokens;
  std::string node_address;  // where the node serves clients, as /api/status reports it
};

class HttpListener {
 public:
  // Fills a NodeStatus on the io thread (the same filler `rollcall status` is answered with).
  using StatusFiller = std::function<void(wire::NodeStatus::Builder)>;

  HttpListener(asio::io_context& io, const EventLog& log, StatusFiller filler, const NodeMetrics& metrics);
  ~HttpListener();
  HttpListener(const HttpListener&) = delete;
  HttpListener& operator=(const HttpListener&) = delete;

  // Binds HOST:PORT (port 0 picks one) and starts serving; the bound port.
  Result<uint16_t> start(const HttpOptions& options);
  void stop();

 private:
  // Whether the request may read; else fills `response` (401) and false.
  bool authorized(const httplib::Request& request, httplib::Response& response) const;


  asio::io_context& io_;
  const EventLog& log_;
  StatusFiller filler_;
  const NodeMetrics& metrics_;
  HttpOptions options_;
  std::unique_ptr<TreeView> tree_view_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace rollcall
