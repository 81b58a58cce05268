#include "node/node_log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace rollcall {

std::shared_ptr<spdlog::logger> node_log() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto existing = spdlog::get("rollcalld");
    return existing ? existing : spdlog::stderr_color_mt("rollcalld");
  }();
  return logger;
}

}  // namespace rollcall
