#include "engine/replication.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <utility>

#include "engine/capnp_guard.h"
#include "engine/event_copy.h"
#include "engine/event_fields.h"
#include "engine/map_change.h"
#include "engine/protocol.h"
#include "schema/storage.capnp.h"

namespace rollcall {
namespace {

std::string data_string(capnp::Data::Reader data) {
  return std::string(reinterpret_cast<const char*>(data.begin()), data.size());
}

std::string seconds_text(int64_t micros) {
  return std::to_string(micros / 1'000'000) + "." + std::to_string(micros / 100'000 % 10) + " s";
}

void send_hello(const EventLog& log, wire::PeerRole role, const std::string& listen_address, Outbox& out) {
  capnp::MallocMessageBuilder message;
  auto hello = message.initRoot<wire::Message>().initHello();
  fill_hello(hello, log.unit().str(), role, log.incarnation());
  if (!listen_address.empty()) hello.setListenAddress(listen_address);
  out.send(message);
}

// Why a peer's events are refused.
struct Refusal {
  wire::ErrorCode code;
  std::string message;
};

// Copies `events` into a job the node owns. The copy reads every field under the frame's
// traversal limit (engine/event_copy.h). `check` says what is wrong with an event, or nothing;
// the first refusal is returned and the job is then unusable.
std::optional<Refusal> copy_into_job(capnp::List<schema::Event>::Reader events, IngestJob& job,
                                     const std::function<std::optional<Refusal>(schema::Event::Reader)>& check) {
  job.owner = std::make_shared<capnp::MallocMessageBuilder>();
  auto list = job.owner->initRoot<storage::LogBatch>().initEvents(events.size());
  for (unsigned i = 0; i < events.size(); ++i) {
    copy_event_checked(events[i], list[i]);
    auto e = list[i].asReader();
    if (e.totalSize().wordCount * sizeof(capnp::word) > kMaxRelayedEventBytes)
      return Refusal{wire::ErrorCode::BAD_MESSAGE, "event " + std::string(text_view(e.getOrigin())) + ":" +
                                                       std::to_string(e.getSeq()) + " is larger than " +
                                                       std::to_string(kMaxRelayedEventBytes) +
                                                       " bytes; no accepted event is"};
    if (auto refused = check(e)) return refused;
    job.events.push_back(e);
  }
  job.bytes = capnp::computeSerializedSizeInWords(*job.owner) * sizeof(capnp::word);
  return std::nullopt;
}

}  // namespace

std::string incarnation_hex(const std::string& incarnation) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : incarnation) {
    hex.push_back(kDigits[c >> 4]);
    hex.push_back(kDigits[c & 15]);
  }
  return hex;
}

SubtreeCheck::SubtreeCheck(std::shared_ptr<const UnitMap> map, UnitCode below)
    : map_(std::move(map)), below_(std::move(below)) {}

bool SubtreeCheck::within(const UnitCode& code, const UnitCode& ancestor) const {
  UnitCode at = code;
  // A unit registered earlier in the batch counts through its parent (a bounded walk: each
  // registration names a parent known before it).
  for (size_t steps = 0; steps <= registered_.size(); ++steps) {
    if (at == ancestor || map_->ever_in_subtree(at, ancestor)) return true;
    auto it = registered_.find(at);
    if (it == registered_.end()) return false;
    at = it->second;
  }
  return false;
}

std::optional<std::string> SubtreeCheck::outside(schema::Event::Reader e) {
  const auto refuse = [&](const std::string& what) {
    return "event " + std::string(text_view(e.getOrigin())) + ":" + std::to_string(e.getSeq()) + " " + what +
           " is not from the subtree of " + below_.str() + " (a forged origin or a foreign unit)";
  };
  auto origin = UnitCode::parse(text_view(e.getOrigin()));
  auto unit = UnitCode::parse(text_view(e.getUnit()));
  if (!origin.ok() || !unit.ok() || !within(*origin, below_) || !within(*unit, *origin))
    return refuse("of unit '" + std::string(text_view(e.getUnit())) + "'");
  if (!is_map_event(e)) return std::nullopt;
  auto change = map_change_of(e);
  if (!change.ok()) return refuse("(" + change.error().message() + ")");
  // What a map event changes must lie in its origin's subtree too.
  if (change->kind == MapChange::Kind::kRegistered) {
    if (!within(change->parent, *origin))
      return refuse("registering " + change->code.str() + " under " + change->parent.str());
    if (!map_->contains(change->code)) registered_.emplace(change->code, change->parent);
    return std::nullopt;
  }
  if (!within(change->code, *origin)) return refuse("changing unit " + change->code.str());
  if (change->kind == MapChange::Kind::kMoved && !within(change->parent, *origin))
    return refuse("moving " + change->code.str() + " under " + change->parent.str());
  for (const UnitCode& into : change->into)
    if (!within(into, *origin)) return refuse("merging " + change->code.str() + " into " + into.str());
  return std::nullopt;
}

wire::ErrorCode ingest_error_code(const Error& error) {
  switch (error.kind()) {
    case ErrorKind::kConflict: return wire::ErrorCode::FORK;
    case ErrorKind::kProtocol: return wire::ErrorCode::GAP;
    case ErrorKind::kStorageFull: return wire::ErrorCode::STORAGE_FULL;
    case ErrorKind::kInvalidInput: return wire::ErrorCode::BAD_MESSAGE;
    case ErrorKind::kUnavailable: return wire::ErrorCode::SHUTTING_DOWN;
    default: return wire::ErrorCode::INTERNAL;
  }
}

// --- UplinkSession ---

UplinkSession::UplinkSession(const EventLog& log, ReplicationOptions options)
    : log_(log), options_(options) {}

void UplinkSession::start(Timestamp now, Outbox& out) {
  state_ = State::kHelloSent;
  last_heard_ = now;
  last_heartbeat_sent_ = now;
  send_hello(log_, wire::PeerRole::CHILD, options_.listen_address, out);
}

void UplinkSession::on_frame(Frame& frame, Timestamp now, Outbox& out) {
  if (state_ == State::kClosed) return;
  last_heard_ = now;
  auto handled = guard_capnp("message from the parent", [&]() -> Status {
    auto message = frame.root<wire::Message>();
    switch (message.which()) {
      case wire::Message::HELLO: {
        if (state_ != State::kHelloSent) return invalid_input("a second hello");
        auto hello = message.getHello();
        if (auto s = check_hello(hello); !s.ok()) {
          fail(wire::ErrorCode::INCOMPATIBLE_PROTOCOL, s.error().message(), out);
          return ok_status();
        }
        parent_unit_ = std::string(text_view(hello.getUnit()));
        auto parent = UnitCode::parse(parent_unit_);
        if (!parent.ok() || *parent == log_.unit() || !log_.map()->ever_in_subtree(log_.unit(), *parent)) {
          fail(wire::ErrorCode::NOT_IN_SUBTREE,
               "the node at this address is unit '" + parent_unit_ + "', which is not an ancestor of " +
                   log_.unit().str() + " in this node's map",
               out);
          return ok_status();
        }
        state_ = State::kAwaitWatermarks;
        return ok_status();
      }
      case wire::Message::WATERMARKS:
        if (state_ != State::kAwaitWatermarks) return invalid_input("watermarks before the parent's hello");
        on_watermarks(message.getWatermarks(), now, out);
        return ok_status();
      case wire::Message::ACK:
        if (state_ == State::kLocatingFork) return ok_status();  // batches sent before the fork was found
        if (state_ != State::kStreaming) return invalid_input("an ack before the watermarks");
        on_ack(message.getAck().getLsn(), now, out);
        return ok_status();
      case wire::Message::FETCHED_EVENTS:
        if (state_ != State::kRecovering || ingest_pending_) return invalid_input("fetched events that were not asked for");
        on_fetched(message.getFetchedEvents(), now, out);
        return ok_status();
      case wire::Message::CHAIN_HASH:
        if (state_ != State::kLocatingFork) return invalid_input("a chain hash that was not asked for");
        on_chain_hash(message.getChainHash(), now, out);
        return ok_status();
      case wire::Message::HEARTBEAT:
        return ok_status();
      case wire::Message::ERROR: {
        auto error = message.getError();
        const std::string text = std::string("parent ") + (parent_unit_.empty() ? "" : parent_unit_ + " ") +
                                 "refused: " + error_code_name(error.getCode()) + ": " +
                                 std::string(text_view(error.getMessage()));
        if (error.getCode() == wire::ErrorCode::FORK) out.alerts.push_back(text);
        closed(text, out);
        return ok_status();
      }
      default:
        return invalid_input("unexpected message from a parent");
    }
  });
  if (!handled.ok()) fail(wire::ErrorCode::BAD_MESSAGE, handled.error().message(), out);
}

void UplinkSession::on_watermarks(wire::Watermarks::Reader marks, Timestamp now, Outbox& out) {
  auto mine = log_.watermarks();
  if (!mine.ok()) {
    fail(wire::ErrorCode::INTERNAL, "reading watermarks: " + mine.error().message(), out);
    return;
  }
  std::map<UnitCode, uint64_t> held;
  for (const auto& w : *mine) held[w.origin] = w.seq;

  for (auto entry : marks.getEntries()) {
    auto origin = UnitCode::parse(text_view(entry.getOrigin()));
    if (!origin.ok()) {
      fail(wire::ErrorCode::BAD_MESSAGE, "watermark origin: " + origin.error().message(), out);
      return;
    }
    const uint64_t seq = entry.getSeq();
    if (seq == 0) continue;
    acked_[*origin] = seq;
    sent_[*origin] = seq;
    const uint64_t mine_seq = held.count(*origin) ? held[*origin] : 0;
    if (mine_seq >= seq) {
      // Both hold 1..seq: it must be the same history.
      if (!same_history(*origin, seq, entry.getHash(), now, out)) return;
    } else if (*origin == log_.unit()) {
      // The parent holds more of this node's own events than its log: take them back first.
      recover_from_ = recover_next_ = mine_seq + 1;
      recover_to_ = seq;
    } else {
      // Not sent, but checked where this log reaches seq: what it relays after that must
      // continue the parent's history, not a fork of it.
      unchecked_[*origin] = {seq, entry.getHash()};
    }
  }
  if (recover_to_ >= recover_next_ && recover_next_ > 0) {
    out.alerts.push_back("parent " + parent_unit_ + " holds " + std::to_string(recover_to_) +
                         " events of this node's own origin " + log_.unit().str() + " but this log holds only " +
                         std::to_string(recover_next_ - 1) +
                         ": this data dir was re-created or restored from an old backup. Taking those events "
                         "back from the parent (submits are refused until then)");
    state_ = State::kRecovering;
    streaming_since_ = now;
    send_fetch(now, out);
    return;
  }
  own_checked_ = true;
  begin_streaming(now, out);
}

void UplinkSession::begin_streaming(Timestamp now, Outbox& out) {
  // The end first, then the watermarks: anything committed after this is past `end` and will be
  // sent by pump(), whatever the watermarks read below say.
  const uint64_t end = log_.last_lsn().value;
  auto mine = log_.watermarks();
  if (!mine.ok()) {
    fail(wire::ErrorCode::INTERNAL, "reading watermarks: " + mine.error().message(), out);
    return;
  }
  // Stream from the first event the parent lacks.
  uint64_t start = end + 1;
  for (const auto& w : *mine) {
    const uint64_t parent_seq = acked_.count(w.origin) ? acked_[w.origin] : 0;
    if (auto u = unchecked_.find(w.origin); u != unchecked_.end() && w.seq >= u->second.first) {
      if (!same_history(w.origin, u->second.first, u->second.second, now, out)) return;  // reached meanwhile
      unchecked_.erase(u);
    }
    if (w.seq <= parent_seq) continue;
    auto first = log_.find(OriginSeq{w.origin, parent_seq + 1});
    if (!first.ok() || !first->has_value()) {
      fail(wire::ErrorCode::INTERNAL,
           "finding " + w.origin.str() + ":" + std::to_string(parent_seq + 1) + ": " +
               (first.ok() ? "not held below its watermark" : first.error().message()),
           out);
      return;
    }
    start = std::min(start, (*first)->lsn.value);
  }
  next_lsn_ = start;
  state_ = State::kStreaming;
  streaming_since_ = now;
  send_heartbeat(now, out);  // the parent learns this node's heads (its lag) at once
  pump(now, out);
}

bool UplinkSession::same_history(const UnitCode& origin, uint64_t seq, uint64_t parent_hash, Timestamp now,
                                 Outbox& out) {
  auto hash = log_.chain_hash_at(OriginSeq{origin, seq});
  if (!hash.ok() || !hash->has_value()) {
    fail(wire::ErrorCode::INTERNAL,
         "reading the chain hash of " + origin.str() + ":" + std::to_string(seq) + ": " +
             (hash.ok() ? "not held" : hash.error().message()),
         out);
    return false;
  }
  if (**hash == parent_hash) return true;
  // A fork. Before reporting it, find the first seq that differs (both agree at seq 0). Nothing
  // more is sent, and batches in flight no longer matter: a later session resumes from the
  // parent's watermarks.
  fork_search_ = ForkSearch{origin, 0, seq, 0, now};
  state_ = State::kLocatingFork;
  in_flight_.clear();
  probe_fork(now, out);
  return false;
}

void UplinkSession::probe_fork(Timestamp now, Outbox& out) {
  ForkSearch& search = *fork_search_;
  if (search.differ - search.agree <= 1) {
    report_fork(now, out);
    return;
  }
  search.probing = search.agree + (search.differ - search.agree) / 2;
  search.sent_at = now;
  capnp::MallocMessageBuilder message;
  auto probe = message.initRoot<wire::Message>().initChainProbe();
  probe.setOrigin(search.origin.str());
  probe.setSeq(search.probing);
  out.send(message);
}

void UplinkSession::on_chain_hash(wire::ChainHash::Reader answer, Timestamp now, Outbox& out) {
  ForkSearch& search = *fork_search_;
  if (text_view(answer.getOrigin()) != search.origin.str() || answer.getSeq() != search.probing) {
    fail(wire::ErrorCode::BAD_MESSAGE, "a chain hash that was not asked for", out);
    return;
  }
  if (!answer.getHeld()) {
    // The parent held more when it sent its watermarks: it cannot hold less now. Report what
    // is known.
    report_fork(now, out);
    return;
  }
  auto mine = log_.chain_hash_at(OriginSeq{search.origin, search.probing});
  if (!mine.ok() || !mine->has_value()) {
    fail(wire::ErrorCode::INTERNAL,
         "reading the chain hash of " + search.origin.str() + ":" + std::to_string(search.probing) + ": " +
             (mine.ok() ? "not held" : mine.error().message()),
         out);
    return;
  }
  (**mine == answer.getHash() ? search.agree : search.differ) = search.probing;
  probe_fork(now, out);
}

void UplinkSession::report_fork(Timestamp now, Outbox& out) {
  const std::string text = fork_alert(now, out);
  const ForkSearch& search = *fork_search_;
  out.frames.push_back(error_frame(wire::ErrorCode::FORK, text, search.origin.str(), out.fork->first_seq));
  closed(std::string(error_code_name(wire::ErrorCode::FORK)) + ": " + text, out);
}

std::string UplinkSession::fork_alert(Timestamp now, Outbox& out) {
  const ForkSearch& search = *fork_search_;
  const bool exact = search.differ - search.agree <= 1;
  const std::string where = exact ? "from seq " + std::to_string(search.differ) + " on (the first that differs)"
                                  : "between seqs " + std::to_string(search.agree + 1) + " and " +
                                        std::to_string(search.differ);
  const std::string text = "fork: origin " + search.origin.str() + ": parent " + parent_unit_ +
                           " holds other events than this node " + where +
                           "; nothing more is sent to that parent, and neither side changes what it holds, "
                           "until an operator resolves the fork";
  out.alerts.push_back(text);
  out.fork = ForkRecord{search.origin, UnitCode::trusted(parent_unit_), exact ? search.differ : 0, now};
  return text;
}

void UplinkSession::send_fetch(Timestamp now, Outbox& out) {
  capnp::MallocMessageBuilder message;
  auto fetch = message.initRoot<wire::Message>().initFetch();
  fetch.setOrigin(log_.unit().str());
  fetch.setFromSeq(recover_next_);
  fetch.setMaxEvents(static_cast<uint32_t>(std::min<uint64_t>(options_.max_batch_events, recover_to_ - recover_next_ + 1)));
  out.send(message);
  fetch_sent_at_ = now;
}

void UplinkSession::on_fetched(wire::FetchedEvents::Reader fetched, Timestamp now, Outbox& out) {
  const std::string own = log_.unit().str();
  if (text_view(fetched.getOrigin()) != own || fetched.getFromSeq() != recover_next_) {
    fail(wire::ErrorCode::BAD_MESSAGE, "fetched events that were not asked for", out);
    return;
  }
  // The part both hold must be the same history.
  if (!same_history(log_.unit(), recover_next_ - 1, fetched.getChainBefore(), now, out)) return;
  auto events = fetched.getEvents();
  if (events.size() == 0) {
    fail(wire::ErrorCode::BAD_MESSAGE,
         "the parent said it holds seq " + std::to_string(recover_to_) + " of " + own + " but sent none from seq " +
             std::to_string(recover_next_),
         out);
    return;
  }
  IngestJob job;
  uint64_t expected = recover_next_;
  auto refused = copy_into_job(events, job, [&](schema::Event::Reader e) -> std::optional<Refusal> {
    if (text_view(e.getOrigin()) != own || e.getSeq() != expected++ || e.getSeq() > recover_to_)
      return Refusal{wire::ErrorCode::BAD_MESSAGE, "fetched events must be the origin's next seqs, in order"};
    return std::nullopt;
  });
  if (refused) {
    fail(refused->code, refused->message, out);
    return;
  }
  ingest_pending_ = events.size();
  out.ingests.push_back(std::move(job));
}

void UplinkSession::on_ingested(const Result<IngestReport>& result, Timestamp now, Outbox& out) {
  if (ingest_pending_ == 0 || state_ != State::kRecovering) return;
  if (!result.ok()) {
    ingest_pending_ = 0;
    const std::string text = "taking back events of " + log_.unit().str() + " from parent " + parent_unit_ +
                             " failed: " + result.error().message();
    if (ingest_error_code(result.error()) == wire::ErrorCode::FORK) out.alerts.push_back(text);
    fail(ingest_error_code(result.error()), text, out);
    return;
  }
  recover_next_ += std::exchange(ingest_pending_, 0);
  if (recover_next_ <= recover_to_) {
    send_fetch(now, out);
    return;
  }
  own_checked_ = true;
  begin_streaming(now, out);
}

void UplinkSession::on_ack(uint64_t lsn, Timestamp now, Outbox& out) {
  // The parent acks every batch it takes, in order. An ack past the oldest batch means that
  // batch never reached the parent's writer (it cannot happen on TCP): taking the ack as
  // cumulative would count its events as held, so resume from the watermarks instead.
  if (in_flight_.empty() || lsn != in_flight_.front().last_lsn) {
    fail(wire::ErrorCode::BAD_MESSAGE,
         "an ack for LSN " + std::to_string(lsn) + ", but the oldest unacknowledged batch ends at LSN " +
             (in_flight_.empty() ? std::string("none") : std::to_string(in_flight_.front().last_lsn)),
         out);
    return;
  }
  const InFlight& batch = in_flight_.front();
  for (const auto& [origin, seq] : batch.tops) {
    uint64_t& acked = acked_[origin];
    acked = std::max(acked, seq);
  }
  events_acked_ += batch.events;
  out.round_trips_us.push_back(std::max<int64_t>(0, now.micros - batch.sent_at.micros));
  in_flight_.pop_front();
  last_ack_at_ = now;
  pump(now, out);
}

void UplinkSession::on_log_grew(Timestamp now, Outbox& out) { pump(now, out); }

void UplinkSession::pump(Timestamp now, Outbox& out) {
  while (state_ == State::kStreaming && in_flight_.size() < options_.window &&
         next_lsn_ <= log_.last_lsn().value) {
    auto events = log_.read(Lsn{next_lsn_}, options_.max_batch_events);
    if (!events.ok()) {
      fail(wire::ErrorCode::INTERNAL, "reading the log: " + events.error().message(), out);
      return;
    }
    if (events->empty()) return;
    std::vector<const LoggedEvent*> taken;
    InFlight batch;
    size_t bytes = 0;
    uint64_t considered = next_lsn_ - 1;
    for (const LoggedEvent& logged : *events) {
      auto e = logged.event();
      auto origin = UnitCode::trusted(text_view(e.getOrigin()));
      uint64_t& sent = sent_[origin];
      if (e.getSeq() > sent + 1) {
        fail(wire::ErrorCode::INTERNAL,
             "this log holds " + origin.str() + ":" + std::to_string(e.getSeq()) + " after seq " +
                 std::to_string(sent),
             out);
        return;
      }
      if (e.getSeq() <= sent) {
        considered = logged.lsn.value;  // the parent holds it
        if (auto u = unchecked_.find(origin); u != unchecked_.end() && e.getSeq() == u->second.first) {
          if (!same_history(origin, e.getSeq(), u->second.second, now, out)) return;
          unchecked_.erase(u);
        }
        continue;
      }
      const size_t size = e.totalSize().wordCount * sizeof(capnp::word);
      if (!taken.empty() && bytes + size > options_.max_batch_bytes) break;
      taken.push_back(&logged);
      bytes += size;
      sent = e.getSeq();
      considered = logged.lsn.value;
      auto top = std::find_if(batch.tops.begin(), batch.tops.end(),
                              [&](const auto& t) { return t.first == origin; });
      if (top == batch.tops.end()) batch.tops.emplace_back(origin, e.getSeq());
      else top->second = e.getSeq();
    }
    next_lsn_ = considered + 1;
    if (taken.empty()) continue;

    capnp::MallocMessageBuilder message;
    auto wire_batch = message.initRoot<wire::Message>().initEventBatch();
    wire_batch.setFirstLsn(taken.front()->lsn.value);
    wire_batch.setLastLsn(considered);
    auto list = wire_batch.initEvents(static_cast<unsigned>(taken.size()));
    for (unsigned i = 0; i < taken.size(); ++i) list.setWithCaveats(i, taken[i]->event());
    out.send(message);
    batch.last_lsn = considered;
    batch.events = taken.size();
    batch.sent_at = now;
    in_flight_.push_back(std::move(batch));
  }
}

void UplinkSession::on_tick(Timestamp now, Outbox& out) {
  if (state_ == State::kClosed) return;
  // A clock stepped backwards must not switch off dead-link detection for the size of the step.
  last_heard_ = std::min(last_heard_, now);
  last_heartbeat_sent_ = std::min(last_heartbeat_sent_, now);
  for (auto& batch : in_flight_) batch.sent_at = std::min(batch.sent_at, now);
  if (now.micros - last_heard_.micros > options_.idle_timeout_us) {
    closed("nothing heard from the parent for " + seconds_text(now.micros - last_heard_.micros), out);
    return;
  }
  if (!in_flight_.empty() && now.micros - in_flight_.front().sent_at.micros > options_.ack_timeout_us) {
    closed("the parent has not acknowledged LSN " + std::to_string(in_flight_.front().last_lsn) + " for " +
               seconds_text(now.micros - in_flight_.front().sent_at.micros),
           out);
    return;
  }
  // A fetch unanswered (and not waiting for this node's writer) for the ack timeout: the session
  // is stuck; a new one resumes the take-back from what the log holds.
  fetch_sent_at_ = std::min(fetch_sent_at_, now);
  if (state_ == State::kRecovering && ingest_pending_ == 0 &&
      now.micros - fetch_sent_at_.micros > options_.ack_timeout_us) {
    closed("the parent has not answered the fetch of seq " + std::to_string(recover_next_) + " for " +
               seconds_text(now.micros - fetch_sent_at_.micros),
           out);
    return;
  }
  if (state_ == State::kLocatingFork) {
    fork_search_->sent_at = std::min(fork_search_->sent_at, now);
    if (now.micros - fork_search_->sent_at.micros > options_.ack_timeout_us) {
      report_fork(now, out);  // the parent does not answer: report the range known
      return;
    }
  }
  // Also while taking events back or locating a fork: the parent must not take a wait for our
  // writer, or for its own answers, for a dead link.
  if ((state_ == State::kStreaming || state_ == State::kRecovering || state_ == State::kLocatingFork) &&
      now.micros - last_heartbeat_sent_.micros >= options_.heartbeat_interval_us)
    send_heartbeat(now, out);
}

void UplinkSession::send_heartbeat(Timestamp now, Outbox& out) {
  last_heartbeat_sent_ = now;
  auto marks = log_.watermarks();
  if (!marks.ok()) {
    fail(wire::ErrorCode::INTERNAL, "reading watermarks: " + marks.error().message(), out);
    return;
  }
  capnp::MallocMessageBuilder message;
  auto heartbeat = message.initRoot<wire::Message>().initHeartbeat();
  heartbeat.setSentAt(now.micros);
  auto heads = heartbeat.initHeads(static_cast<unsigned>(marks->size()));
  for (unsigned i = 0; i < marks->size(); ++i) {
    const Watermark& w = (*marks)[i];
    heads[i].setOrigin(w.origin.str());
    heads[i].setSeq(w.seq);
    heads[i].setNewestRecordedAt(w.newest_recorded_at.micros);
  }
  out.send(message);
}

void UplinkSession::fail(wire::ErrorCode code, const std::string& message, Outbox& out) {
  out.frames.push_back(error_frame(code, message));
  closed(std::string(error_code_name(code)) + ": " + message, out);
}

void UplinkSession::closed(const std::string& reason, Outbox& out) {
  if (state_ == State::kLocatingFork && !out.fork) {
    // Ended before the search did (the parent refused a probe, the link went): the fork is
    // reported with the range known, and the reason says fork so the driver backs off.
    state_ = State::kClosed;
    const std::string text = fork_alert(fork_search_->sent_at, out);
    close_reason_ = text + " (" + reason + ")";
    out.close = close_reason_;
    return;
  }
  state_ = State::kClosed;
  close_reason_ = reason;
  out.close = reason;
}

// --- DownlinkSession ---

DownlinkSession::DownlinkSession(const EventLog& log, UnitCode self, std::string peer,
                                 ReplicationOptions options)
    : log_(log), self_(std::move(self)), peer_(std::move(peer)), options_(options) {}

void DownlinkSession::on_hello(wire::Hello::Reader hello, const std::optional<std::string>& known_incarnation,
                               Timestamp now, Outbox& out) {
  last_heard_ = now;
  auto handled = guard_capnp("hello", [&]() -> Status {
    if (state_ != State::kAwaitHello) return invalid_input("a second hello");
    if (auto s = check_hello(hello); !s.ok()) {
      fail(wire::ErrorCode::INCOMPATIBLE_PROTOCOL, s.error().message(), out);
      return ok_status();
    }
    auto child = UnitCode::parse(text_view(hello.getUnit()));
    if (!child.ok()) return invalid_input("hello unit: " + child.error().message());
    if (*child == self_ || !log_.map()->ever_in_subtree(*child, self_)) {
      fail(wire::ErrorCode::NOT_IN_SUBTREE,
           "unit " + child->str() + " is not below this node's unit " + self_.str() + " in its map", out);
      return ok_status();
    }
    child_ = *child;
    incarnation_ = data_string(hello.getIncarnation());
    if (hello.getListenAddress().size() <= 300) listen_address_ = text_view(hello.getListenAddress());
    if (incarnation_.size() != 16) return invalid_input("a child's hello must carry its 16-byte incarnation id");
    if (known_incarnation && *known_incarnation != incarnation_) {
      out.alerts.push_back("child " + child_.str() + " (" + peer_ + ") came back with a new log incarnation " +
                           incarnation_hex(incarnation_) + " (it was " + incarnation_hex(*known_incarnation) +
                           "): its data dir was re-created or restored. Its events are checked against those "
                           "held here; any that differ are refused as a fork, never merged");
    }
    if (!known_incarnation || *known_incarnation != incarnation_)
      out.record_incarnation = std::make_pair(child_, incarnation_);

    auto marks = log_.watermarks();
    if (!marks.ok()) {
      fail(wire::ErrorCode::INTERNAL, "reading watermarks: " + marks.error().message(), out);
      return ok_status();
    }
    std::vector<const Watermark*> below;
    for (const auto& w : *marks)
      if (log_.map()->ever_in_subtree(w.origin, child_)) below.push_back(&w);
    send_hello(log_, wire::PeerRole::PARENT, {}, out);
    capnp::MallocMessageBuilder message;
    auto entries = message.initRoot<wire::Message>().initWatermarks().initEntries(static_cast<unsigned>(below.size()));
    for (unsigned i = 0; i < below.size(); ++i) {
      entries[i].setOrigin(below[i]->origin.str());
      entries[i].setSeq(below[i]->seq);
      entries[i].setHash(below[i]->chain_hash);
    }
    out.send(message);
    state_ = State::kStreaming;
    connected_since_ = now;
    last_heartbeat_sent_ = now;
    return ok_status();
  });
  if (!handled.ok()) fail(wire::ErrorCode::BAD_MESSAGE, handled.error().message(), out);
}

void DownlinkSession::on_frame(Frame& frame, Timestamp now, Outbox& out) {
  if (state_ == State::kClosed) return;
  last_heard_ = now;
  auto handled = guard_capnp("message from child " + child_.str(), [&]() -> Status {
    auto message = frame.root<wire::Message>();
    if (state_ != State::kStreaming) return invalid_input("a replication message before the hello");
    switch (message.which()) {
      case wire::Message::EVENT_BATCH:
        on_batch(message.getEventBatch(), out);
        return ok_status();
      case wire::Message::FETCH:
        on_fetch(message.getFetch(), out);
        return ok_status();
      case wire::Message::CHAIN_PROBE:
        on_chain_probe(message.getChainProbe(), out);
        return ok_status();
      case wire::Message::HEARTBEAT:
        for (auto head : message.getHeartbeat().getHeads()) {
          auto origin = UnitCode::parse(text_view(head.getOrigin()));
          if (!origin.ok()) return invalid_input("heartbeat origin: " + origin.error().message());
          if (!log_.map()->ever_in_subtree(*origin, child_)) continue;  // bounded by the map, whatever the child says
          heads_[*origin] = OriginHead{head.getSeq(), Timestamp{head.getNewestRecordedAt()}};
        }
        return ok_status();
      case wire::Message::ERROR: {
        auto error = message.getError();
        state_ = State::kClosed;
        close_reason_ = std::string("child ") + child_.str() + " closed: " + error_code_name(error.getCode()) +
                        ": " + std::string(text_view(error.getMessage()));
        out.close = close_reason_;
        if (error.getCode() == wire::ErrorCode::FORK) {
          auto origin = UnitCode::parse(text_view(error.getOrigin()));
          if (origin.ok() && log_.map()->ever_in_subtree(*origin, child_)) {
            const std::string where =
                error.getSeq() > 0 ? " from seq " + std::to_string(error.getSeq()) + " on" : "";
            out.alerts.push_back("fork: origin " + origin->str() + ": child " + child_.str() + " (" + peer_ +
                                 ") holds other events than this node" + where +
                                 "; refused, never merged, and neither side changes what it holds until an "
                                 "operator resolves the fork");
            out.fork = ForkRecord{*origin, child_, error.getSeq(), now};
          }
        }
        return ok_status();
      }
      default:
        return invalid_input("unexpected message from a child");
    }
  });
  if (!handled.ok()) fail(wire::ErrorCode::BAD_MESSAGE, handled.error().message(), out);
}

void DownlinkSession::on_batch(wire::EventBatch::Reader batch, Outbox& out) {
  const uint64_t first = batch.getFirstLsn();
  const uint64_t last = batch.getLastLsn();
  auto events = batch.getEvents();
  if (events.size() == 0 || last < first || first <= last_batch_lsn_) {
    fail(wire::ErrorCode::BAD_MESSAGE,
         "a batch must hold events and LSNs that grow (got " + std::to_string(first) + ".." +
             std::to_string(last) + " after " + std::to_string(last_batch_lsn_) + ")",
         out);
    return;
  }
  if (events.size() > kMaxBatchEventsAccepted) {
    fail(wire::ErrorCode::BAD_MESSAGE,
         "a batch of " + std::to_string(events.size()) + " events: at most " +
             std::to_string(kMaxBatchEventsAccepted) + " are taken in one",
         out);
    return;
  }
  IngestJob job;
  SubtreeCheck subtree(log_.map(), child_);
  auto refused = copy_into_job(events, job, [&](schema::Event::Reader e) -> std::optional<Refusal> {
    if (auto outside = subtree.outside(e)) return Refusal{wire::ErrorCode::NOT_IN_SUBTREE, *outside};
    return std::nullopt;
  });
  if (refused) {
    fail(refused->code, refused->message, out);
    return;
  }
  job.ack_lsn = last;
  last_batch_lsn_ = last;
  pending_acks_.push_back(last);
  out.ingests.push_back(std::move(job));
}

void DownlinkSession::on_fetch(wire::Fetch::Reader fetch, Outbox& out) {
  auto origin = UnitCode::parse(text_view(fetch.getOrigin()));
  const uint64_t from = fetch.getFromSeq();
  if (!origin.ok() || *origin != child_ || from == 0) {
    fail(wire::ErrorCode::BAD_MESSAGE, "a child may fetch only its own origin's events, from seq 1 on", out);
    return;
  }
  const size_t most = std::min<size_t>(std::max<uint32_t>(fetch.getMaxEvents(), 1), options_.max_batch_events);
  auto before = log_.chain_hash_at(OriginSeq{*origin, from - 1});
  auto first = log_.find(OriginSeq{*origin, from});
  if (!before.ok() || !first.ok() || !before->has_value()) {
    fail(wire::ErrorCode::INTERNAL, "reading " + origin->str() + " below seq " + std::to_string(from), out);
    return;
  }
  // Through the origin index: each find() lands on the batch holding the next seq, whose events
  // of this origin follow in seq order; so the cost is per batch, not per event of other origins.
  std::vector<LoggedEvent> taken;
  size_t bytes = 0;
  uint64_t next_seq = from;
  bool full = false;
  std::shared_ptr<const LogBatchView> batch = first->has_value() ? (*first)->batch : nullptr;
  uint32_t index = first->has_value() ? (*first)->index : 0;
  while (batch && !full) {
    for (uint32_t i = index; i < batch->size() && !full; ++i) {
      auto e = batch->event(i);
      if (text_view(e.getOrigin()) != origin->str() || e.getSeq() != next_seq) continue;
      const size_t size = e.totalSize().wordCount * sizeof(capnp::word);
      full = !taken.empty() && bytes + size > options_.max_batch_bytes;
      if (full) break;
      taken.push_back(LoggedEvent{Lsn{batch->first_lsn().value + i}, batch, i});
      bytes += size;
      ++next_seq;
      full = taken.size() >= most;
    }
    if (full) break;
    auto next = log_.find(OriginSeq{*origin, next_seq});
    if (!next.ok()) {
      fail(wire::ErrorCode::INTERNAL, "reading the log: " + next.error().message(), out);
      return;
    }
    batch = next->has_value() ? (*next)->batch : nullptr;
    index = next->has_value() ? (*next)->index : 0;
  }
  capnp::MallocMessageBuilder message;
  auto fetched = message.initRoot<wire::Message>().initFetchedEvents();
  fetched.setOrigin(origin->str());
  fetched.setFromSeq(from);
  fetched.setChainBefore(**before);
  auto list = fetched.initEvents(static_cast<unsigned>(taken.size()));
  for (unsigned i = 0; i < taken.size(); ++i) list.setWithCaveats(i, taken[i].event());
  out.send(message);
}

void DownlinkSession::on_chain_probe(wire::ChainProbe::Reader probe, Outbox& out) {
  // A bisection over 64-bit seqs takes at most 64 probes; each costs at most one batch read.
  if (++chain_probes_ > kMaxChainProbes) {
    fail(wire::ErrorCode::BAD_MESSAGE,
         "more than " + std::to_string(kMaxChainProbes) + " chain probes in one session", out);
    return;
  }
  auto origin = UnitCode::parse(text_view(probe.getOrigin()));
  if (!origin.ok() || !log_.map()->ever_in_subtree(*origin, child_) || probe.getSeq() == 0) {
    fail(wire::ErrorCode::BAD_MESSAGE, "a chain probe must name an origin of the child's subtree and a seq from 1 on",
         out);
    return;
  }
  auto hash = log_.chain_hash_at(OriginSeq{*origin, probe.getSeq()});
  if (!hash.ok()) {
    fail(wire::ErrorCode::INTERNAL, "reading the chain hash of " + origin->str() + ": " + hash.error().message(), out);
    return;
  }
  capnp::MallocMessageBuilder message;
  auto answer = message.initRoot<wire::Message>().initChainHash();
  answer.setOrigin(origin->str());
  answer.setSeq(probe.getSeq());
  answer.setHeld(hash->has_value());
  answer.setHash(hash->value_or(0));
  out.send(message);
}

void DownlinkSession::on_ingested(const Result<IngestReport>& result, Timestamp, Outbox& out) {
  if (pending_acks_.empty()) return;
  const uint64_t lsn = pending_acks_.front();
  pending_acks_.pop_front();
  if (state_ == State::kClosed) return;
  if (!result.ok()) {
    const auto code = ingest_error_code(result.error());
    const std::string text = "events of child " + child_.str() + " up to its LSN " + std::to_string(lsn) +
                             " not applied: " + result.error().message();
    if (code == wire::ErrorCode::FORK) out.alerts.push_back(text);
    fail(code, text, out);
    return;
  }
  events_applied_ += result->applied;
  events_duplicate_ += result->duplicates;
  capnp::MallocMessageBuilder message;
  message.initRoot<wire::Message>().initAck().setLsn(lsn);
  out.send(message);
}

void DownlinkSession::on_tick(Timestamp now, Outbox& out) {
  if (state_ == State::kClosed) return;
  last_heard_ = std::min(last_heard_, now);  // a clock stepped backwards (see UplinkSession::on_tick)
  last_heartbeat_sent_ = std::min(last_heartbeat_sent_, now);
  // Nothing heard yet (no hello): the idle clock starts at the first tick.
  if (state_ == State::kAwaitHello && last_heard_.micros == 0) last_heard_ = now;
  // While this node's writer holds the child's batches, the driver stops reading the child (flow
  // control): its silence is ours, not a dead link.
  if (!pending_acks_.empty()) last_heard_ = now;
  if (now.micros - last_heard_.micros > options_.idle_timeout_us) {
    state_ = State::kClosed;
    close_reason_ = "nothing heard from child " + child_.str() + " for " + seconds_text(now.micros - last_heard_.micros);
    out.close = close_reason_;
    return;
  }
  if (state_ == State::kStreaming && now.micros - last_heartbeat_sent_.micros >= options_.heartbeat_interval_us) {
    last_heartbeat_sent_ = now;
    capnp::MallocMessageBuilder message;
    message.initRoot<wire::Message>().initHeartbeat().setSentAt(now.micros);
    out.send(message);
  }
}

void DownlinkSession::fail(wire::ErrorCode code, const std::string& message, Outbox& out) {
  out.frames.push_back(error_frame(code, message));
  state_ = State::kClosed;
  close_reason_ = std::string(error_code_name(code)) + ": " + message;
  out.close = close_reason_;
}

}  // namespace rollcall
