#include "cli/link_proxy.h"

#include "cli/ports.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <future>
#include <mutex>
#include <set>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <asio.hpp>

#include "engine/protocol.h"

namespace rollcall::cli {
namespace {

using asio::ip::tcp;

constexpr size_t kChunkBytes = 64 * 1024;
constexpr std::chrono::seconds kConnectTimeout{5};
constexpr std::chrono::milliseconds kAcceptBackoff{50};
// How often a held connection looks whether the blackhole is gone.
constexpr std::chrono::milliseconds kBlackholePoll{20};
// Under a throttle, chunks of about a twentieth of a second's bytes (at least this many).
constexpr size_t kMinThrottledChunk = 512;

// An orderly close (FIN), or with `reset` an abortive one (RST: SO_LINGER with a zero timeout).
void close_socket(tcp::socket& socket, bool reset = false) {
  asio::error_code ignored;
  if (reset)
    socket.set_option(asio::socket_base::linger(true, 0), ignored);
  else
    socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

tcp::endpoint parse_target(const std::string& text) {
  auto host_port = parse_host_port(text);
  if (!host_port.ok()) throw std::invalid_argument("LinkProxy target: " + host_port.error().message());
  asio::error_code ec;
  asio::ip::address address = host_port->host == "localhost" ? asio::ip::address(asio::ip::address_v4::loopback())
                                                             : asio::ip::make_address(host_port->host, ec);
  if (ec || !address.is_loopback())
    throw std::invalid_argument("LinkProxy target '" + text + "' is not a loopback address");
  if (host_port->port == 0) throw std::invalid_argument("LinkProxy target '" + text + "' has port 0");
  return tcp::endpoint(address, host_port->port);
}

}  // namespace

// Everything below runs on the io thread, except where a member says otherwise.
struct LinkProxy::Impl {
  explicit Impl(std::string target_host_port);

  // Opens the acceptor on 127.0.0.1:port_ (port_ 0 on the first call: the OS picks) and starts
  // accepting. Throws std::system_error, leaving the acceptor closed.
  void listen();
  void close_listener();
  void accept_next();
  void on_accepted(tcp::socket socket, Clock::time_point when);
  // FIN or, with `reset`, RST on both sides of every live connection.
  void close_connections(bool reset = false);
  void forget(const std::shared_ptr<Connection>& connection);
  void note_upstream_read();

  // Runs `work` on the io thread and waits for it; its exception, if any, is rethrown here.
  template <class Work>
  void run_on_io(Work work);

  // Declared first so that it is destroyed last: the sockets and timers below need it.
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_guard_;
  const std::string target_text_;
  const tcp::endpoint target_;
  tcp::acceptor acceptor_;
  asio::steady_timer accept_backoff_;
  uint16_t port_ = 0;  // set before the thread starts, then constant
  // Bumped whenever the acceptor opens or closes, so that a stale accept completion is ignored.
  uint64_t listen_generation_ = 0;
  std::set<std::shared_ptr<Connection>> connections_;

  // Read from any thread.
  std::atomic<bool> cut_{false};
  std::atomic<std::chrono::milliseconds::rep> delay_ms_{0};
  std::atomic<uint64_t> throttle_bytes_per_second_{0};
  std::atomic<bool> blackhole_{false};
  std::atomic<uint64_t> bytes_up_{0};
  std::atomic<uint64_t> bytes_down_{0};
  std::atomic<size_t> accepted_{0};
  std::atomic<size_t> live_{0};
  mutable std::mutex times_mutex_;
  std::optional<Clock::time_point> healed_at_;         // guarded by times_mutex_
  std::optional<Clock::time_point> first_connection_;  // guarded by times_mutex_
  std::optional<Clock::time_point> first_byte_;        // guarded by times_mutex_

  std::thread thread_;
};

// One proxied client: the client's socket, our socket to the target, and a pump per direction.
// Owned by shared_ptrs held by the proxy's set (until closed) and by its pending handlers.
class LinkProxy::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Impl& proxy, tcp::socket client)
      : proxy_(proxy),
        client_(std::move(client)),
        target_(proxy.io_),
        connect_timer_(proxy.io_),
        up_(client_, target_, true, proxy.io_),
        down_(target_, client_, false, proxy.io_) {}

  // Connects to the target (once no blackhole holds it), then forwards both ways.
  void start();
  // Closes both sockets (with `reset`, by RST) and leaves the proxy's set. Idempotent.
  void close(bool reset = false);

 private:
  struct Direction {
    Direction(tcp::socket& from_socket, tcp::socket& to_socket, bool is_upstream, asio::io_context& io)
        : from(from_socket), to(to_socket), upstream(is_upstream), buffer(kChunkBytes), delay(io) {}
    tcp::socket& from;
    tcp::socket& to;
    const bool upstream;  // client -> target
    std::vector<uint8_t> buffer;
    asio::steady_timer delay;
  };

  void connect();
  void read(Direction& direction);
  // Forwards a chunk read: after the delay and throttle pause, once no blackhole holds it.
  void forward(Direction& direction, size_t size);
  void write(Direction& direction, size_t size);

  Impl& proxy_;
  tcp::socket client_;
  tcp::socket target_;
  asio::steady_timer connect_timer_;
  Direction up_;
  Direction down_;
  bool connected_ = false;
  bool closed_ = false;
};

void LinkProxy::Connection::start() {
  if (!proxy_.blackhole_) {
    connect();
    return;
  }
  // Accepted, and left waiting as a SYN into a blackhole would be (the client's own timeout
  // decides when it gives up).
  connect_timer_.expires_after(kBlackholePoll);
  connect_timer_.async_wait([self = shared_from_this()](asio::error_code ec) {
    if (!ec && !self->closed_) self->start();
  });
}

void LinkProxy::Connection::connect() {
  auto self = shared_from_this();
  connect_timer_.expires_after(kConnectTimeout);
  connect_timer_.async_wait([self](asio::error_code ec) {
    if (!ec && !self->connected_) self->close();
  });
  target_.async_connect(proxy_.target_, [self](asio::error_code ec) {
    if (self->closed_) return;
    if (ec) {  // the target refuses: the client sees its connection closed
      self->close();
      return;
    }
    self->connected_ = true;
    self->connect_timer_.cancel();
    asio::error_code ignored;
    self->client_.set_option(tcp::no_delay(true), ignored);
    self->target_.set_option(tcp::no_delay(true), ignored);
    self->read(self->up_);
    self->read(self->down_);
  });
}

void LinkProxy::Connection::read(Direction& direction) {
  size_t chunk = kChunkBytes;
  if (const uint64_t rate = proxy_.throttle_bytes_per_second_; rate > 0)
    chunk = std::clamp<size_t>(static_cast<size_t>(rate / 20), kMinThrottledChunk, kChunkBytes);
  direction.from.async_read_some(
      asio::buffer(direction.buffer.data(), chunk),
      [self = shared_from_this(), &direction](asio::error_code ec, size_t size) {
        if (self->closed_) return;
        if (ec) {  // EOF or error on either side ends the whole connection
          self->close();
          return;
        }
        if (direction.upstream) self->proxy_.note_upstream_read();
        std::chrono::microseconds pause = std::chrono::milliseconds(self->proxy_.delay_ms_.load());
        if (const uint64_t rate = self->proxy_.throttle_bytes_per_second_; rate > 0)
          pause += std::chrono::microseconds(size * 1'000'000 / rate);
        if (pause.count() <= 0) {
          self->forward(direction, size);
          return;
        }
        direction.delay.expires_after(pause);
        direction.delay.async_wait([self, &direction, size](asio::error_code timer_ec) {
          if (!timer_ec && !self->closed_) self->forward(direction, size);
        });
      });
}

void LinkProxy::Connection::forward(Direction& direction, size_t size) {
  if (!proxy_.blackhole_) {
    write(direction, size);
    return;
  }
  direction.delay.expires_after(kBlackholePoll);
  direction.delay.async_wait([self = shared_from_this(), &direction, size](asio::error_code ec) {
    if (!ec && !self->closed_) self->forward(direction, size);
  });
}

void LinkProxy::Connection::write(Direction& direction, size_t size) {
  asio::async_write(direction.to, asio::buffer(direction.buffer.data(), size),
                    [self = shared_from_this(), &direction](asio::error_code ec, size_t written) {
                      (direction.upstream ? self->proxy_.bytes_up_ : self->proxy_.bytes_down_) += written;
                      if (self->closed_) return;
                      if (ec) {
                        self->close();
                        return;
                      }
                      self->read(direction);
                    });
}

void LinkProxy::Connection::close(bool reset) {
  if (closed_) return;
  closed_ = true;
  connect_timer_.cancel();
  up_.delay.cancel();
  down_.delay.cancel();
  close_socket(client_, reset);
  close_socket(target_, reset);
  proxy_.forget(shared_from_this());
}

LinkProxy::Impl::Impl(std::string target_host_port)
    : work_guard_(asio::make_work_guard(io_)),
      target_text_(std::move(target_host_port)),
      target_(parse_target(target_text_)),
      acceptor_(io_),
      accept_backoff_(io_) {
  // Below the ephemeral range, so that no outgoing connection takes the port while cut.
  for (int attempt = 0;; ++attempt) {
    port_ = free_port_below_ephemeral();
    try {
      listen();
      return;
    } catch (const std::system_error&) {
      if (attempt == 20) throw;
    }
  }
}

void LinkProxy::Impl::listen() {
  try {
    const tcp::endpoint endpoint(asio::ip::address_v4::loopback(), port_);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(asio::socket_base::max_listen_connections);
    if (port_ == 0) port_ = acceptor_.local_endpoint().port();
  } catch (...) {
    asio::error_code ignored;
    acceptor_.close(ignored);
    throw;
  }
  ++listen_generation_;
  accept_next();
}

void LinkProxy::Impl::close_listener() {
  ++listen_generation_;
  accept_backoff_.cancel();
  asio::error_code ignored;
  acceptor_.close(ignored);  // connects still in the backlog are reset by the kernel
}

void LinkProxy::Impl::accept_next() {
  const uint64_t generation = listen_generation_;
  acceptor_.async_accept([this, generation](asio::error_code ec, tcp::socket socket) {
    const auto now = Clock::now();
    if (generation != listen_generation_) return;  // cut (and perhaps healed) since
    if (ec) {
      // Out of file descriptors and the like: back off instead of spinning.
      accept_backoff_.expires_after(kAcceptBackoff);
      accept_backoff_.async_wait([this, generation](asio::error_code timer_ec) {
        if (!timer_ec && generation == listen_generation_) accept_next();
      });
      return;
    }
    on_accepted(std::move(socket), now);
    accept_next();
  });
}

void LinkProxy::Impl::on_accepted(tcp::socket socket, Clock::time_point when) {
  ++accepted_;
  {
    std::lock_guard lock(times_mutex_);
    if (healed_at_ && !first_connection_) first_connection_ = when;
  }
  auto connection = std::make_shared<Connection>(*this, std::move(socket));
  connections_.insert(connection);
  ++live_;
  connection->start();
}

void LinkProxy::Impl::close_connections(bool reset) {
  auto connections = connections_;  // connections leave the set as they close
  for (auto& connection : connections) connection->close(reset);
}

void LinkProxy::Impl::forget(const std::shared_ptr<Connection>& connection) {
  if (connections_.erase(connection) > 0) --live_;
}

void LinkProxy::Impl::note_upstream_read() {
  const auto now = Clock::now();
  std::lock_guard lock(times_mutex_);
  if (healed_at_ && !first_byte_) first_byte_ = now;
}

template <class Work>
void LinkProxy::Impl::run_on_io(Work work) {
  if (io_.get_executor().running_in_this_thread()) {
    work();
    return;
  }
  std::promise<void> done;
  auto result = done.get_future();
  asio::post(io_, [&work, &done] {
    try {
      work();
      done.set_value();
    } catch (...) {
      done.set_exception(std::current_exception());
    }
  });
  result.get();
}

LinkProxy::LinkProxy(std::string target_host_port) : impl_(std::make_unique<Impl>(std::move(target_host_port))) {
  impl_->thread_ = std::thread([impl = impl_.get()] { impl->io_.run(); });
}

LinkProxy::~LinkProxy() {
  Impl* impl = impl_.get();
  asio::post(impl->io_, [impl] {
    impl->close_listener();
    impl->close_connections();
    impl->work_guard_.reset();
    // Handlers still pending (the aborted operations of what was just closed) are destroyed
    // with the io_context, releasing the connections they hold.
    impl->io_.stop();
  });
  impl->thread_.join();
}

uint16_t LinkProxy::port() const { return impl_->port_; }
const std::string& LinkProxy::target() const { return impl_->target_text_; }

void LinkProxy::cut() {
  impl_->run_on_io([impl = impl_.get()] {
    impl->cut_ = true;
    impl->close_listener();
    impl->close_connections();
  });
}

void LinkProxy::heal() {
  impl_->run_on_io([impl = impl_.get()] {
    if (!impl->acceptor_.is_open()) impl->listen();
    impl->cut_ = false;
    std::lock_guard lock(impl->times_mutex_);
    impl->healed_at_ = Clock::now();
    impl->first_connection_.reset();
    impl->first_byte_.reset();
  });
}

bool LinkProxy::is_cut() const { return impl_->cut_; }

std::optional<LinkProxy::Clock::time_point> LinkProxy::last_heal() const {
  std::lock_guard lock(impl_->times_mutex_);
  return impl_->healed_at_;
}

std::optional<LinkProxy::Clock::time_point> LinkProxy::first_connection_since_heal() const {
  std::lock_guard lock(impl_->times_mutex_);
  return impl_->first_connection_;
}

std::optional<LinkProxy::Clock::time_point> LinkProxy::first_byte_since_heal() const {
  std::lock_guard lock(impl_->times_mutex_);
  return impl_->first_byte_;
}

void LinkProxy::set_delay(std::chrono::milliseconds delay) { impl_->delay_ms_ = delay.count(); }
void LinkProxy::set_throttle(uint64_t bytes_per_second) { impl_->throttle_bytes_per_second_ = bytes_per_second; }
void LinkProxy::set_blackhole(bool on) { impl_->blackhole_ = on; }
bool LinkProxy::blackholed() const { return impl_->blackhole_; }

void LinkProxy::drop_connections() {
  impl_->run_on_io([impl = impl_.get()] { impl->close_connections(false); });
}

void LinkProxy::reset_connections() {
  impl_->run_on_io([impl = impl_.get()] { impl->close_connections(true); });
}

void LinkProxy::clear_faults() {
  set_delay(std::chrono::milliseconds(0));
  set_throttle(0);
  set_blackhole(false);
}

uint64_t LinkProxy::bytes_up() const { return impl_->bytes_up_; }
uint64_t LinkProxy::bytes_down() const { return impl_->bytes_down_; }
size_t LinkProxy::connections_accepted() const { return impl_->accepted_; }
size_t LinkProxy::live_connections() const { return impl_->live_; }

}  // namespace rollcall::cli
