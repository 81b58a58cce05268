// NodeMetrics: the counters and latency histograms a running node keeps for /metrics, beside
// what its status already says (node/metrics_text.h renders both). Every figure is a relaxed
// atomic: the writer thread, the io thread and the HTTP threads touch them without locks, and a
// scrape may see one counter a moment ahead of another, as Prometheus expects.
//
// Ownership: one per node, created in main before the parts that update it and outliving them.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "schema/wire.capnp.h"

namespace rollcall {

// A histogram of durations with fixed bucket bounds (seconds), Prometheus-style: cumulative
// counts are computed when rendered; observe() is one relaxed increment per figure.
class LatencyHistogram {
 public:
  // Bounds from 0.5 ms to one day: a commit takes milliseconds, a relayed event held back by a
  // link cut may be days old.
  static constexpr std::array<double, 20> kBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01,  0.025, 0.05,
                                                     0.1,    0.25,  0.5,    1,     2.5,   5,     10,
                                                     30,     60,    300,    3600,  21600, 86400};

  void observe(double seconds) {
    if (seconds < 0) seconds = 0;
    size_t i = 0;
    while (i < kBounds.size() && seconds > kBounds[i]) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    sum_micros_.fetch_add(static_cast<uint64_t>(seconds * 1e6), std::memory_order_relaxed);
  }
  void observe(std::chrono::steady_clock::duration d) { observe(std::chrono::duration<double>(d).count()); }

  // Observations at or below kBounds[i] (i == kBounds.size(): all of them).
  uint64_t cumulative(size_t i) const {
    uint64_t n = 0;
    for (size_t b = 0; b <= i && b < buckets_.size(); ++b) n += buckets_[b].load(std::memory_order_relaxed);
    return n;
  }
  uint64_t count() const { return cumulative(kBounds.size()); }
  double sum_seconds() const { return static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6; }

 private:
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets_{};  // the last one: above every bound
  std::atomic<uint64_t> sum_micros_{0};
};

struct NodeMetrics {
  using Counter = std::atomic<uint64_t>;
  static constexpr size_t kRejectCodes = static_cast<size_t>(wire::RejectCode::INTERNAL) + 1;  // the last one

  static void add(Counter& c, uint64_t n) { c.fetch_add(n, std::memory_order_relaxed); }
  static uint64_t get(const Counter& c) { return c.load(std::memory_order_relaxed); }

  // Events the writer appended: the node's own (submits) and relayed (children's batches, imports,
  // and the node's own events taken back from a parent).
  Counter appended_own{0};
  Counter appended_relayed{0};
  // Submitted events refused, by RejectCode.
  std::array<Counter, kRejectCodes> rejected{};
  void rejected_one(wire::RejectCode code) {
    const auto i = static_cast<size_t>(code);
    if (i < rejected.size()) add(rejected[i], 1);
  }
  // Relayed events the log already held (a batch resent after a lost ack).
  Counter duplicates{0};

  // Replication bytes on the wire (TLS framing excluded), to parents and from/to children.
  Counter parent_bytes_sent{0}, parent_bytes_received{0};
  Counter child_bytes_sent{0}, child_bytes_received{0};

  // Times a session stopped reading its peer because the node's in-flight budget was spent.
  Counter backpressure{0};
  // Bytes of submits and child batches taken and not answered yet (io thread writes it).
  std::atomic<uint64_t> in_flight_bytes{0};
  uint64_t in_flight_limit_bytes = 0;  // set once, before the node serves
  // Requests waiting for the writer.
  std::atomic<uint64_t> commit_queue_requests{0};

  LatencyHistogram commit_submit;  // one EventLog::submit of a run of submits
  LatencyHistogram commit_ingest;  // one EventLog::ingest_each of a run of children's batches
  LatencyHistogram uplink_round_trip;  // a batch sent to a parent until its ack
  LatencyHistogram relay_latency;  // recordedAt of a relayed batch's newest event until it was held here

  int64_t start_time_us = 0;  // wall clock, set once at start
};

}  // namespace rollcall
