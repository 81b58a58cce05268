// HttpListener: the node's read-only HTTP listener (`--http HOST:PORT`), separate from the
// replication and client port. It serves `/metrics` (node/metrics_text.h), `/api/tree` (the
// subtree with freshness and tallies, node/tree_view.h) and `/` (the status page that renders
// it, node/web/status.html); every other path, and every method but GET, is 404.
//
// The answers are built on the io_context's thread (the only one that may read the node's
// sessions) and handed back; if the io thread does not answer within a second (the node is
// draining, or very busy) the request gets 503, so an HTTP client can never hold replication or
// submits up: the HTTP threads only wait, and at most two of them serve at a time. Requests are
// cut off after 5 s of reading and may carry no body.
//
// Threads: its own (cpp-httplib's) for serving; start/stop from the main thread.
// Ownership: borrows the io_context, which must outlive it; stop() before destroying either.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <asio.hpp>

#include "engine/event_log.h"
#include "engine/protocol.h"
#include "engine/status.h"
#include "schema/wire.capnp.h"

namespace httplib {
class Server;
}

namespace rollcall {

class TreeView;

class HttpListener {
 public:
  // Fills a NodeStatus on the io thread (the same filler `rollcall status` is answered with).
  using StatusFiller = std::function<void(wire::NodeStatus::Builder)>;

  // `log` (for the map and tallies of /api/tree) must outlive it.
  HttpListener(asio::io_context& io, StatusFiller filler, const EventLog& log);
  ~HttpListener();
  HttpListener(const HttpListener&) = delete;
  HttpListener& operator=(const HttpListener&) = delete;

  // Binds HOST:PORT (port 0 picks one) and starts serving; the bound port.
  Result<uint16_t> start(const HostPort& listen);
  void stop();

 private:
  // The Prometheus text of the node's status, built on the io thread; nullopt after a second.
  std::optional<std::string> metrics();
  // The /api/tree JSON: the NodeStatus filled on the io thread, the tallies read here.
  std::optional<std::string> tree();
  // The NodeStatus filled on the io thread, handed to `use` there; false after a second.
  bool with_status(std::function<void(wire::NodeStatus::Reader)> use);

  asio::io_context& io_;
  StatusFiller filler_;
  std::unique_ptr<TreeView> tree_view_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace rollcall
