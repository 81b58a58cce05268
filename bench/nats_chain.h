// The reference for end-to-end sync: NATS JetStream 2.9 (Debian's nats-server) in a 3-level
// chain of leaf nodes, each level a JetStream domain whose stream sources the level below's
// (bottom `l1` EV1 <- `l2` EV2 <- top `l3` EV3), driven through Debian's libnats C client. This
// is what a team would build instead of rollcall's uplinks: every level keeps its own copy of
// the log and forwards it upward across a link that may drop.
//
// NATS 2.9 acknowledges a publish once the message is in its file store's buffers; it does not
// fsync each write (rollcall fsyncs every write at every level). The benchmark says so beside
// the figures.
//
// Ownership: owns the three nats-server processes (stopped by the destructor) and the client
// connections. One thread.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_util.h"

namespace rollcall::bench {

struct NatsThroughput {
  double publish_s = 0;     // until every publish was acknowledged at the bottom
  double middle_s = 0;      // until the middle stream held them all
  double top_s = 0;         // until the top stream held them all
  double events_per_s = 0;  // end to end, by top_s
};

struct NatsLatency {
  std::vector<double> ms;  // sorted: publish at the bottom -> delivered from the top stream
};

class NatsChain {
 public:
  // Starts the three servers under `dir` (their stores and logs) and makes the streams; throws
  // std::runtime_error naming what failed (e.g. nats-server missing).
  explicit NatsChain(const std::string& dir);
  ~NatsChain();
  NatsChain(const NatsChain&) = delete;
  NatsChain& operator=(const NatsChain&) = delete;

  // Publishes `count` messages of `size` bytes at the bottom, up to `in_flight` unacknowledged,
  // and waits until the top stream holds them all.
  NatsThroughput throughput(size_t count, size_t size, size_t in_flight);
  // `probes` messages one at a time, `gap_ms` apart: each from its publish to its delivery by
  // an ordered consumer of the top stream.
  NatsLatency latency(size_t probes, size_t size, int gap_ms);

  // Peak RSS of each server, bottom first.
  std::vector<double> peak_rss_mib() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rollcall::bench
