// Ports for test processes that are restarted or re-listen on the same port. A port the OS
// picks (port 0) comes from the ephemeral range, where any outgoing connection may take it while
// its listener is down (a node killed, a link cut), so a restart could not bind it again. These
// come from below the ephemeral range instead.
#pragma once

#include <cstdint>

namespace rollcall::cli {

// A port of 127.0.0.1 in [20000, 32000) that was free when checked (random, so that parallel
// test processes rarely collide; a caller that fails to bind it asks again).
uint16_t free_port_below_ephemeral();

}  // namespace rollcall::cli
