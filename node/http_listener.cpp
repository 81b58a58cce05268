#include "node/http_listener.h"

#include <chrono>
#include <future>

#include <capnp/message.h>
#include <httplib.h>

#include "node/metrics_text.h"
#include "node/node_log.h"

namespace rollcall {

HttpListener::HttpListener(asio::io_context& io, StatusFiller filler) : io_(io), filler_(std::move(filler)) {}

HttpListener::~HttpListener() { stop(); }

std::optional<std::string> HttpListener::metrics() {
  auto answer = std::make_shared<std::promise<std::string>>();
  auto ready = answer->get_future();
  asio::post(io_, [this, answer] {
    capnp::MallocMessageBuilder message;
    auto status = message.initRoot<wire::NodeStatus>();
    filler_(status);
    answer->set_value(prometheus_text(status.asReader()));
  });
  if (ready.wait_for(std::chrono::seconds(1)) != std::future_status::ready) return std::nullopt;
  return ready.get();
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
  server_->set_error_handler([](const httplib::Request& request, httplib::Response& response) {
    if (response.status == 404)
      response.set_content("no such path: " + request.path + " (this node serves /metrics)\n", "text/plain");
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
