// CommitQueue: the node's one writer. Sessions enqueue submits from any number of clients and
// batches relayed by child nodes; one writer thread takes what is waiting, in order: a run of
// submits becomes one EventLog::submit (one synced WriteBatch, group commit: every waiter is
// answered after that single sync, so throughput grows with load instead of being capped at one
// fsync per request); a run of children's batches is one EventLog::ingest_each, each batch all
// or nothing, one synced write for the run when all are accepted (fan-in from many children is
// group-committed too); other writer work (recording a child's incarnation) runs as a job.
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
#include <string>
#include <thread>
#include <vector>

#include "engine/event_log.h"
#include "engine/replication.h"
#include "node/node_metrics.h"

namespace rollcall {

class CommitQueue {
 public:
  using Completion = std::function<void(std::vector<SubmitOutcome>)>;
  using IngestCompletion = std::function<void(Result<IngestReport>)>;
  using Job = std::function<void(EventLog&)>;
  using Clock = std::function<Timestamp()>;

  // Exactly one of `done` (a submit), `ingested` (a child's batch) or `job` is set.
  struct Request {
    std::shared_ptr<void> owner;  // keeps the events' memory alive
    std::vector<schema::Event::Reader> events;
    size_t bytes = 0;             // encoded size of the events
    bool from_child = false;      // a child's batch: how old its events are counts as relay latency
    Completion done;
    IngestCompletion ingested;
    Job job;
  };

  // A request to ingest a batch the replication state machines handed out.
  static Request ingest_request(IngestJob job, IngestCompletion done) {
    Request request;
    request.owner = std::move(job.owner);
    request.events = std::move(job.events);
    request.bytes = job.bytes;
    request.ingested = std::move(done);
    return request;
  }

  // One write takes waiting requests up to these bounds (and at least one request), so a log
  // value stays small enough to read back and to forward in one frame.
  static constexpr size_t kMaxEventsPerCommit = 20000;
  static constexpr size_t kMaxBytesPerCommit = 4 << 20;

  // Counts what it appends and refuses, and times every write, in `metrics`.
  CommitQueue(EventLog& log, Clock clock, NodeMetrics& metrics);
  ~CommitQueue();
  CommitQueue(const CommitQueue&) = delete;
  CommitQueue& operator=(const CommitQueue&) = delete;

  // Whether submits are taken. kHold: they wait in the queue while other work goes on (at start,
  // until a parent said how much of this node's own origin it holds); kRefuse: they are answered
  // `unavailable` with the reason (while the node takes its own events back from a parent).
  enum class Gate { kOpen, kHold, kRefuse };
  void set_gate(Gate gate, std::string reason = {});
  Gate gate() const;

  // Runs on the writer thread after every write that appended events (replication wakes up).
  // Set before start().
  void on_appended(std::function<void()> callback) { on_appended_ = std::move(callback); }

  // Writes a fork record, or a child's incarnation (each a job on the writer thread); a failure
  // is logged.
  void record_fork(const ForkRecord& fork);
  void record_child_incarnation(const UnitCode& child, const std::string& incarnation);

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
  // Takes the next unit of work: a run of submits or of children's batches within the bounds,
  // or one job.
  std::vector<Request> take(std::unique_lock<std::mutex>& lock);
  // Whether the writer has something it may run now (called with the lock held).
  bool runnable() const;
  void run_submits(std::vector<Request>& group);
  void refuse_submits(std::vector<Request>& group, const std::string& reason);
  void run_ingests(std::vector<Request>& group);

  EventLog& log_;
  Clock clock_;
  NodeMetrics& metrics_;
  mutable std::mutex mutex_;
  Gate gate_ = Gate::kOpen;
  std::string gate_reason_;
  std::condition_variable wake_;
  std::deque<Request> queue_;
  bool closed_ = false;
  std::function<void()> drained_;
  std::function<void()> on_appended_;
  std::thread thread_;
};

}  // namespace rollcall
