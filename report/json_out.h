// A small writer for the CLI's --json output objects (events themselves go through EventJson).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace rollcall::cli {

inline std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  return out + "\"";
}

// Builds {"k":v,...} in insertion order.
class JsonObject {
 public:
  JsonObject& add(std::string_view key, std::string_view value) { return raw(key, json_string(value)); }
  JsonObject& add(std::string_view key, const char* value) { return raw(key, json_string(value)); }
  JsonObject& add(std::string_view key, const std::string& value) { return raw(key, json_string(value)); }
  JsonObject& add(std::string_view key, uint64_t value) { return raw(key, std::to_string(value)); }
  JsonObject& add(std::string_view key, int64_t value) { return raw(key, std::to_string(value)); }
  JsonObject& add(std::string_view key, bool value) { return raw(key, value ? "true" : "false"); }
  // A measured quantity (seconds, rates), with three decimals.
  JsonObject& add(std::string_view key, double value) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.3f", value);
    return raw(key, buf);
  }
  // `json` must already be valid JSON (an object, array or number).
  JsonObject& raw(std::string_view key, std::string_view json) {
    body_ += body_.empty() ? "" : ",";
    body_ += json_string(key);
    body_ += ":";
    body_ += json;
    return *this;
  }
  std::string str() const { return "{" + body_ + "}"; }

 private:
  std::string body_;
};

}  // namespace rollcall::cli
