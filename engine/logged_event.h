// Events read back from a log. A log stores the events of one write under one key (a
// LogBatch); reading decodes the whole batch once and hands out events that share it.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>

#include <capnp/serialize.h>
#include <kj/array.h>

#include "engine/status.h"
#include "engine/types.h"
#include "schema/event.capnp.h"
#include "schema/storage.capnp.h"

namespace rollcall {

// One decoded log batch: owns the aligned words and the reader. Immutable.
class LogBatchView {
 public:
  // Copies `bytes` (a `log` value) into aligned words and opens it; checks it is well formed.
  static Result<std::shared_ptr<const LogBatchView>> decode(Lsn first_lsn, std::string_view bytes);

  Lsn first_lsn() const { return first_lsn_; }
  uint32_t size() const { return size_; }
  // Valid while this view lives.
  schema::Event::Reader event(uint32_t index) const { return events_[index]; }

  LogBatchView(Lsn first_lsn, kj::Array<capnp::word> words);

 private:
  Lsn first_lsn_;
  kj::Array<capnp::word> words_;
  capnp::FlatArrayMessageReader reader_;
  capnp::List<schema::Event>::Reader events_;
  uint32_t size_ = 0;
};

// The few log batches decoded last, by first LSN: lookups by origin:seq (a repeated request, a
// retraction's target, a fetch, a chain hash) mostly land in the batch the previous one did,
// and decoding copies the whole batch. Batches never change once written, so an entry never
// goes stale. Thread-safe: the writer thread and replication's readers share it.
class BatchCache {
 public:
  std::shared_ptr<const LogBatchView> find(Lsn first_lsn) const {
    std::lock_guard lock(mutex_);
    for (const auto& batch : batches_)
      if (batch && batch->first_lsn() == first_lsn) return batch;
    return nullptr;
  }
  void put(std::shared_ptr<const LogBatchView> batch) {
    std::lock_guard lock(mutex_);
    batches_[next_++ % batches_.size()] = std::move(batch);
  }

 private:
  mutable std::mutex mutex_;
  std::array<std::shared_ptr<const LogBatchView>, 4> batches_;
  size_t next_ = 0;
};

// An event as this node holds it: its local LSN and the batch it is stored in.
struct LoggedEvent {
  Lsn lsn;
  std::shared_ptr<const LogBatchView> batch;
  uint32_t index = 0;

  schema::Event::Reader event() const { return batch->event(index); }
};

}  // namespace rollcall
