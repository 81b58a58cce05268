#include "node/uplink.h"

#include <algorithm>

#include "node/node_log.h"
#include "node/wall_clock.h"

namespace rollcall {
namespace {

using SteadyClock = std::chrono::steady_clock;

}  // namespace

// One TCP connection to one parent and the UplinkSession on it.
class Uplink::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Uplink& uplink, size_t parent_rank, bool is_probe)
      : session(uplink.log_, uplink.options_.replication),
        rank(parent_rank),
        probe(is_probe),
        uplink_(uplink),
        channel_(asio::ip::tcp::socket(uplink.io_), uplink.options_.tls),
        connect_timer_(uplink.io_),
        decoder_(uplink.options_.frame_limits) {}

  void start() {
    const HostPort& target = uplink_.parents_[rank].address;
    asio::error_code ec;
    auto address = asio::ip::make_address(target.host, ec);
    if (ec) {
      finish_close("'" + target.host + "' is not an IP address");
      return;
    }
    connect_timer_.expires_after(uplink_.options_.connect_timeout);
    connect_timer_.async_wait([self = shared_from_this()](asio::error_code timer_ec) {
      if (!timer_ec && !self->connected_) {
        asio::error_code ignored;
        self->channel_.socket().close(ignored);  // the connect handler sees operation_aborted
      }
    });
    channel_.socket().async_connect(asio::ip::tcp::endpoint(address, target.port),
                          [self = shared_from_this()](asio::error_code connect_ec) {
                            self->connect_timer_.cancel();
                            if (self->closed_) return;
                            if (connect_ec) {
                              self->finish_close(connect_ec == asio::error::operation_aborted
                                                     ? "no connection within the connect timeout"
                                                     : "cannot connect: " + connect_ec.message());
                              return;
                            }
                            self->on_connected();
                          });
  }

  void tick(Timestamp now) {
    if (!connected_ || closed_ || closing_) return;
    Outbox out;
    session.on_tick(now, out);
    apply(out);
  }

  void wake(Timestamp now) {
    if (!connected_ || closed_ || closing_) return;
    Outbox out;
    session.on_log_grew(now, out);
    apply(out);
  }

  // Closes at once without telling the uplink (it has already moved on). The parent sees the
  // connection end; whatever was unacknowledged is resent by a later session.
  void abandon(const std::string& reason) {
    silent_ = true;
    finish_close(reason);
  }

  bool streaming() const { return !closed_ && !closing_ && session.streaming(); }

  UplinkSession session;
  const size_t rank;
  const bool probe;

 private:
  void on_connected() {
    asio::error_code ignored;
    channel_.socket().set_option(asio::ip::tcp::no_delay(true), ignored);
    // The connect timeout covers the TLS handshake too: a parent that accepts and says nothing
    // is left as fast as one that does not answer.
    connect_timer_.expires_after(uplink_.options_.connect_timeout);
    connect_timer_.async_wait([self = shared_from_this()](asio::error_code timer_ec) {
      if (!timer_ec && !self->connected_) self->finish_close("no TLS handshake within the connect timeout");
    });
    channel_.async_handshake(TlsSide::kClient, [self = shared_from_this()](asio::error_code ec) {
      self->connect_timer_.cancel();
      if (self->closed_) return;
      if (ec) {
        self->finish_close("TLS handshake with the parent failed: " + self->channel_.handshake_error(ec));
        return;
      }
      self->on_handshake();
    });
  }

  void on_handshake() {
    if (channel_.secure()) {
      auto unit = channel_.peer_node_unit();
      if (!unit.ok()) {
        finish_close("the parent's certificate: " + unit.error().message());
        return;
      }
      parent_identity_ = *unit;
    }
    connected_ = true;
    Outbox out;
    session.start(wall_now(), out);
    apply(out);
    read_more();
  }

  void read_more() {
    if (closed_) return;
    channel_.async_read_some(asio::buffer(buffer_), [self = shared_from_this()](asio::error_code ec, size_t n) {
      if (self->closed_) return;
      if (ec) {
        self->finish_close(ec == asio::error::eof ? "the parent closed the connection"
                                                  : "connection lost: " + ec.message());
        return;
      }
      self->session.on_bytes(wall_now());
      NodeMetrics::add(self->uplink_.metrics_.parent_bytes_received, n);
      if (auto fed = self->decoder_.feed(self->buffer_.data(), n); !fed.ok()) {
        Outbox out;
        out.frames.push_back(error_frame(wire::ErrorCode::BAD_FRAME, fed.error().message()));
        out.close = "bad frame from the parent: " + fed.error().message();
        self->apply(out);
        return;
      }
      while (!self->closing_ && !self->closed_) {
        auto frame = self->decoder_.next();
        if (!frame) break;
        Outbox out;
        self->session.on_frame(*frame, wall_now(), out);
        if (!self->parent_identity_.empty() && !self->session.parent_unit().empty() &&
            self->session.parent_unit() != self->parent_identity_) {
          // Checked before anything the hello led to is sent: nothing goes to an impostor.
          self->finish_close("the parent's hello says unit " + self->session.parent_unit() +
                             " but its certificate names unit " + self->parent_identity_);
          return;
        }
        self->apply(out);
      }
      self->read_more();
    });
  }

  void apply(Outbox& out) {
    if (closed_) return;
    for (auto& frame : out.frames) send(std::move(frame));
    for (int64_t us : out.round_trips_us) uplink_.metrics_.uplink_round_trip.observe(static_cast<double>(us) / 1e6);
    for (auto& job : out.ingests) run_ingest(std::move(job));
    for (auto& alert : out.alerts) uplink_.alerts_.raise(wall_now(), alert);
    if (out.fork) uplink_.queue_.record_fork(*out.fork);
    if (out.close) {
      closing_ = true;
      reason_ = *out.close;
      // Refused as a fork: do not come back soon.
      problem_ = problem_ || out.close->find("fork") != std::string::npos;
      if (!writing_) {
        finish_close(reason_);
        return;
      }
      // Let the error frame go out, but never wait on a dead link: close within a second.
      connect_timer_.expires_after(std::chrono::seconds(1));
      connect_timer_.async_wait([self = shared_from_this()](asio::error_code ec) {
        if (!ec) self->finish_close(self->reason_);
      });
      return;
    }
    uplink_.update_gate(*this);
    if (!reported_streaming_ && session.streaming()) {
      reported_streaming_ = true;
      uplink_.on_streaming(this);
    }
  }

  // Events of this node's own origin taken back from the parent go through the node's writer.
  void run_ingest(IngestJob job) {
    auto executor = channel_.socket().get_executor();
    auto request = CommitQueue::ingest_request(
        std::move(job), [self = shared_from_this(), executor](Result<IngestReport> result) mutable {
          asio::post(executor, [self = std::move(self), result = std::move(result)]() mutable {
            if (self->closed_ || self->closing_) return;
            Outbox out;
            self->session.on_ingested(result, wall_now(), out);
            self->apply(out);
          });
        });
    if (!uplink_.queue_.enqueue(std::move(request))) {
      Outbox out;
      out.close = "the node is shutting down";
      apply(out);
    }
  }

  void send(std::vector<uint8_t> frame) {
    NodeMetrics::add(uplink_.metrics_.parent_bytes_sent, frame.size());
    write_queue_.push_back(std::move(frame));
    write_next();
  }

  void write_next() {
    if (writing_ || write_queue_.empty() || closed_) return;
    writing_ = true;
    channel_.async_write(asio::buffer(write_queue_.front()),
                         [self = shared_from_this()](asio::error_code ec, size_t) {
                        self->writing_ = false;
                        if (self->closed_) return;
                        self->write_queue_.pop_front();
                        if (ec) {
                          self->finish_close(self->closing_ ? self->reason_ : "connection lost: " + ec.message());
                          return;
                        }
                        if (self->closing_ && self->write_queue_.empty()) {
                          self->finish_close(self->reason_);
                          return;
                        }
                        self->write_next();
                      });
  }

  void finish_close(const std::string& reason) {
    if (closed_) return;
    closed_ = true;
    connect_timer_.cancel();
    channel_.close();
    write_queue_.clear();
    if (!silent_) uplink_.on_closed(this, reason, problem_);
  }

  Uplink& uplink_;
  Channel channel_;
  asio::steady_timer connect_timer_;
  std::string parent_identity_;  // the unit the parent's certificate names (TLS)
  FrameDecoder decoder_;
  std::array<uint8_t, 64 * 1024> buffer_{};
  std::deque<std::vector<uint8_t>> write_queue_;
  std::string reason_;
  bool connected_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool closed_ = false;
  bool silent_ = false;
  bool problem_ = false;
  bool reported_streaming_ = false;
};

Uplink::Uplink(asio::io_context& io, const EventLog& log, std::vector<HostPort> parents,
               UplinkOptions options, Alerts& alerts, CommitQueue& queue, NodeMetrics& metrics)
    : io_(io), log_(log), options_(options), alerts_(alerts), queue_(queue), metrics_(metrics), tick_timer_(io),
      startup_timer_(io), random_(std::random_device{}()) {
  for (auto& address : parents) parents_.push_back(Parent{std::move(address), {}, {}, {}, {}, 0, {}});
}

Uplink::~Uplink() = default;

void Uplink::start() {
  if (parents_.empty()) return;
  // Submits wait until a parent says how much of this node's own origin it holds, so that a
  // re-created data dir does not hand out seqs a parent already has; a parent that stays away
  // does not stop the node for longer than startup_wait.
  queue_.set_gate(CommitQueue::Gate::kHold);
  startup_timer_.expires_after(options_.startup_wait);
  startup_timer_.async_wait([this](asio::error_code ec) {
    if (ec || stopped_ || queue_.gate() != CommitQueue::Gate::kHold) return;
    node_log()->warn("no parent answered within {} ms; taking submits (they reach a parent once one answers)",
                     options_.startup_wait.count());
    queue_.set_gate(CommitQueue::Gate::kOpen);
  });
  next_attempt_ = SteadyClock::now();
  tick();
}

bool Uplink::own_seq_held_above_log() const {
  auto marks = log_.watermarks();
  if (!marks.ok()) return true;  // cannot tell: stay refused
  uint64_t own = 0;
  for (const auto& w : *marks)
    if (w.origin == log_.unit()) own = w.seq;
  return own_seq_seen_ > own;
}

void Uplink::update_gate(const Connection& connection) {
  if (auto it = connection.session.parent_seqs().find(log_.unit()); it != connection.session.parent_seqs().end())
    own_seq_seen_ = std::max(own_seq_seen_, it->second);
  const auto gate = queue_.gate();
  // Another connection still taking this node's events back keeps submits refused.
  for (const auto& other : {active_, probe_})
    if (other && other.get() != &connection && other->session.recovering()) return;
  if (connection.session.recovering()) {
    if (gate == CommitQueue::Gate::kRefuse) return;
    const auto range = *connection.session.recovery();
    queue_.set_gate(CommitQueue::Gate::kRefuse,
                    "this node is taking back seqs " + std::to_string(range.from) + ".." + std::to_string(range.to) +
                        " of its own origin " + log_.unit().str() + " from parent " +
                        connection.session.parent_unit() + " (" + std::to_string(range.to - range.from + 1) +
                        " events: its data dir was re-created or restored, and the parent holds what it lacks); "
                        "submit again once that is done");
  } else if (connection.session.own_origin_checked() && gate != CommitQueue::Gate::kOpen) {
    // Another parent said it holds more of this node's own events than the log has now (a take
    // back from it was cut short): wait for that one rather than hand out its seqs again.
    if (gate == CommitQueue::Gate::kRefuse && own_seq_held_above_log()) return;
    if (gate == CommitQueue::Gate::kRefuse)
      node_log()->info("took back this node's own events from parent {}; taking submits again",
                       connection.session.parent_unit());
    queue_.set_gate(CommitQueue::Gate::kOpen);
  }
}

void Uplink::stop() {
  stopped_ = true;
  tick_timer_.cancel();
  startup_timer_.cancel();
  if (probe_) std::exchange(probe_, nullptr)->abandon("the node is shutting down");
  if (active_) std::exchange(active_, nullptr)->abandon("the node is shutting down");
}

void Uplink::wake() {
  if (wake_pending_.exchange(true)) return;
  asio::post(io_, [this] {
    wake_pending_ = false;
    if (stopped_) return;
    const Timestamp now = wall_now();
    if (active_) active_->wake(now);
    if (probe_) probe_->wake(now);
  });
}

std::chrono::milliseconds Uplink::backoff() {
  // Doubles per failed round up to max_backoff, then a random 50..100% of it (jitter, so that
  // the children of a parent that returns do not all reconnect in the same millisecond).
  auto limit = options_.min_backoff;
  for (int i = 1; i < failed_rounds_ && limit < options_.max_backoff; ++i) limit *= 2;
  limit = std::min(limit, options_.max_backoff);
  std::uniform_int_distribution<int64_t> jitter(limit.count() / 2, limit.count());
  return std::chrono::milliseconds(jitter(random_));
}

void Uplink::schedule_tick() {
  if (stopped_) return;
  auto when = SteadyClock::now() + options_.tick;
  if (!active_) when = std::min(when, std::max(next_attempt_, SteadyClock::now()));
  tick_timer_.expires_at(when);
  tick_timer_.async_wait([this](asio::error_code ec) {
    if (!ec) tick();
  });
}

void Uplink::tick() {
  if (stopped_) return;
  const Timestamp now = wall_now();
  const auto steady = SteadyClock::now();
  if (active_) active_->tick(now);
  if (probe_) probe_->tick(now);
  if (!active_ && steady >= next_attempt_) attempt(next_rank_, /*probe=*/false);
  if (active_ && active_->streaming() && active_->rank > 0 && !probe_ && steady >= next_probe_) {
    next_probe_ = steady + options_.probe_interval;
    // Each probe tries the next more preferred parent in turn, so one that stays down does not
    // hide another that returned.
    for (size_t tried = 0; tried < active_->rank; ++tried) {
      const size_t rank = probe_rank_++ % active_->rank;
      if (parents_[rank].retry_not_before > steady) continue;
      attempt(rank, /*probe=*/true);
      break;
    }
  }
  schedule_tick();
}

void Uplink::attempt(size_t rank, bool probe) {
  const auto steady = SteadyClock::now();
  if (!probe) {
    // Skip parents that refused this node's events as a fork until their retry time.
    size_t tried = 0;
    while (tried < parents_.size() && parents_[rank].retry_not_before > steady) {
      rank = (rank + 1) % parents_.size();
      ++tried;
    }
    if (tried == parents_.size()) {
      next_attempt_ = steady + options_.max_backoff;
      return;
    }
  }
  auto connection = std::make_shared<Connection>(*this, rank, probe);
  (probe ? probe_ : active_) = connection;
  node_log()->debug("{} parent {} (rank {})", probe ? "probing" : "connecting to",
                    parents_[rank].address.to_string(), rank);
  connection->start();
}

void Uplink::on_streaming(Connection* connection) {
  Parent& parent = parents_[connection->rank];
  parent.unit = connection->session.parent_unit();
  parent.connected_since = connection->session.streaming_since();
  if (probe_.get() == connection) {
    auto previous = std::exchange(active_, std::exchange(probe_, nullptr));
    node_log()->info("moving back to parent {} ({}, rank {}) from rank {}", parent.address.to_string(),
                     parent.unit, connection->rank, previous->rank);
    parents_[previous->rank].events_acked += previous->session.events_acked();
    previous->abandon("moving to a preferred parent");
  } else {
    node_log()->info("replicating to parent {} ({}, rank {})", parent.address.to_string(), parent.unit,
                     connection->rank);
  }
  next_probe_ = SteadyClock::now() + options_.probe_interval;
}

void Uplink::on_closed(Connection* connection, const std::string& reason, bool problem) {
  Parent& parent = parents_[connection->rank];
  parent.last_error = reason;
  parent.events_acked += connection->session.events_acked();
  if (connection->session.last_ack_at() > parent.last_ack_at) parent.last_ack_at = connection->session.last_ack_at();
  const auto steady = SteadyClock::now();
  if (problem) parent.retry_not_before = steady + options_.fork_retry;
  if (problem && queue_.gate() != CommitQueue::Gate::kOpen) {
    // Taking events back ended in a fork: nothing can be taken back from that parent until an
    // operator resolves it (the alert says so). The node goes on with what it holds.
    node_log()->warn("taking submits again: the events parent {} holds are a fork of this node's, not taken back",
                     parent.address.to_string());
    queue_.set_gate(CommitQueue::Gate::kOpen);
  }
  if (probe_.get() == connection) {
    node_log()->debug("probe of parent {} failed: {}", parent.address.to_string(), reason);
    probe_.reset();
    return;
  }
  if (active_.get() != connection) return;
  // A session that got acknowledgements was healthy: reconnect at once. One that never did (a
  // parent that takes the hello but refuses every batch: out of space, shutting down) counts as
  // a failed attempt, so the node backs off and tries its next parent instead of looping.
  const bool healthy = connection->session.events_acked() > 0 ||
                       (connection->session.streaming() && connection->session.batches_in_flight() == 0);
  if (connection->session.streaming()) last_parent_seqs_ = connection->session.parent_seqs();
  active_.reset();
  if (stopped_) return;
  if (healthy) {
    node_log()->warn("link to parent {} lost: {}; reconnecting", parent.address.to_string(), reason);
    failed_rounds_ = 0;
    next_rank_ = 0;
    next_attempt_ = steady;
  } else {
    if (connection->session.streaming_since().micros != 0)
      node_log()->warn("parent {} ended the session before acknowledging anything: {}", parent.address.to_string(), reason);
    node_log()->debug("parent {} unavailable: {}", parent.address.to_string(), reason);
    if (++next_rank_ >= parents_.size()) {
      next_rank_ = 0;
      ++failed_rounds_;
      next_attempt_ = steady + backoff();
    } else {
      next_attempt_ = steady;
    }
  }
  schedule_tick();
}

void Uplink::fill_status(capnp::List<wire::ParentLinkStatus>::Builder list) const {
  for (unsigned i = 0; i < parents_.size() && i < list.size(); ++i) {
    const Parent& parent = parents_[i];
    auto out = list[i];
    out.setAddress(parent.address.to_string());
    out.setRank(i);
    out.setUnit(parent.unit);
    out.setLastError(parent.last_error);
    Timestamp last_ack = parent.last_ack_at;
    uint64_t acked = parent.events_acked;
    if (active_ && active_->rank == i) {
      out.setConnected(active_->streaming());
      if (active_->streaming()) out.setConnectedSince(active_->session.streaming_since().micros);
      last_ack = std::max(last_ack, active_->session.last_ack_at());
      acked += active_->session.events_acked();
    }
    out.setLastAckAt(last_ack.micros);
    out.setEventsAcked(acked);
    for (const auto& connection : {active_, probe_}) {
      if (!connection || connection->rank != i) continue;
      if (auto range = connection->session.recovery()) {
        out.setTakingBackFrom(range->from);
        out.setTakingBackNext(range->next);
        out.setTakingBackTo(range->to);
      }
    }
  }
}

std::map<UnitCode, uint64_t> Uplink::parent_seqs() const {
  if (active_ && active_->streaming()) return active_->session.parent_seqs();
  return last_parent_seqs_;
}

}  // namespace rollcall
