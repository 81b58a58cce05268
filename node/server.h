// The node's TCP side: Server (acceptor and the set of live sessions) and ClientSession (one
// connection: handshake, then submits). Built on Asio, as in Asio's example servers:
// server -> sessions -> a parser (FrameDecoder) that does no I/O.
//
// Threads: everything here runs on the io_context's single thread; results from the writer
// thread arrive through asio::post. The Server must outlive its sessions' callbacks (it is
// destroyed after io_context::run returns).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <asio.hpp>

#include "engine/event_log.h"
#include "engine/frame_codec.h"
#include "node/commit_queue.h"

namespace rollcall {

struct ServerOptions {
  FrameLimits frame_limits;
  size_t max_events_per_submit = 10000;
  size_t max_submits_in_flight = 8;  // per session: past this the session stops reading
  size_t max_connections = 1024;     // past this a new connection gets an error and is closed
  // Bytes of submits taken but not yet answered, over all sessions: past this every session
  // stops reading until the writer catches up, so memory is bounded by configuration and not
  // by the number or speed of clients.
  size_t max_in_flight_bytes = 256u << 20;
  std::chrono::seconds handshake_timeout{10};
  std::chrono::milliseconds accept_backoff{100};  // after an accept error (e.g. out of files)
};

class ClientSession;

class Server {
 public:
  Server(asio::io_context& io, const UnitCode& unit, const std::string& incarnation,
         CommitQueue& queue, ServerOptions options);

  // Binds and listens; returns the bound endpoint (port 0 picks a free port).
  Result<asio::ip::tcp::endpoint> listen(const std::string& host, uint16_t port);
  void start_accepting();
  // Stops accepting, lets every session finish what it has in flight, then closes them.
  void stop_accepting();
  void close_sessions();

  // For sessions.
  const UnitCode& unit() const { return unit_; }
  const std::string& incarnation() const { return incarnation_; }
  CommitQueue& queue() { return queue_; }
  const ServerOptions& options() const { return options_; }
  void forget(const std::shared_ptr<ClientSession>& session);
  size_t session_count() const { return sessions_.size(); }
  // Runs once the last session has closed after stop_accepting().
  void on_idle(std::function<void()> callback) { on_idle_ = std::move(callback); }

  // The node-wide in-flight budget. A session that finds it spent waits to be resumed.
  bool budget_spent() const { return in_flight_bytes_ >= options_.max_in_flight_bytes; }
  void take_budget(size_t bytes) { in_flight_bytes_ += bytes; }
  void return_budget(size_t bytes);
  void wait_for_budget(const std::shared_ptr<ClientSession>& session) { waiting_for_budget_.push_back(session); }

 private:
  void accept_next();

  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer accept_backoff_;
  UnitCode unit_;
  std::string incarnation_;
  CommitQueue& queue_;
  ServerOptions options_;
  std::set<std::shared_ptr<ClientSession>> sessions_;
  bool accepting_ = false;
  std::function<void()> on_idle_;
  size_t in_flight_bytes_ = 0;
  std::vector<std::weak_ptr<ClientSession>> waiting_for_budget_;
};

class ClientSession : public std::enable_shared_from_this<ClientSession> {
 public:
  ClientSession(Server& server, asio::ip::tcp::socket socket);
  void start();
  // Finish what is in flight, then close.
  void close_gracefully();
  // The node-wide budget has room again: go on reading.
  void resume();

 private:
  enum class State { kAwaitHello, kClient, kClosing };

  void read_more();
  // Handles decoded frames while the in-flight limit allows; the rest wait in the decoder.
  void process_frames();
  // False (and registered to be resumed) while the node-wide in-flight budget is spent.
  bool budget_available();
  void on_frame(std::unique_ptr<Frame> frame);
  void on_hello(wire::Hello::Reader hello);
  void on_submit(wire::Submit::Reader submit);
  void on_submit_done(uint64_t tag, size_t bytes, std::vector<SubmitOutcome> outcomes);
  void send(std::vector<uint8_t> frame);
  void write_next();
  void fail(wire::ErrorCode code, const std::string& message);
  void close_now();
  void maybe_finish_closing();

  Server& server_;
  asio::ip::tcp::socket socket_;
  asio::any_io_executor executor_;  // the session's thread, for results from the writer
  asio::steady_timer handshake_timer_;
  std::string peer_;
  FrameDecoder decoder_;
  std::array<uint8_t, 64 * 1024> read_buffer_{};
  std::deque<std::vector<uint8_t>> write_queue_;
  bool writing_ = false;
  bool reading_ = false;
  size_t in_flight_ = 0;
  bool waiting_for_budget_ = false;
  State state_ = State::kAwaitHello;
  bool closed_ = false;
};

}  // namespace rollcall
