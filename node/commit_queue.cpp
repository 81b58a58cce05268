#include "node/commit_queue.h"

#include <algorithm>
#include <chrono>

#include "engine/capnp_guard.h"
#include "node/node_log.h"

namespace rollcall {

CommitQueue::CommitQueue(EventLog& log, Clock clock, NodeMetrics& metrics)
    : log_(log), clock_(std::move(clock)), metrics_(metrics) {}

CommitQueue::~CommitQueue() {
  if (thread_.joinable()) {
    close(nullptr);
    join();
  }
}

void CommitQueue::start() { thread_ = std::thread([this] { run(); }); }

bool CommitQueue::enqueue(Request request) {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return false;
    queue_.push_back(std::move(request));
    metrics_.commit_queue_requests.store(queue_.size(), std::memory_order_relaxed);
  }
  wake_.notify_one();
  return true;
}

void CommitQueue::record_fork(const ForkRecord& fork) {
  Request request;
  request.job = [fork](EventLog& log) {
    if (auto s = log.record_fork(fork); !s.ok())
      node_log()->error("recording the fork of origin {} with {}: {}", fork.origin.str(), fork.peer.str(),
                        s.error().message());
  };
  enqueue(std::move(request));
}

void CommitQueue::record_child_incarnation(const UnitCode& child, const std::string& incarnation) {
  Request request;
  request.job = [child, incarnation](EventLog& log) {
    if (auto s = log.record_child_incarnation(child, incarnation); !s.ok())
      node_log()->error("recording the incarnation of child {}: {}", child.str(), s.error().message());
  };
  enqueue(std::move(request));
}

void CommitQueue::close(std::function<void()> drained) {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    drained_ = std::move(drained);
  }
  wake_.notify_one();
}

void CommitQueue::join() {
  if (thread_.joinable()) thread_.join();
}

void CommitQueue::set_gate(Gate gate, std::string reason) {
  {
    std::lock_guard lock(mutex_);
    gate_ = gate;
    gate_reason_ = std::move(reason);
  }
  wake_.notify_one();
}

CommitQueue::Gate CommitQueue::gate() const {
  std::lock_guard lock(mutex_);
  return gate_;
}

bool CommitQueue::runnable() const {
  if (queue_.empty()) return false;
  if (gate_ != Gate::kHold || closed_) return true;
  for (const auto& request : queue_)
    if (!request.done) return true;
  return false;
}

std::vector<CommitQueue::Request> CommitQueue::take(std::unique_lock<std::mutex>&) {
  std::vector<Request> group;
  if (gate_ == Gate::kHold && !closed_) {
    // Submits wait: take the oldest other request.
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
      if (it->done) continue;
      group.push_back(std::move(*it));
      queue_.erase(it);
      return group;
    }
  }
  // A run of submits, or a run of children's batches, within the bounds; a job alone.
  auto kind = [](const Request& r) { return r.done ? 0 : r.ingested ? 1 : 2; };
  const int first = kind(queue_.front());
  size_t events = 0;
  size_t bytes = 0;
  while (!queue_.empty()) {
    Request& next = queue_.front();
    if (!group.empty()) {
      if (first == 2 || kind(next) != first) break;
      if (events + next.events.size() > kMaxEventsPerCommit || bytes + next.bytes > kMaxBytesPerCommit) break;
    }
    events += next.events.size();
    bytes += next.bytes;
    group.push_back(std::move(next));
    queue_.pop_front();
  }
  return group;
}

void CommitQueue::run() {
  for (;;) {
    std::vector<Request> group;
    std::string refused;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return (closed_ && queue_.empty()) || runnable(); });
      if (queue_.empty()) break;  // closed and drained
      group = take(lock);
      metrics_.commit_queue_requests.store(queue_.size(), std::memory_order_relaxed);
      // A held submit is taken only when the queue closes.
      if (group.front().done && gate_ != Gate::kOpen)
        refused = gate_ == Gate::kHold ? "the node is shutting down; submit again later" : gate_reason_;
    }
    if (!refused.empty()) {
      refuse_submits(group, refused);
    } else if (group.front().done) {
      run_submits(group);
    } else if (group.front().ingested) {
      run_ingests(group);
    } else {
      group.front().job(log_);
    }
  }
  std::function<void()> drained;
  {
    std::lock_guard lock(mutex_);
    drained = std::move(drained_);
  }
  if (drained) drained();
}

void CommitQueue::run_ingests(std::vector<Request>& group) {
  // As for submits, the events were copied into node-owned memory before enqueueing.
  std::vector<std::span<const schema::Event::Reader>> batches;
  batches.reserve(group.size());
  for (const Request& request : group) batches.emplace_back(request.events);
  const auto started = std::chrono::steady_clock::now();
  auto results = guard_capnp(
      "ingest", [&] { return log_.ingest_each(batches); }, ErrorKind::kInternal);
  metrics_.commit_ingest.observe(std::chrono::steady_clock::now() - started);
  bool appended = false;
  for (size_t i = 0; i < group.size(); ++i) {
    Request& request = group[i];
    Result<IngestReport> ingested = results.ok() ? std::move((*results)[i]) : Result<IngestReport>(results.error());
    if (ingested.ok()) {
      NodeMetrics::add(metrics_.appended_relayed, ingested->applied);
      NodeMetrics::add(metrics_.duplicates, ingested->duplicates);
      if (request.from_child && ingested->applied > 0) {
        int64_t newest = 0;
        for (auto event : request.events) newest = std::max(newest, event.getRecordedAt());
        metrics_.relay_latency.observe(static_cast<double>(clock_().micros - newest) / 1e6);
      }
      appended = appended || ingested->applied > 0;
    } else if (ingested.error().kind() == ErrorKind::kInternal) {
      node_log()->error("writer: {}", ingested.error().message());
    }
    request.ingested(std::move(ingested));
  }
  if (appended && on_appended_) on_appended_();
}

void CommitQueue::refuse_submits(std::vector<Request>& group, const std::string& reason) {
  for (auto& request : group) {
    std::vector<SubmitOutcome> outcomes(request.events.size());
    for (auto& o : outcomes) {
      o.rejected = Rejection{wire::RejectCode::UNAVAILABLE, reason};
      metrics_.rejected_one(wire::RejectCode::UNAVAILABLE);
    }
    request.done(std::move(outcomes));
  }
}

void CommitQueue::run_submits(std::vector<Request>& group) {
  std::vector<schema::Event::Reader> all;
  for (const auto& request : group) all.insert(all.end(), request.events.begin(), request.events.end());
  // Sessions copy every event into node-owned memory before enqueueing, so a kj::Exception
  // here is a bug: log it and answer an internal rejection rather than crash.
  const auto started = std::chrono::steady_clock::now();
  auto submitted = guard_capnp(
      "submit", [&] { return log_.submit(all, clock_()); }, ErrorKind::kInternal);
  metrics_.commit_submit.observe(std::chrono::steady_clock::now() - started);
  std::vector<SubmitOutcome> outcomes;
  if (submitted.ok()) {
    outcomes = std::move(submitted).value();
  } else {
    node_log()->error("writer: {}", submitted.error().message());
    outcomes.resize(all.size());
    for (auto& o : outcomes) o.rejected = Rejection{wire::RejectCode::INTERNAL, submitted.error().message()};
  }
  for (const auto& o : outcomes) {
    if (o.accepted && !o.repeated) NodeMetrics::add(metrics_.appended_own, 1);
    if (o.rejected) metrics_.rejected_one(o.rejected->code);
  }
  bool appended = false;
  size_t offset = 0;
  for (auto& request : group) {
    const size_t n = request.events.size();
    std::vector<SubmitOutcome> mine(std::make_move_iterator(outcomes.begin() + static_cast<std::ptrdiff_t>(offset)),
                                    std::make_move_iterator(outcomes.begin() + static_cast<std::ptrdiff_t>(offset + n)));
    offset += n;
    for (const auto& o : mine) appended = appended || o.accepted.has_value();
    request.done(std::move(mine));
  }
  if (appended && on_appended_) on_appended_();
}

}  // namespace rollcall
