#include "engine/event_json.h"

#include <capnp/compat/json.h>
#include <capnp/message.h>
#include <capnp/schema.h>

#include "engine/capnp_guard.h"
#include "engine/types.h"

namespace rollcall {
namespace {

using capnp::JsonValue;

constexpr size_t kMaxNesting = 8;

std::string_view view(capnp::Text::Reader text) { return {text.begin(), text.size()}; }

// Checks that `value` has the JSON type the codec wants for `type`, so that the error names the
// field (the codec's own message does not). Numbers may come as strings (64-bit integers do).
Status check_value_type(JsonValue::Reader value, capnp::Type type, const std::string& where) {
  using capnp::schema::Type;
  const auto is = [&](JsonValue::Which w) { return value.which() == w; };
  if (is(JsonValue::NULL_)) return ok_status();
  const char* expected = nullptr;
  switch (type.which()) {
    case Type::TEXT: if (!is(JsonValue::STRING)) expected = "a string"; break;
    case Type::BOOL: if (!is(JsonValue::BOOLEAN)) expected = "true or false"; break;
    case Type::ENUM: if (!is(JsonValue::STRING)) expected = "a name"; break;
    case Type::STRUCT: if (!is(JsonValue::OBJECT)) expected = "an object"; break;
    case Type::LIST: if (!is(JsonValue::ARRAY)) expected = "an array"; break;
    case Type::VOID: expected = "null"; break;
    case Type::DATA: case Type::INTERFACE: case Type::ANY_POINTER: break;
    default:  // numbers
      if (is(JsonValue::STRING)) {
        const std::string_view text = view(value.getString());
        if (text.empty() || text.find_first_not_of("-0123456789") != std::string_view::npos)
          return invalid_input("'" + where + "' must be a number, not \"" + std::string(text) + "\"");
      } else if (!is(JsonValue::NUMBER)) {
        expected = "a number";
      }
  }
  if (expected) return invalid_input("'" + where + "' must be " + expected);
  return ok_status();
}

// Checks every field name of `object` against `type`, recursively. `path` names the place.
Status check_fields(JsonValue::Reader object, capnp::StructSchema type, const std::string& path) {
  for (auto field : object.getObject()) {
    const std::string name(view(field.getName()));
    KJ_IF_MAYBE(schema_field, type.findFieldByName(name)) {
      auto field_type = schema_field->getType();
      auto value = field.getValue();
      // recordedAt is a timestamp string, converted later; a kind's shape is check_kind's.
      const bool is_kind = schema_field->getProto().getDiscriminantValue() !=
                           capnp::schema::Field::NO_DISCRIMINANT && path.empty();
      if (!(path.empty() && name == "recordedAt") && !is_kind)
        ROLLCALL_TRY(check_value_type(value, field_type, path + name));
      if (field_type.isStruct() && value.isObject()) {
        ROLLCALL_TRY(check_fields(value, field_type.asStruct(), path + name + "."));
      }
    } else {
      return invalid_input("unknown field '" + path + name + "'");
    }
  }
  return ok_status();
}

// Top-level shape: exactly one event kind, and no "none".
Status check_kind(JsonValue::Reader object) {
  auto event_schema = capnp::Schema::from<schema::Event>();
  std::string kind;
  for (auto field : object.getObject()) {
    KJ_IF_MAYBE(schema_field, event_schema.findFieldByName(field.getName())) {
      if (schema_field->getProto().getDiscriminantValue() ==
          capnp::schema::Field::NO_DISCRIMINANT)
        continue;
      const std::string name(view(field.getName()));
      if (name == "none") return invalid_input("'none' is not an event kind");
      if (!kind.empty())
        return invalid_input("two event kinds in one line: '" + kind + "' and '" + name + "'");
      kind = name;
      if (!field.getValue().isObject())
        return invalid_input("'" + name + "' must be a JSON object");
    }
  }
  if (kind.empty()) return invalid_input("no event kind (such as \"memberAdmitted\": {...})");
  return ok_status();
}

// recordedAt comes as an RFC 3339 string; the codec wants the Int64 micros.
Status convert_recorded_at(JsonValue::Builder object) {
  for (auto field : object.getObject()) {
    if (field.getName() != "recordedAt") continue;
    auto value = field.getValue();
    if (!value.isString()) return invalid_input("recordedAt must be an RFC 3339 UTC timestamp string");
    auto ts = Timestamp::parse(view(value.getString()));
    if (!ts.ok()) return invalid_input("recordedAt: " + ts.error().message());
    value.setString(std::to_string(ts->micros));
  }
  return ok_status();
}

}  // namespace

EventJson::EventJson() : codec_(std::make_unique<capnp::JsonCodec>()) {
  codec_->setMaxNestingDepth(kMaxNesting);
  codec_->setRejectUnknownFields(true);
}

EventJson::~EventJson() = default;

Status EventJson::parse(std::string_view line, schema::Event::Builder out) const {
  if (line.size() > kMaxLineBytes)
    return invalid_input("line longer than " + std::to_string(kMaxLineBytes) + " bytes");
  capnp::MallocMessageBuilder scratch;
  auto raw = scratch.initRoot<JsonValue>();
  ROLLCALL_TRY(guard_capnp("not valid JSON", [&] {
    codec_->decodeRaw(kj::ArrayPtr<const char>(line.data(), line.size()), raw);
  }));
  if (!raw.isObject()) return invalid_input("an event must be a JSON object");
  ROLLCALL_TRY(check_fields(raw.asReader(), capnp::Schema::from<schema::Event>(), ""));
  ROLLCALL_TRY(check_kind(raw.asReader()));
  ROLLCALL_TRY(convert_recorded_at(raw));
  return guard_capnp("bad value", [&] { codec_->decode(raw.asReader(), capnp::toDynamic(out)); });
}

std::string EventJson::format(schema::Event::Reader event) const {
  capnp::MallocMessageBuilder scratch;
  auto raw = scratch.initRoot<JsonValue>();
  codec_->encode(event, raw);
  // Rebuild the top-level object without unassigned fields and with readable seq/recordedAt.
  auto fields = raw.getObject();
  capnp::MallocMessageBuilder out_message;
  auto out = out_message.initRoot<JsonValue>();
  const bool assigned = event.getSeq() != 0;
  const auto dropped = [&](capnp::Text::Reader name) {
    return !assigned && (name == "origin" || name == "seq" || name == "recordedAt");
  };
  size_t kept = 0;
  for (auto field : fields) kept += dropped(field.getName()) ? 0 : 1;
  auto out_fields = out.initObject(static_cast<unsigned>(kept));
  unsigned i = 0;
  for (auto field : fields) {
    const auto name = field.getName();
    if (dropped(name)) continue;
    auto target = out_fields[i++];
    target.setName(name);
    if (name == "seq") {
      target.initValue().setNumber(static_cast<double>(event.getSeq()));
    } else if (name == "recordedAt") {
      target.initValue().setString(Timestamp{event.getRecordedAt()}.to_string());
    } else {
      target.setValue(field.getValue().asReader());
    }
  }
  return std::string(codec_->encodeRaw(out.asReader()).cStr());
}

}  // namespace rollcall
