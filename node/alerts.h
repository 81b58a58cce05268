// Problems an operator must see (a fork, a child's re-created log, a log behind its parent):
// each is logged at error level when raised and the newest are kept for `rollcall status`.
//
// Threads: the io_context's thread only.
#pragma once

#include <cstddef>
#include <deque>
#include <string>

#include "engine/types.h"
#include "node/node_log.h"

namespace rollcall {

class Alerts {
 public:
  struct Alert {
    Timestamp at;
    std::string message;
  };
  static constexpr size_t kKept = 100;

  void raise(Timestamp at, std::string message) {
    node_log()->error("ALERT: {}", message);
    alerts_.push_back(Alert{at, std::move(message)});
    if (alerts_.size() > kKept) alerts_.pop_front();
    ++raised_;
  }
  const std::deque<Alert>& newest() const { return alerts_; }
  // All raised since the node started, including those no longer kept.
  size_t raised() const { return raised_; }

 private:
  std::deque<Alert> alerts_;
  size_t raised_ = 0;
};

}  // namespace rollcall
