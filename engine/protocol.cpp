#include "engine/protocol.h"

#include <capnp/schema.h>

#include <charconv>
#include <set>

#include "engine/enum_name.h"
#include "engine/frame_codec.h"
#include "schema/event.capnp.h"

namespace rollcall {
namespace {

uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h;
}

void visit(capnp::Schema schema, std::set<uint64_t>& seen, uint64_t& hash) {
  if (!seen.insert(schema.getProto().getId()).second) return;
  hash = mix(hash, schema.getProto().getId());
  if (schema.getProto().isEnum()) {
    for (auto e : schema.asEnum().getEnumerants()) hash = mix(hash, e.getOrdinal() + 1);
    return;
  }
  if (!schema.getProto().isStruct()) return;
  for (auto field : schema.asStruct().getFields()) {
    const auto name = field.getProto().getName();
    for (char c : name) hash = mix(hash, static_cast<uint8_t>(c));
    auto type = field.getType();
    hash = mix(hash, static_cast<uint64_t>(type.which()));
    while (type.isList()) type = type.asList().getElementType();
    if (type.isStruct()) visit(type.asStruct(), seen, hash);
    if (type.isEnum()) visit(type.asEnum(), seen, hash);
  }
}

}  // namespace

Result<HostPort> parse_host_port(const std::string& text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    return invalid_input("'" + text + "' is not HOST:PORT");
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535)
    return invalid_input("'" + text + "': port must be a number 0..65535");
  return HostPort{host, static_cast<uint16_t>(port)};
}

uint64_t schema_fingerprint() {
  static const uint64_t fingerprint = [] {
    std::set<uint64_t> seen;
    uint64_t hash = 0;
    visit(capnp::Schema::from<schema::Event>(), seen, hash);
    return hash;
  }();
  return fingerprint;
}

void fill_hello(wire::Hello::Builder hello, const std::string& unit, wire::PeerRole role,
                const std::string& incarnation) {
  hello.setUnit(unit);
  hello.setProtocolVersion(kProtocolVersion);
  hello.setSchemaFingerprint(schema_fingerprint());
  hello.setIncarnation(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(incarnation.data()),
                                           incarnation.size()));
  hello.setRole(role);
  hello.setSoftware(kSoftwareVersion);
}

Status check_hello(wire::Hello::Reader hello) {
  if (hello.getProtocolVersion() != kProtocolVersion)
    return Error(ErrorKind::kIncompatible,
                 "protocol version " + std::to_string(hello.getProtocolVersion()) +
                     " is not supported; this node speaks version " + std::to_string(kProtocolVersion));
  return ok_status();
}

std::vector<uint8_t> error_frame(wire::ErrorCode code, const std::string& message, const std::string& origin,
                                 uint64_t seq) {
  capnp::MallocMessageBuilder builder;
  auto error = builder.initRoot<wire::Message>().initError();
  error.setCode(code);
  error.setMessage(message);
  if (!origin.empty()) error.setOrigin(origin);
  error.setSeq(seq);
  return encode_frame(builder);
}

const char* error_code_name(wire::ErrorCode code) { return enum_name(code); }

}  // namespace rollcall
