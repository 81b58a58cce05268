// CommitQueue: group commit. Sessions enqueue submits from any number of clients; one writer
// thread takes everything that is waiting, hands it to EventLog::submit as one synced
// WriteBatch, and completes every waiter after that single sync. Throughput then grows with
// load instead of being capped at one fsync per request.
//
// Ownership: owns the writer thread; borrows the EventLog, which must outlive it and which no
// other thread may touch while the queue runs. enqueue() is thread-safe; completions run on the
// writer thread and must only hand their results to the caller's executor.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/event_log.h"

namespace rollcall {

class CommitQueue {
 public:
  using Completion = std::function<void(std::vector<SubmitOutcome>)>;
  using Clock = std::function<Timestamp()>;

  struct Request {
    std::shared_ptr<void> owner;  // keeps the events' memory alive
    std::vector<schema::Event::Reader> events;
    size_t bytes = 0;             // encoded size of the events
    Completion done;
  };

  // One write takes waiting requests up to these bounds (and at least one request), so a log
  // value stays small enough to read back and to forward in one frame.
  static constexpr size_t kMaxEventsPerCommit = 20000;
  static constexpr size_t kMaxBytesPerCommit = 4 << 20;

  CommitQueue(EventLog& log, Clock clock);
  ~CommitQueue();
  CommitQueue(const CommitQueue&) = delete;
  CommitQueue& operator=(const CommitQueue&) = delete;

  void start();
  // False once close() was called: the caller answers "shutting down".
  bool enqueue(Request request);
  // Takes no new requests; those queued are still committed. `drained` runs on the writer
  // thread once the last one has completed.
  void close(std::function<void()> drained);
  // Joins the writer thread (after close()).
  void join();

 private:
  void run();

  EventLog& log_;
  Clock clock_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Request> queue_;
  bool closed_ = false;
  std::function<void()> drained_;
  std::thread thread_;
};

}  // namespace rollcall
