// Lengths and seeds of the long tests, from the environment (scripts/test.sh and
// scripts/extended.sh set them; tests/README.md lists them).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <optional>

namespace rollcall::testing {

// The number in environment variable `name`, or nothing when it is unset or empty.
inline std::optional<uint64_t> env_number(const char* name) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return std::nullopt;
  return std::strtoull(text, nullptr, 10);
}

}  // namespace rollcall::testing
