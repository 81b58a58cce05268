// The node's TCP side: Server (acceptor and the set of live sessions) and ClientSession (one
// connection: handshake, then a client's submits and status requests, or a child node's
// replication, driven through the engine's DownlinkSession). Built on Asio, as in Asio's
// example servers: server -> sessions -> a parser (FrameDecoder) that does no I/O.
//
// Threads: everything here runs on the io_context's single thread; results from the writer
// thread arrive through asio::post. The Server must outlive its sessions' callbacks (it is
// destroyed after io_context::run returns).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <asio.hpp>

#include "engine/event_log.h"
#include "engine/frame_codec.h"
#include "engine/replication.h"
#include "node/alerts.h"
#include "node/commit_queue.h"
#include "node/node_metrics.h"
#include "net/channel.h"

namespace rollcall {

struct ServerOptions {
  FrameLimits frame_limits;
  size_t max_events_per_submit = 10000;
  size_t max_submits_in_flight = 8;  // per session: past this the session stops reading
  size_t max_connections = 1024;     // past this a new connection gets an error and is closed
  size_t max_connections_per_address = 256;  // from one IP address (a flooding peer)
  // Bytes of submits taken but not yet answered, over all sessions: past this every session
  // stops reading until the writer catches up, so memory is bounded by configuration and not
  // by the number or speed of clients.
  size_t max_in_flight_bytes = 256u << 20;
  std::chrono::seconds handshake_timeout{10};  // TCP accepted to hello received (TLS included)
  // A client session with no complete frame for this long (and nothing in flight) is closed.
  std::chrono::seconds idle_timeout{300};
  // TLS (net/tls.h): null serves plain TCP, where every client may write and child nodes are
  // known by their hello only. With TLS, a child must show a node certificate naming its unit,
  // and a client a certificate (writer: write, reader or node: read) or one of these tokens.
  std::shared_ptr<asio::ssl::context> tls;
  std::vector<std::string> write_tokens, read_tokens;
  std::chrono::milliseconds accept_backoff{100};  // after an accept error (e.g. out of files)
  ReplicationOptions replication;                 // for child nodes' sessions
  std::chrono::milliseconds tick{100};            // child sessions' timer (heartbeats, timeouts)
};

class ClientSession;

class Server {
 public:
  // What answers a client's status request (node/node_status.h).
  using StatusFiller = std::function<void(wire::NodeStatus::Builder)>;

  Server(asio::io_context& io, const EventLog& log, CommitQueue& queue,
         ServerOptions options, Alerts& alerts, NodeMetrics& metrics);

  // Binds and listens; returns the bound endpoint (port 0 picks a free port).
  Result<asio::ip::tcp::endpoint> listen(const std::string& host, uint16_t port);
  void start_accepting();
  // Stops accepting, lets every session finish what it has in flight, then closes them.
  void stop_accepting();
  void close_sessions();

  void set_status_filler(StatusFiller filler) { status_filler_ = std::move(filler); }
  // The child nodes connected now, for status.
  void fill_children(capnp::List<wire::ChildLinkStatus>::Builder list) const;
  size_t child_count() const;
  // Per origin, the newest head the children reported (live sessions and ended ones).
  std::map<UnitCode, OriginHead> child_heads() const;

  // For sessions.
  const UnitCode& unit() const { return log_.unit(); }
  const std::string& incarnation() const { return log_.incarnation(); }
  const EventLog& log() const { return log_; }
  CommitQueue& queue() { return queue_; }
  Alerts& alerts() { return alerts_; }
  NodeMetrics& metrics() { return metrics_; }
  const StatusFiller& status_filler() const { return status_filler_; }
  // A child session ends: keep the heads it reported.
  void remember_heads(const std::map<UnitCode, OriginHead>& heads);
  const ServerOptions& options() const { return options_; }
  void forget(const std::shared_ptr<ClientSession>& session, const asio::ip::address& address);
  size_t session_count() const { return sessions_.size(); }
  // Runs once the last session has closed after stop_accepting().
  void on_idle(std::function<void()> callback) { on_idle_ = std::move(callback); }

  // The node-wide in-flight budget. A session that finds it spent waits to be resumed.
  bool budget_spent() const { return in_flight_bytes_ >= options_.max_in_flight_bytes; }
  void take_budget(size_t bytes) {
    in_flight_bytes_ += bytes;
    metrics_.in_flight_bytes.store(in_flight_bytes_, std::memory_order_relaxed);
  }
  void return_budget(size_t bytes);
  void wait_for_budget(const std::shared_ptr<ClientSession>& session) { waiting_for_budget_.push_back(session); }

 private:
  void accept_next();

  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer accept_backoff_;
  const EventLog& log_;
  CommitQueue& queue_;
  ServerOptions options_;
  Alerts& alerts_;
  NodeMetrics& metrics_;
  StatusFiller status_filler_;
  std::map<UnitCode, OriginHead> ended_heads_;
  std::set<std::shared_ptr<ClientSession>> sessions_;
  std::map<asio::ip::address, size_t> per_address_;
  bool accepting_ = false;
  std::function<void()> on_idle_;
  size_t in_flight_bytes_ = 0;
  std::vector<std::weak_ptr<ClientSession>> waiting_for_budget_;
};

class ClientSession : public std::enable_shared_from_this<ClientSession> {
 public:
  ClientSession(Server& server, asio::ip::tcp::socket socket, asio::ip::address address);
  void start();
  // Finish what is in flight, then close.
  void close_gracefully();
  // The node-wide budget has room again: go on reading.
  void resume();
  // Set for a child node's session.
  const DownlinkSession* downlink() const { return downlink_.get(); }

 private:
  enum class State { kAwaitHello, kClient, kChild, kClosing };

  void on_handshake(const asio::error_code& ec);
  // What a client may do, from its certificate or token (TLS) or everything (plain TCP).
  Result<Access> client_access(wire::Hello::Reader hello) const;
  // False (and the session failing) unless the client may write.
  bool may_write(const char* what);
  void arm_idle_timer();
  void read_more();
  // Handles decoded frames while the in-flight limit allows; the rest wait in the decoder.
  void process_frames();
  // False (and registered to be resumed) while the node-wide in-flight budget is spent.
  bool budget_available();
  void on_frame(std::unique_ptr<Frame> frame);
  void on_hello(wire::Hello::Reader hello);
  // The events of a submit or import, copied into memory the node owns, as a writer request.
  static CommitQueue::Request copied_request(capnp::List<schema::Event>::Reader events);
  // False (and the session failing) past the node's events-per-message cap.
  bool within_submit_cap(size_t events, const char* what);
  void on_submit(wire::Submit::Reader submit);
  // Events numbered elsewhere, ingested as a child's batch would be; answered importResult.
  void on_import(wire::Import::Reader import);
  void answer_import(uint64_t tag, const Result<IngestReport>& result);
  void on_submit_done(uint64_t tag, size_t bytes, std::vector<SubmitOutcome> outcomes);
  void on_status_request();
  // Child nodes: the hello, then every frame through the DownlinkSession.
  void start_child(wire::Hello::Reader hello);
  void apply(Outbox& out);
  void on_ingest_done(size_t bytes, Result<IngestReport> result);
  void schedule_tick();
  void send(std::vector<uint8_t> frame);
  void write_next();
  void fail(wire::ErrorCode code, const std::string& message);
  void close_now();
  void maybe_finish_closing();

  Server& server_;
  Channel channel_;
  asio::ip::address address_;
  asio::any_io_executor executor_;  // the session's thread, for results from the writer
  asio::steady_timer handshake_timer_;
  asio::steady_timer tick_timer_;
  asio::steady_timer idle_timer_;
  std::unique_ptr<DownlinkSession> downlink_;
  std::string peer_;  // HOST:PORT
  std::string who_;   // for logs: HOST:PORT and the certificate's identity once verified
  std::optional<PeerIdentity> identity_;
  Access access_ = Access::kNone;
  FrameDecoder decoder_;
  // Not zeroed: only what a read filled is looked at, and a session of small frames keeps the
  // untouched pages of its 64 KiB out of the node's RSS (1,000 child sessions: 64 MiB).
  std::array<uint8_t, 64 * 1024> read_buffer_;
  std::deque<std::vector<uint8_t>> write_queue_;
  bool writing_ = false;
  bool reading_ = false;
  size_t in_flight_ = 0;  // submits or child batches taken and not yet answered
  // Answers queued and not yet written: past the cap the session stops reading its peer.
  static constexpr size_t kMaxQueuedBytes = 8u << 20;
  static constexpr std::chrono::seconds kCloseDeadline{10};
  size_t queued_bytes_ = 0;
  bool close_deadline_armed_ = false;
  bool waiting_for_budget_ = false;
  State state_ = State::kAwaitHello;
  bool closed_ = false;
  bool handshaken_ = false;
};

}  // namespace rollcall
