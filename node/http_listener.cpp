#include "node/http_listener.h"

#include <chrono>
#include <future>

#include <capnp/message.h>
#include <httplib.h>

#include "node/metrics_text.h"
#include "node/node_log.h"
#include "node/status_page.h"
#include "node/tree_view.h"

namespace rollcall {

HttpListener::HttpListener(asio::io_context& io, StatusFiller filler, const EventLog& log)
    : io_(io), filler_(std::move(filler)), tree_view_(std::make_unique<TreeView>(log)) {}

HttpListener::~HttpListener() { stop(); }

bool HttpListener::with_status(std::function<void(wire::NodeStatus::Reader)> use) {
  auto answer = std::make_shared<std::promise<void>>();
  auto ready = answer->get_future();
  auto shared_use = std::make_shared<std::function<void(wire::NodeStatus::Reader)>>(std::move(use));
  asio::post(io_, [this, answer, shared_use] {
    capnp::MallocMessageBuilder message;
    auto status = message.initRoot<wire::NodeStatus>();
    filler_(status);
    (*shared_use)(status.asReader());
    answer->set_value();
  });
  return ready.wait_for(std::chrono::seconds(1)) == std::future_status::ready;
}

std::optional<std::string> HttpListener::metrics() {
  auto text = std::make_shared<std::string>();
  if (!with_status([text](wire::NodeStatus::Reader status) { *text = prometheus_text(status); })) return std::nullopt;
  return *text;
}

std::optional<std::string> HttpListener::tree() {
  // The status is copied out on the io thread; the tallies are read on this one.
  auto copy = std::make_shared<capnp::MallocMessageBuilder>();
  if (!with_status([copy](wire::NodeStatus::Reader status) { copy->setRoot(status); })) return std::nullopt;
  const auto status = copy->getRoot<wire::NodeStatus>().asReader();
  return tree_view_->tree_json(status, Timestamp{status.getNow()});
}

Result<uint16_t> HttpListener::start(const HostPort& listen) {
  server_ = std::make_unique<httplib::Server>();
  server_->new_task_queue = [] { return new httplib::ThreadPool(2); };
  server_->set_read_timeout(std::chrono::seconds(5));
  server_->set_write_timeout(std::chrono::seconds(5));
  server_->set_keep_alive_max_count(10);
  server_->set_payload_max_length(0);
  // SO_REUSEADDR for restarts, but not cpp-httplib's default SO_REUSEPORT: a second node on
  // the same port must fail to start, not share the listener.
  server_->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& response) {
    if (auto text = metrics()) {
      response.set_content(*text, "text/plain; version=0.0.4; charset=utf-8");
    } else {
      response.status = 503;
      response.set_content("the node did not answer within a second (draining or busy)\n", "text/plain");
    }
  });
  server_->Get("/api/tree", [this](const httplib::Request&, httplib::Response& response) {
    if (auto json = tree()) {
      response.set_header("Cache-Control", "no-store");
      response.set_content(*json, "application/json; charset=utf-8");
    } else {
      response.status = 503;
      response.set_content("the node did not answer within a second (draining or busy)\n", "text/plain");
    }
  });
  server_->Get("/", [](const httplib::Request&, httplib::Response& response) {
    const auto html = status_page_html();
    response.set_content(html.data(), html.size(), "text/html; charset=utf-8");
  });
  server_->set_error_handler([](const httplib::Request& request, httplib::Response& response) {
    if (response.status == 404)
      response.set_content("no such path: " + request.path + " (this node serves /, /api/tree and /metrics)\n", "text/plain");
  });
  int port = listen.port;
  if (port == 0) {
    port = server_->bind_to_any_port(listen.host);
    if (port <= 0) return Error(ErrorKind::kIo, "--http: cannot listen on " + listen.host + ":0");
  } else if (!server_->bind_to_port(listen.host, port)) {
    return Error(ErrorKind::kIo, "--http: cannot listen on " + listen.to_string() + " (in use, or not an address of this host)");
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return static_cast<uint16_t>(port);
}

void HttpListener::stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace rollcall
