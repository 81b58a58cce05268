#include "node/http_listener.h"

#include <chrono>
#include <future>
#include <set>
#include <sstream>

#include <capnp/message.h>
#include <httplib.h>  // pkg-config defines CPPHTTPLIB_OPENSSL_SUPPORT

#include "node/metrics_text.h"
#include "node/node_log.h"
#include "node/status_page.h"
#include "node/tree_view.h"
#include "report/json_out.h"
#include "report/node_state.h"
#include "report/status_view.h"
#include "report/tally_report.h"

namespace rollcall {
namespace {

// What `build` makes of the node's status, built on the io thread; nullopt when the io thread
// did not get to it within a second.
template <typename T>
std::optional<T> from_status(asio::io_context& io, const HttpListener::StatusFiller& filler,
                             std::function<T(wire::NodeStatus::Reader)> build) {
  auto answer = std::make_shared<std::promise<T>>();
  auto ready = answer->get_future();
  asio::post(io, [&filler, build, answer] {
    capnp::MallocMessageBuilder message;
    auto status = message.initRoot<wire::NodeStatus>();
    filler(status);
    answer->set_value(build(status.asReader()));
  });
  if (ready.wait_for(std::chrono::seconds(1)) != std::future_status::ready) return std::nullopt;
  return ready.get();
}

void busy(httplib::Response& response) {
  response.status = 503;
  response.set_content("the node did not answer within a second (draining or busy)\n", "text/plain");
}

void json_error(httplib::Response& response, int status, const std::string& message) {
  response.status = status;
  response.set_content(cli::JsonObject().add("error", message).str() + "\n", "application/json");
}

// 400 naming the first query parameter not in `known`; true when all are known.
bool known_parameters(const httplib::Request& request, httplib::Response& response,
                      std::initializer_list<std::string_view> known) {
  for (const auto& [name, value] : request.params) {
    if (std::find(known.begin(), known.end(), name) != known.end()) continue;
    std::string list;
    for (std::string_view k : known) list += (list.empty() ? "" : ", ") + std::string(k);
    json_error(response, 400,
               "unknown query parameter '" + name + "' for " + request.path +
                   (known.size() == 0 ? " (it takes none)" : " (it takes " + list + ")"));
    return false;
  }
  for (std::string_view k : known)
    if (request.get_param_value_count(std::string(k)) > 1) {
      json_error(response, 400, "query parameter '" + std::string(k) + "' is given more than once");
      return false;
    }
  return true;
}

}  // namespace

HttpListener::HttpListener(asio::io_context& io, const EventLog& log, StatusFiller filler,
                           const NodeMetrics& metrics)
    : io_(io), log_(log), filler_(std::move(filler)), metrics_(metrics), tree_view_(std::make_unique<TreeView>(log)) {}

HttpListener::~HttpListener() { stop(); }

bool HttpListener::authorized(const httplib::Request& request, httplib::Response& response) const {
  if (options_.tls.empty()) return true;  // plain HTTP beside a --plaintext node
  if (request.ssl != nullptr) {
    auto identity = peer_identity(const_cast<SSL*>(request.ssl));
    if (identity.ok() && identity->has_value() && certificate_access(**identity) != Access::kNone) return true;
    if (!identity.ok()) {
      response.status = 401;
      response.set_content(identity.error().message() + "\n", "text/plain");
      return false;
    }
  }
  const std::string header = request.get_header_value("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (header.starts_with(kBearer) &&
      token_access(std::string_view(header).substr(kBearer.size()), options_.write_tokens, options_.read_tokens) !=
          Access::kNone)
    return true;
  response.status = 401;
  response.set_header("WWW-Authenticate", "Bearer");
  response.set_content(header.empty() ? "show a certificate of this node's CA or `Authorization: Bearer TOKEN` "
                                        "with one of the node's read or write tokens\n"
                                      : "the token is not one of this node's tokens\n",
                       "text/plain");
  return false;
}

Result<uint16_t> HttpListener::start(const HttpOptions& options) {
  options_ = options;
  if (options_.tls.empty()) {
    server_ = std::make_unique<httplib::Server>();
  } else {
    std::string problem;
    auto secure = std::make_unique<httplib::SSLServer>([&](SSL_CTX& context) {
      auto configured = configure_tls_context(&context, options_.tls, TlsSide::kServer);
      if (!configured.ok()) problem = configured.error().message();
      return configured.ok();
    });
    if (!secure->is_valid()) return Error(ErrorKind::kInvalidInput, "--http: " + problem);
    server_ = std::move(secure);
  }
  server_->new_task_queue = [] { return new httplib::ThreadPool(2); };
  server_->set_read_timeout(std::chrono::seconds(5));
  server_->set_write_timeout(std::chrono::seconds(5));
  server_->set_keep_alive_max_count(10);
  server_->set_keep_alive_timeout(5);
  server_->set_payload_max_length(0);
  // SO_REUSEADDR for restarts, but not cpp-httplib's default SO_REUSEPORT: a second node on
  // the same port must fail to start, not share the listener.
  server_->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  // Authentication first, for every path (unknown ones included: nothing is told to a stranger).
  server_->set_pre_routing_handler([this](const httplib::Request& request, httplib::Response& response) {
    if (request.method != "GET" && request.method != "HEAD") {
      response.status = 405;
      response.set_header("Allow", "GET, HEAD");
      response.set_content("this listener is read-only: GET only\n", "text/plain");
      return httplib::Server::HandlerResponse::Handled;
    }
    return authorized(request, response) ? httplib::Server::HandlerResponse::Unhandled
                                         : httplib::Server::HandlerResponse::Handled;
  });

  server_->Get("/metrics", [this](const httplib::Request& request, httplib::Response& response) {
    if (!known_parameters(request, response, {})) return;
    // The storage figures are read here, on this thread (RocksDB properties and atomics).
    const StorageFigures storage = log_.storage_figures();
    auto text = from_status<std::string>(io_, filler_, [this, storage](wire::NodeStatus::Reader s) {
      return prometheus_text(s, metrics_, storage);
    });
    if (!text) return busy(response);
    response.set_content(*text, "text/plain; version=0.0.4; charset=utf-8");
  });

  server_->Get("/api/status", [this](const httplib::Request& request, httplib::Response& response) {
    if (!known_parameters(request, response, {})) return;
    // As `rollcall status --data-dir` does it: what the log holds, then the node's answer over it.
    auto held = cli::held_state_of(log_);
    if (!held.ok()) return json_error(response, 500, held.error().message());
    auto live = from_status<cli::NodeState>(io_, filler_, [](wire::NodeStatus::Reader s) { return cli::node_state_of(s); });
    if (!live) return busy(response);
    cli::StatusView view;
    view.state = cli::merge_held(*held, std::move(*live));
    view.live = true;
    view.node.address = cli::dialable_address(options_.node_address);
    view.node.reachable = true;
    view.now = view.state.now;
    const auto map = log_.map();
    view.name_of = [&map](const std::string& code) { return map ? cli::unit_name(*map, code) : std::string(); };
    cli::sort_for_display(view.state);
    std::ostringstream out;
    cli::print_status_json(view, out);
    response.set_content(out.str(), "application/json");
  });

  server_->Get("/api/tally", [this](const httplib::Request& request, httplib::Response& response) {
    const auto& n = cli::kTallyUrlNames;
    if (!known_parameters(request, response, {n.unit, n.period, n.as_of, n.metric, n.map_as_of})) return;
    cli::TallyQuery query;
    query.unit = request.get_param_value(n.unit);
    query.period = request.get_param_value(n.period);
    query.as_of = request.get_param_value(n.as_of);
    query.metric = request.get_param_value(n.metric);
    query.map_as_of = request.get_param_value(n.map_as_of);
    query.every_metric = true;  // as `rollcall tally --json`
    const auto map = log_.map();
    if (!map) return json_error(response, 503, "the node holds no map yet");
    auto answer = cli::run_tally_query(log_, *map, query, n);
    if (!answer.ok())
      return json_error(response, answer.error().kind() == ErrorKind::kInvalidInput ? 400 : 500,
                        answer.error().message());
    response.set_content(cli::tally_json(*answer) + "\n", "application/json");
  });

  server_->Get("/api/tree", [this](const httplib::Request& request, httplib::Response& response) {
    if (!known_parameters(request, response, {})) return;
    // The status is copied out on the io thread; the tallies are read on this one.
    auto copy = from_status<std::shared_ptr<capnp::MallocMessageBuilder>>(io_, filler_, [](wire::NodeStatus::Reader s) {
      auto message = std::make_shared<capnp::MallocMessageBuilder>();
      message->setRoot(s);
      return message;
    });
    if (!copy) return busy(response);
    const auto status = (*copy)->getRoot<wire::NodeStatus>().asReader();
    response.set_header("Cache-Control", "no-store");
    response.set_content(tree_view_->tree_json(status, Timestamp{status.getNow()}), "application/json; charset=utf-8");
  });

  server_->Get("/", [](const httplib::Request& request, httplib::Response& response) {
    if (!known_parameters(request, response, {})) return;
    const auto html = status_page_html();
    response.set_content(html.data(), html.size(), "text/html; charset=utf-8");
  });

  server_->set_error_handler([](const httplib::Request& request, httplib::Response& response) {
    if (response.status == 404 && response.body.empty())
      response.set_content("no such path: " + request.path + " (this node serves /, /metrics, /api/status, /api/tally, /api/tree)\n",
                           "text/plain");
  });
  int port = options_.listen.port;
  if (port == 0) {
    port = server_->bind_to_any_port(options_.listen.host);
    if (port <= 0) return Error(ErrorKind::kIo, "--http: cannot listen on " + options_.listen.host + ":0");
  } else if (!server_->bind_to_port(options_.listen.host, port)) {
    return Error(ErrorKind::kIo, "--http: cannot listen on " + options_.listen.to_string() +
                                     " (in use, or not an address of this host)");
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return static_cast<uint16_t>(port);
}

void HttpListener::stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace rollcall
