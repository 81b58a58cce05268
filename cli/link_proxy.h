// LinkProxy: a fault-injecting TCP proxy on loopback for integration tests and benchmarks. Put one
// between a child node and its parent (the child's --parent names the proxy's address()) to cut
// and heal the link between two real processes, to delay, throttle, blackhole, drop or reset it,
// and to measure how fast the child reconnects.
//
// Forwarding: every accepted client gets its own connection to the target; bytes are copied in
// both directions (64 KiB per direction, one chunk at a time, each chunk optionally delayed).
// When either side ends or fails, both sockets are closed: no half-closed links. If the target
// refuses (or does not answer within 5 s), the client is closed.
//
// cut() closes every proxied connection and the listening socket, so new connects are refused
// (ECONNREFUSED) rather than left hanging; heal() listens again on the same port.
//
// Ownership and threads: a LinkProxy owns its io_context, the listening socket, every proxied
// connection and ONE background thread that runs all of them; the constructor starts the thread
// and the destructor closes everything (live connections included) and joins it. No user code
// runs on that thread. The public functions may be called from any thread; cut() and heal() hand
// their work to the proxy's thread and return once it is done.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace rollcall::cli {

class LinkProxy {
 public:
  using Clock = std::chrono::steady_clock;

  // Proxies to `target_host_port` ("127.0.0.1:7401"; loopback only), listening on 127.0.0.1 with
  // a port picked by the OS. Throws std::invalid_argument for a bad or non-loopback target and
  // std::system_error when it cannot listen.
  explicit LinkProxy(std::string target_host_port);
  ~LinkProxy();
  LinkProxy(const LinkProxy&) = delete;
  LinkProxy& operator=(const LinkProxy&) = delete;

  uint16_t port() const;
  std::string address() const { return "127.0.0.1:" + std::to_string(port()); }
  const std::string& target() const;

  // Closes every proxied connection (both sides) and the listening socket; until heal(), new
  // connects are refused. Returns once done. Cutting a cut proxy does nothing.
  void cut();
  // Listens again on the same port and accepts; returns once listening (throws
  // std::system_error if the port cannot be bound). Records the heal time and resets the two
  // "since heal" times below. Healing a proxy that is listening only does the recording.
  void heal();
  bool is_cut() const;

  // The time of the latest heal(); nullopt before the first.
  std::optional<Clock::time_point> last_heal() const;
  // When the first connection was accepted after the latest heal(); nullopt until then (and
  // before the first heal).
  std::optional<Clock::time_point> first_connection_since_heal() const;
  // When the first bytes from a client (client -> target) were read after the latest heal();
  // nullopt until then (and before the first heal).
  std::optional<Clock::time_point> first_byte_since_heal() const;

  // Latency added before forwarding each chunk, in each direction (0, the default, adds none).
  // A direction forwards one chunk at a time, so a delay also caps its throughput at
  // 64 KiB per delay. Applies to chunks read after the call.
  void set_delay(std::chrono::milliseconds delay);
  // Caps each direction of each connection at about this many bytes a second (0, the default:
  // no cap), by reading smaller chunks and pausing after each. Applies to chunks read after the
  // call.
  void set_throttle(uint64_t bytes_per_second);
  // A blackhole, like a route that loses every packet: while on, live connections forward
  // nothing (what they read is held, not lost, as TCP would retransmit it) and new clients are
  // accepted but not connected to the target; the peers notice only through their own timeouts.
  // Turning it off forwards what was held and connects the waiting clients.
  void set_blackhole(bool on);
  bool blackholed() const;
  // Closes every live connection at once, both sides, with an orderly FIN wherever the stream is
  // (in the middle of a frame, perhaps); new connects are accepted as before. Returns once done.
  void drop_connections();
  // The same with a TCP reset (RST) on both sides instead of a FIN.
  void reset_connections();
  // Clears delay, throttle and blackhole (not a cut: see heal()).
  void clear_faults();

  // Bytes written to the target (up) and to clients (down), over every connection so far.
  uint64_t bytes_up() const;
  uint64_t bytes_down() const;
  // Clients accepted so far (including those whose target connect failed).
  size_t connections_accepted() const;
  // Clients accepted and not yet closed.
  size_t live_connections() const;

 private:
  struct Impl;
  class Connection;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rollcall::cli
