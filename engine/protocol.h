// Protocol constants and builders shared by the node and its clients (docs/protocol.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <capnp/message.h>

#include "engine/status.h"
#include "schema/wire.capnp.h"

namespace rollcall {

inline constexpr uint32_t kProtocolVersion = wire::PROTOCOL_VERSION;
inline constexpr const char* kSoftwareVersion = "rollcall 0.1.0";

// A node's address.
struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string to_string() const { return host + ":" + std::to_string(port); }
};

// "HOST:PORT" (IPv6 as "[::1]:PORT"), the form of --listen, --parent and --node.
Result<HostPort> parse_host_port(const std::string& text);

// Hash of the event schema (every struct and enum reachable from Event), so that peers can
// log which schema the other side speaks. Stable across builds of the same schema.
uint64_t schema_fingerprint();

// Fills a Hello of this software.
void fill_hello(wire::Hello::Builder hello, const std::string& unit, wire::PeerRole role,
                const std::string& incarnation);

// Checks a peer's Hello: the protocol version must be ours (kIncompatible otherwise).
Status check_hello(wire::Hello::Reader hello);

// One frame holding Message{error = {code, message}}.
// With `fork`, `origin` and `seq` name the origin whose histories differ and the first seq
// that does (empty and 0 when not known).
std::vector<uint8_t> error_frame(wire::ErrorCode code, const std::string& message, const std::string& origin = {},
                                 uint64_t seq = 0);

const char* error_code_name(wire::ErrorCode code);

}  // namespace rollcall
