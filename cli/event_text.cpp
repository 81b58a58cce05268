#include "cli/event_text.h"

#include <capnp/dynamic.h>

namespace rollcall::cli {
namespace {

std::string value_text(const capnp::DynamicValue::Reader& value) {
  switch (value.getType()) {
    case capnp::DynamicValue::TEXT: return value.as<capnp::Text>().cStr();
    case capnp::DynamicValue::INT: return std::to_string(value.as<int64_t>());
    case capnp::DynamicValue::UINT: return std::to_string(value.as<uint64_t>());
    case capnp::DynamicValue::BOOL: return value.as<bool>() ? "true" : "false";
    case capnp::DynamicValue::ENUM: {
      KJ_IF_MAYBE(e, value.as<capnp::DynamicEnum>().getEnumerant()) { return e->getProto().getName().cStr(); }
      return std::to_string(value.as<capnp::DynamicEnum>().getRaw());
    }
    case capnp::DynamicValue::LIST: {
      std::string out;
      for (auto item : value.as<capnp::DynamicList>()) out += (out.empty() ? "" : ",") + value_text(item);
      return out;
    }
    default: return "?";
  }
}

}  // namespace

std::string payload_summary(schema::Event::Reader event) {
  auto dynamic = capnp::toDynamic(event);
  KJ_IF_MAYBE(field, dynamic.which()) {
    auto payload = dynamic.get(*field);
    if (payload.getType() != capnp::DynamicValue::STRUCT) return "";
    auto fields = payload.as<capnp::DynamicStruct>();
    std::string out;
    for (auto f : fields.getSchema().getFields()) {
      if (!fields.has(f)) continue;
      out += (out.empty() ? "" : " ") + std::string(f.getProto().getName().cStr()) + "=" + value_text(fields.get(f));
    }
    return out;
  }
  return "";
}

}  // namespace rollcall::cli
