#include "node/server.h"

#include <utility>

#include <capnp/serialize.h>

#include <spdlog/spdlog.h>

#include "engine/capnp_guard.h"
#include "engine/event_copy.h"
#include "engine/protocol.h"
#include "node/node_log.h"
#include "node/wall_clock.h"
#include "schema/storage.capnp.h"

namespace rollcall {

namespace {

void merge_heads(std::map<UnitCode, OriginHead>& into, const std::map<UnitCode, OriginHead>& heads) {
  for (const auto& [origin, head] : heads) {
    OriginHead& kept = into[origin];
    if (head.seq >= kept.seq) kept = head;
  }
}

}  // namespace

Server::Server(asio::io_context& io, const EventLog& log, CommitQueue& queue,
               ServerOptions options, Alerts& alerts, NodeMetrics& metrics)
    : acceptor_(io), accept_backoff_(io), log_(log), queue_(queue), options_(options),
      alerts_(alerts), metrics_(metrics) {
  metrics_.in_flight_limit_bytes = options_.max_in_flight_bytes;
}

Result<asio::ip::tcp::endpoint> Server::listen(const std::string& host, uint16_t port) {
  asio::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return invalid_input("listen address '" + host + "' is not an IP address");
  asio::ip::tcp::endpoint endpoint(address, port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return Error(ErrorKind::kIo, "cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
  return acceptor_.local_endpoint();
}

void Server::start_accepting() {
  accepting_ = true;
  accept_next();
}

void Server::accept_next() {
  acceptor_.async_accept([this](asio::error_code ec, asio::ip::tcp::socket socket) {
    if (!accepting_) return;
    if (ec) {
      // Out of file descriptors and the like: back off instead of spinning.
      node_log()->warn("accept failed: {}; retrying in {} ms", ec.message(), options_.accept_backoff.count());
      accept_backoff_.expires_after(options_.accept_backoff);
      accept_backoff_.async_wait([this](asio::error_code timer_ec) {
        if (!timer_ec && accepting_) accept_next();
      });
      return;
    }
    asio::error_code remote_ec;
    const auto remote = socket.remote_endpoint(remote_ec);
    const asio::ip::address address = remote_ec ? asio::ip::address() : remote.address();
    std::string refusal;
    if (sessions_.size() >= options_.max_connections) {
      refusal = "the node has " + std::to_string(sessions_.size()) + " connections open, its limit; retry later";
    } else if (per_address_[address] >= options_.max_connections_per_address) {
      refusal = address.to_string() + " has " + std::to_string(per_address_[address]) +
                " connections open, the limit for one address; retry later";
    }
    if (!refusal.empty()) {
      node_log()->warn("refusing a connection from {}: {}", address.to_string(), refusal);
      asio::error_code ignored;
      // A small frame on a fresh socket: the send buffer takes it without blocking. Over TLS
      // the peer cannot read it (no handshake yet) and sees the connection closed.
      if (!options_.tls) asio::write(socket, asio::buffer(error_frame(wire::ErrorCode::BUSY, refusal)), ignored);
      socket.close(ignored);
    } else {
      ++per_address_[address];
      auto session = std::make_shared<ClientSession>(*this, std::move(socket), address);
      sessions_.insert(session);
      session->start();
    }
    accept_next();
  });
}

void Server::stop_accepting() {
  accepting_ = false;
  asio::error_code ec;
  acceptor_.close(ec);
  accept_backoff_.cancel();
}

void Server::forget(const std::shared_ptr<ClientSession>& session, const asio::ip::address& address) {
  if (sessions_.erase(session) == 0) return;
  if (auto it = per_address_.find(address); it != per_address_.end() && --it->second == 0) per_address_.erase(it);
  if (!accepting_ && sessions_.empty() && on_idle_) std::exchange(on_idle_, nullptr)();
}

void Server::return_budget(size_t bytes) {
  in_flight_bytes_ -= bytes;
  metrics_.in_flight_bytes.store(in_flight_bytes_, std::memory_order_relaxed);
  if (budget_spent() || waiting_for_budget_.empty()) return;
  auto waiting = std::move(waiting_for_budget_);
  waiting_for_budget_.clear();
  for (auto& weak : waiting)
    if (auto session = weak.lock()) session->resume();
}

size_t Server::child_count() const {
  size_t n = 0;
  for (const auto& session : sessions_) n += session->downlink() != nullptr;
  return n;
}

void Server::fill_children(capnp::List<wire::ChildLinkStatus>::Builder list) const {
  unsigned i = 0;
  for (const auto& session : sessions_) {
    const DownlinkSession* child = session->downlink();
    if (!child || i >= list.size()) continue;
    auto out = list[i++];
    out.setUnit(child->child().str());
    out.setAddress(child->peer());
    out.setIncarnation(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(child->incarnation().data()),
                                           child->incarnation().size()));
    out.setConnectedSince(child->connected_since().micros);
    out.setLastMessageAt(child->last_heard().micros);
    out.setEventsApplied(child->events_applied());
    out.setEventsDuplicate(child->events_duplicate());
    out.setListenAddress(child->listen_address());
  }
}

std::map<UnitCode, OriginHead> Server::child_heads() const {
  auto heads = ended_heads_;
  for (const auto& session : sessions_)
    if (const DownlinkSession* child = session->downlink()) merge_heads(heads, child->heads());
  return heads;
}

void Server::remember_heads(const std::map<UnitCode, OriginHead>& heads) { merge_heads(ended_heads_, heads); }

void Server::close_sessions() {
  auto sessions = sessions_;  // sessions remove themselves as they close
  for (auto& session : sessions) session->close_gracefully();
}

ClientSession::ClientSession(Server& server, asio::ip::tcp::socket socket, asio::ip::address address)
    : server_(server),
      channel_(std::move(socket), server.options().tls),
      address_(address),
      executor_(channel_.socket().get_executor()),
      handshake_timer_(executor_),
      tick_timer_(executor_),
      idle_timer_(executor_),
      decoder_(server.options().frame_limits) {
  asio::error_code ec;
  auto remote = channel_.socket().remote_endpoint(ec);
  peer_ = ec ? "?" : remote.address().to_string() + ":" + std::to_string(remote.port());
  who_ = peer_;
  channel_.socket().set_option(asio::ip::tcp::no_delay(true), ec);
}

void ClientSession::start() {
  handshake_timer_.expires_after(server_.options().handshake_timeout);
  handshake_timer_.async_wait([self = shared_from_this()](asio::error_code ec) {
    if (ec || self->state_ != State::kAwaitHello || self->closed_) return;
    if (!self->handshaken_) {
      // Nothing can be said over a TLS handshake that did not finish.
      node_log()->warn("{}: closing: no TLS handshake within the handshake timeout", self->who_);
      self->close_now();
      return;
    }
    self->fail(wire::ErrorCode::TIMEOUT, "no hello within the handshake timeout");
  });
  channel_.async_handshake(TlsSide::kServer,
                           [self = shared_from_this()](asio::error_code ec) { self->on_handshake(ec); });
}

void ClientSession::on_handshake(const asio::error_code& ec) {
  if (closed_) return;
  if (ec) {
    node_log()->warn("{}: TLS handshake failed: {}", who_, channel_.handshake_error(ec));
    close_now();
    return;
  }
  handshaken_ = true;
  auto identity = channel_.peer_identity();
  if (!identity.ok()) {
    fail(wire::ErrorCode::UNAUTHORIZED, identity.error().message());
    return;
  }
  identity_ = *identity;
  if (identity_) who_ = peer_ + " (" + cert_role_name(identity_->role) + " " + identity_->name + ")";
  read_more();
}

void ClientSession::arm_idle_timer() {
  idle_timer_.expires_after(server_.options().idle_timeout);
  idle_timer_.async_wait([self = shared_from_this()](asio::error_code ec) {
    if (ec || self->closed_ || self->state_ != State::kClient) return;
    if (self->in_flight_ > 0) {
      self->arm_idle_timer();  // waiting on us, not idle
      return;
    }
    self->fail(wire::ErrorCode::TIMEOUT, "no request within the idle timeout (" +
                                             std::to_string(self->server_.options().idle_timeout.count()) + " s)");
  });
}

void ClientSession::read_more() {
  if (closed_ || state_ == State::kClosing) return;
  if (queued_bytes_ > kMaxQueuedBytes) return;  // the peer does not read its answers: resumed by a write
  if (in_flight_ >= server_.options().max_submits_in_flight) return;  // resumed by a result
  if (!budget_available()) return;                                    // resumed by the server
  if (reading_) return;
  reading_ = true;
  channel_.async_read_some(asio::buffer(read_buffer_),
                           [self = shared_from_this()](asio::error_code ec, size_t n) {
                            self->reading_ = false;
                            if (ec) {
                              if (ec != asio::error::eof && ec != asio::error::operation_aborted)
                                node_log()->debug("{}: read failed: {}", self->who_, ec.message());
                              self->state_ = State::kClosing;
                              self->maybe_finish_closing();
                              return;
                            }
                            if (self->downlink_) {
                              self->downlink_->on_bytes(wall_now());
                              NodeMetrics::add(self->server_.metrics().child_bytes_received, n);
                            }
                            if (auto s = self->decoder_.feed(self->read_buffer_.data(), n); !s.ok()) {
                              self->fail(wire::ErrorCode::BAD_FRAME, s.error().message());
                              return;
                            }
                            self->process_frames();
                            self->read_more();
                          });
}

bool ClientSession::budget_available() {
  if (!server_.budget_spent()) return true;
  if (!waiting_for_budget_) {
    waiting_for_budget_ = true;
    NodeMetrics::add(server_.metrics().backpressure, 1);
    server_.wait_for_budget(shared_from_this());
  }
  return false;
}

void ClientSession::resume() {
  waiting_for_budget_ = false;
  process_frames();
  read_more();
}

void ClientSession::process_frames() {
  while (!closed_ && state_ != State::kClosing && in_flight_ < server_.options().max_submits_in_flight &&
         queued_bytes_ <= kMaxQueuedBytes && budget_available()) {
    auto frame = decoder_.next();
    if (!frame) break;
    on_frame(std::move(frame));
  }
}

void ClientSession::on_frame(std::unique_ptr<Frame> frame) {
  if (state_ == State::kChild) {
    Outbox out;
    downlink_->on_frame(*frame, wall_now(), out);
    apply(out);
    return;
  }
  if (state_ == State::kClient) arm_idle_timer();
  auto handled = guard_capnp("message", [&]() -> Status {
    auto message = frame->root<wire::Message>();
    switch (message.which()) {
      case wire::Message::HELLO:
        if (state_ != State::kAwaitHello) return invalid_input("a second hello");
        on_hello(message.getHello());
        return ok_status();
      case wire::Message::SUBMIT:
        if (state_ != State::kClient) return invalid_input("submit before hello");
        on_submit(message.getSubmit());
        return ok_status();
      case wire::Message::IMPORT:
        if (state_ != State::kClient) return invalid_input("import before hello");
        on_import(message.getImport());
        return ok_status();
      case wire::Message::STATUS_REQUEST:
        if (state_ != State::kClient) return invalid_input("status request before hello");
        on_status_request();
        return ok_status();
      default:
        return invalid_input("unexpected message from a client");
    }
  });
  if (!handled.ok()) fail(wire::ErrorCode::BAD_MESSAGE, handled.error().message());
}

void ClientSession::on_hello(wire::Hello::Reader hello) {
  handshake_timer_.cancel();
  if (auto s = check_hello(hello); !s.ok()) {
    fail(wire::ErrorCode::INCOMPATIBLE_PROTOCOL, s.error().message());
    return;
  }
  if (hello.getRole() == wire::PeerRole::CHILD) {
    if (channel_.secure()) {
      const std::string claimed = hello.getUnit().cStr();
      if (!identity_ || identity_->role != CertRole::kNode) {
        fail(wire::ErrorCode::UNAUTHORIZED, "a child node must show a node certificate (OU=node) of this node's CA");
        return;
      }
      if (identity_->name != claimed) {
        fail(wire::ErrorCode::UNAUTHORIZED,
             "the hello says unit '" + claimed + "' but the certificate names unit " + identity_->name);
        return;
      }
    }
    start_child(hello);
    return;
  }
  auto access = client_access(hello);
  if (!access.ok()) {
    fail(wire::ErrorCode::UNAUTHORIZED, access.error().message());
    return;
  }
  access_ = *access;
  state_ = State::kClient;
  arm_idle_timer();
  node_log()->debug("{}: client hello ({}), access {}", who_, std::string(hello.getSoftware().cStr()),
                    access_name(access_));
  capnp::MallocMessageBuilder builder;
  fill_hello(builder.initRoot<wire::Message>().initHello(), server_.unit().str(),
             wire::PeerRole::CLIENT, server_.incarnation());
  send(encode_frame(builder));
}

Result<Access> ClientSession::client_access(wire::Hello::Reader hello) const {
  if (!channel_.secure()) return Access::kWrite;  // plain TCP: asked for with --plaintext
  if (identity_) return certificate_access(*identity_);
  const std::string token = hello.getToken().cStr();
  if (!token.empty()) {
    if (Access access = token_access(token, server_.options().write_tokens, server_.options().read_tokens);
        access != Access::kNone)
      return access;
    return Error(ErrorKind::kUnauthorized, "the client's token is not one of this node's tokens");
  }
  return Error(ErrorKind::kUnauthorized,
               "a client must show a certificate of this node's CA (--tls-cert) or a token (--token-file)");
}

bool ClientSession::may_write(const char* what) {
  if (access_ == Access::kWrite) return true;
  fail(wire::ErrorCode::UNAUTHORIZED,
       std::string("read-only access: ") + what + " needs a writer certificate or a write token");
  return false;
}

void ClientSession::on_status_request() {
  capnp::MallocMessageBuilder builder;
  auto status = builder.initRoot<wire::Message>().initStatus();
  if (server_.status_filler()) server_.status_filler()(status);
  send(encode_frame(builder));
}

void ClientSession::start_child(wire::Hello::Reader hello) {
  state_ = State::kChild;
  downlink_ = std::make_unique<DownlinkSession>(server_.log(), server_.unit(), peer_,
                                                server_.options().replication);
  std::optional<std::string> known;
  if (auto child = UnitCode::parse(std::string(hello.getUnit().cStr())); child.ok()) {
    auto recorded = server_.log().child_incarnation(*child);
    if (!recorded.ok()) {
      fail(wire::ErrorCode::INTERNAL, "reading child incarnations: " + recorded.error().message());
      return;
    }
    known = *recorded;
  }
  Outbox out;
  downlink_->on_hello(hello, known, wall_now(), out);
  if (downlink_->state() == DownlinkSession::State::kStreaming)
    node_log()->info("{}: child {} connected", who_, downlink_->child().str());
  apply(out);
  schedule_tick();
}

void ClientSession::schedule_tick() {
  tick_timer_.expires_after(server_.options().tick);
  tick_timer_.async_wait([self = shared_from_this()](asio::error_code ec) {
    if (ec || self->closed_ || self->state_ != State::kChild) return;
    Outbox out;
    self->downlink_->on_tick(wall_now(), out);
    self->apply(out);
    self->schedule_tick();
  });
}

void ClientSession::apply(Outbox& out) {
  for (auto& frame : out.frames) send(std::move(frame));
  for (auto& alert : out.alerts) server_.alerts().raise(wall_now(), alert);
  if (out.record_incarnation)
    server_.queue().record_child_incarnation(out.record_incarnation->first, out.record_incarnation->second);
  if (out.fork) server_.queue().record_fork(*out.fork);
  for (auto& job : out.ingests) {
    ++in_flight_;
    server_.take_budget(job.bytes);
    const size_t taken = job.bytes;
    auto request = CommitQueue::ingest_request(
        std::move(job), [self = shared_from_this(), taken](Result<IngestReport> result) mutable {
          auto executor = self->executor_;
          asio::post(executor, [self = std::move(self), taken, result = std::move(result)]() mutable {
            self->on_ingest_done(taken, std::move(result));
          });
        });
    request.from_child = true;
    if (!server_.queue().enqueue(std::move(request))) {
      --in_flight_;
      server_.return_budget(taken);
      fail(wire::ErrorCode::SHUTTING_DOWN, "the node is shutting down; reconnect later");
      return;
    }
  }
  if (out.close) {
    if (!out.frames.empty() || !out.alerts.empty())
      node_log()->warn("{}: closing child session: {}", who_, *out.close);
    else
      node_log()->info("{}: child session ended: {}", who_, *out.close);
    state_ = State::kClosing;
    maybe_finish_closing();
  }
}

void ClientSession::on_ingest_done(size_t bytes, Result<IngestReport> result) {
  --in_flight_;
  server_.return_budget(bytes);
  if (downlink_ && state_ == State::kChild) {
    Outbox out;
    downlink_->on_ingested(result, wall_now(), out);
    apply(out);
  } else if (downlink_) {
    Outbox ignored;  // the session is closing: keep the machine's count of answers right
    downlink_->on_ingested(result, wall_now(), ignored);
  }
  process_frames();
  read_more();
  maybe_finish_closing();
}

CommitQueue::Request ClientSession::copied_request(capnp::List<schema::Event>::Reader events) {
  // Copy the events into a message the node owns, here on the session's thread (inside the
  // caller's guard_capnp). The copy reads every field under the frame's traversal limit, so a
  // malformed or amplified message fails here, on its own connection; the writer then reads
  // only well-formed memory of a bounded size.
  auto owned = std::make_shared<capnp::MallocMessageBuilder>();
  auto list = owned->initRoot<storage::LogBatch>().initEvents(events.size());
  for (unsigned i = 0; i < events.size(); ++i) copy_event_checked(events[i], list[i]);
  CommitQueue::Request request;
  request.owner = owned;
  request.bytes = capnp::computeSerializedSizeInWords(*owned) * sizeof(capnp::word);
  request.events.reserve(events.size());
  for (auto event : list.asReader()) request.events.push_back(event);
  return request;
}

bool ClientSession::within_submit_cap(size_t events, const char* what) {
  if (events <= server_.options().max_events_per_submit) return true;
  fail(wire::ErrorCode::BAD_MESSAGE, std::to_string(events) + " events in one " + what + "; at most " +
                                         std::to_string(server_.options().max_events_per_submit) + " per " + what);
  return false;
}

void ClientSession::on_import(wire::Import::Reader import) {
  const uint64_t tag = import.getRequestTag();
  auto events = import.getEvents();
  if (!may_write("import") || !within_submit_cap(events.size(), "import")) return;
  CommitQueue::Request request = copied_request(events);
  // Only events of this node's subtree, as from a child; the rest of the checks are ingest's.
  SubtreeCheck subtree(server_.log().map(), server_.unit());
  for (auto e : request.events) {
    if (auto outside = subtree.outside(e)) {
      answer_import(tag, Result<IngestReport>(Error(ErrorKind::kUnauthorized, *outside)));
      return;
    }
  }
  ++in_flight_;
  server_.take_budget(request.bytes);
  const size_t taken = request.bytes;
  request.ingested = [self = shared_from_this(), tag, taken](Result<IngestReport> result) mutable {
    auto executor = self->executor_;
    asio::post(executor, [self = std::move(self), tag, taken, result = std::move(result)]() mutable {
      --self->in_flight_;
      self->server_.return_budget(taken);
      self->answer_import(tag, result);
      self->process_frames();
      self->read_more();
      self->maybe_finish_closing();
    });
  };
  if (!server_.queue().enqueue(std::move(request))) {
    --in_flight_;
    server_.return_budget(taken);
    fail(wire::ErrorCode::SHUTTING_DOWN, "the node is shutting down; import again later");
  }
}

void ClientSession::answer_import(uint64_t tag, const Result<IngestReport>& result) {
  capnp::MallocMessageBuilder builder;
  auto answer = builder.initRoot<wire::Message>().initImportResult();
  answer.setRequestTag(tag);
  answer.setOk(result.ok());
  if (result.ok()) {
    answer.setApplied(static_cast<uint32_t>(result->applied));
    answer.setDuplicates(static_cast<uint32_t>(result->duplicates));
  } else {
    answer.setCode(result.error().kind() == ErrorKind::kUnauthorized ? wire::ErrorCode::NOT_IN_SUBTREE
                                                                     : ingest_error_code(result.error()));
    answer.setMessage(result.error().message());
  }
  send(encode_frame(builder));
}

void ClientSession::on_submit(wire::Submit::Reader submit) {
  const uint64_t tag = submit.getRequestTag();
  auto events = submit.getEvents();
  if (!may_write("submit") || !within_submit_cap(events.size(), "submit")) return;
  CommitQueue::Request request = copied_request(events);
  ++in_flight_;
  server_.take_budget(request.bytes);
  const size_t taken = request.bytes;
  // Runs on the writer thread: only hand the results over. The session reference moves into
  // the posted handler, so the session is never destroyed on the writer thread.
  request.done = [self = shared_from_this(), tag, taken](std::vector<SubmitOutcome> outcomes) mutable {
    auto executor = self->executor_;
    asio::post(executor, [self = std::move(self), tag, taken, outcomes = std::move(outcomes)]() mutable {
      self->on_submit_done(tag, taken, std::move(outcomes));
    });
  };
  if (!server_.queue().enqueue(std::move(request))) {
    --in_flight_;
    server_.return_budget(taken);
    fail(wire::ErrorCode::SHUTTING_DOWN, "the node is shutting down; submit again later");
  }
}

void ClientSession::on_submit_done(uint64_t tag, size_t bytes, std::vector<SubmitOutcome> outcomes) {
  capnp::MallocMessageBuilder builder;
  auto result = builder.initRoot<wire::Message>().initSubmitResult();
  result.setRequestTag(tag);
  auto list = result.initOutcomes(static_cast<unsigned>(outcomes.size()));
  for (unsigned i = 0; i < outcomes.size(); ++i) {
    const SubmitOutcome& o = outcomes[i];
    if (o.accepted) {
      auto ref = list[i].initAccepted();
      ref.setOrigin(o.accepted->origin.str());
      ref.setSeq(o.accepted->seq);
      ref.setRepeated(o.repeated);
    } else {
      auto rejected = list[i].initRejected();
      rejected.setCode(o.rejected ? o.rejected->code : wire::RejectCode::INTERNAL);
      rejected.setMessage(o.rejected ? o.rejected->message : "no outcome");
    }
  }
  --in_flight_;
  send(encode_frame(builder));
  server_.return_budget(bytes);
  process_frames();
  read_more();
  maybe_finish_closing();
}

void ClientSession::send(std::vector<uint8_t> frame) {
  if (closed_) return;
  queued_bytes_ += frame.size();
  if (downlink_) NodeMetrics::add(server_.metrics().child_bytes_sent, frame.size());
  write_queue_.push_back(std::move(frame));
  write_next();
}

void ClientSession::write_next() {
  if (writing_ || write_queue_.empty() || closed_) return;
  writing_ = true;
  channel_.async_write(asio::buffer(write_queue_.front()),
                       [self = shared_from_this()](asio::error_code ec, size_t) {
                      self->writing_ = false;
                      const bool was_over = self->queued_bytes_ > kMaxQueuedBytes;
                      self->queued_bytes_ -= self->write_queue_.front().size();
                      self->write_queue_.pop_front();
                      if (ec) {
                        self->close_now();
                        return;
                      }
                      self->write_next();
                      if (was_over && self->queued_bytes_ <= kMaxQueuedBytes) {
                        self->process_frames();
                        self->read_more();
                      }
                      self->maybe_finish_closing();
                    });
}

void ClientSession::fail(wire::ErrorCode code, const std::string& message) {
  node_log()->warn("{}: closing: {}: {}", who_, error_code_name(code), message);
  send(error_frame(code, message));
  state_ = State::kClosing;
  maybe_finish_closing();
}

void ClientSession::close_gracefully() {
  state_ = State::kClosing;
  maybe_finish_closing();
}

void ClientSession::maybe_finish_closing() {
  if (state_ != State::kClosing || closed_) return;
  if (!close_deadline_armed_) {
    // A peer that stopped reading (or a dead link) must not hold the connection forever.
    close_deadline_armed_ = true;
    handshake_timer_.expires_after(kCloseDeadline);
    handshake_timer_.async_wait([self = shared_from_this()](asio::error_code ec) {
      if (!ec) self->close_now();
    });
  }
  if (in_flight_ > 0 || writing_ || !write_queue_.empty()) return;
  close_now();
}

void ClientSession::close_now() {
  if (closed_) return;
  closed_ = true;
  handshake_timer_.cancel();
  tick_timer_.cancel();
  idle_timer_.cancel();
  if (downlink_) server_.remember_heads(downlink_->heads());
  channel_.close();
  server_.forget(shared_from_this(), address_);
}

}  // namespace rollcall
