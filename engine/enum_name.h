// The name of a Cap'n Proto enum value as the schema spells it ("badFrame", "transferredOut"):
// the same name the JSON codec writes, so logs, CLI output and JSON agree.
#pragma once

#include <cstdint>

#include <capnp/schema.h>

namespace rollcall {

// Static schema data: the pointer stays valid. "unknown" for a value this build lacks.
template <typename Enum>
const char* enum_name(Enum value) {
  const auto enumerants = capnp::Schema::from<Enum>().getEnumerants();
  const auto index = static_cast<uint16_t>(value);
  return index < enumerants.size() ? enumerants[index].getProto().getName().cStr() : "unknown";
}

}  // namespace rollcall
