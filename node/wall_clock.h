// The node's wall clock: recordedAt of submitted events, replication's timers and the times in
// status. The engine is handed it; it never reads a clock itself.
#pragma once

#include <chrono>

#include "engine/types.h"

namespace rollcall {

inline Timestamp wall_now() { return Timestamp::of(std::chrono::system_clock::now()); }

}  // namespace rollcall
