#include "node/commit_queue.h"

#include "engine/capnp_guard.h"
#include "node/node_log.h"

namespace rollcall {

CommitQueue::CommitQueue(EventLog& log, Clock clock) : log_(log), clock_(std::move(clock)) {}

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
  }
  wake_.notify_one();
  return true;
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

void CommitQueue::run() {
  for (;;) {
    std::vector<Request> group;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return closed_ || !queue_.empty(); });
      if (queue_.empty()) break;  // closed and drained
      size_t events = 0;
      size_t bytes = 0;
      while (!queue_.empty() &&
             (group.empty() || (events + queue_.front().events.size() <= kMaxEventsPerCommit &&
                                bytes + queue_.front().bytes <= kMaxBytesPerCommit))) {
        events += queue_.front().events.size();
        bytes += queue_.front().bytes;
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    std::vector<schema::Event::Reader> all;
    for (const auto& request : group) all.insert(all.end(), request.events.begin(), request.events.end());
    // Sessions copy every event into node-owned memory before enqueueing, so a kj::Exception
    // here is a bug: log it and answer an internal rejection rather than crash.
    auto submitted = guard_capnp(
        "submit", [&] { return log_.submit(all, clock_()); }, ErrorKind::kInternal);
    std::vector<SubmitOutcome> outcomes;
    if (submitted.ok()) {
      outcomes = std::move(submitted).value();
    } else {
      node_log()->error("writer: {}", submitted.error().message());
      outcomes.resize(all.size());
      for (auto& o : outcomes) o.rejected = Rejection{wire::RejectCode::INTERNAL, submitted.error().message()};
    }
    size_t offset = 0;
    for (auto& request : group) {
      const size_t n = request.events.size();
      std::vector<SubmitOutcome> mine(std::make_move_iterator(outcomes.begin() + static_cast<std::ptrdiff_t>(offset)),
                                      std::make_move_iterator(outcomes.begin() + static_cast<std::ptrdiff_t>(offset + n)));
      offset += n;
      request.done(std::move(mine));
    }
  }
  std::function<void()> drained;
  {
    std::lock_guard lock(mutex_);
    drained = std::move(drained_);
  }
  if (drained) drained();
}

}  // namespace rollcall
