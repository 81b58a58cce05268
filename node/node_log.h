// The node's module logger (spdlog), created on first use.
#pragma once

#include <memory>

#include <spdlog/logger.h>

namespace rollcall {

std::shared_ptr<spdlog::logger> node_log();

}  // namespace rollcall
