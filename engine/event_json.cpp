#include "engine/event_json.h"

#include <capnp/compat/json.h>
#include <capnp/message.h>
#include <capnp/schema.h>

#include <optional>

#include "engine/capnp_guard.h"
#include "engine/types.h"

namespace rollcall {
namespace {

using capnp::JsonValue;

constexpr size_t kMaxNesting = 8;
constexpr uint64_t kMaxExactSeq = uint64_t{1} << 53;

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

std::optional<uint32_t> hex4(std::string_view text, size_t at) {
  if (at + 4 > text.size()) return std::nullopt;
  uint32_t value = 0;
  for (size_t i = at; i < at + 4; ++i) {
    const char c = text[i];
    const int digit = c >= '0' && c <= '9' ? c - '0'
                      : c >= 'a' && c <= 'f' ? c - 'a' + 10
                      : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                             : -1;
    if (digit < 0) return std::nullopt;
    value = value * 16 + static_cast<uint32_t>(digit);
  }
  return value;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | cp >> 6));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | cp >> 12));
    out.push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | cp >> 18));
    out.push_back(static_cast<char>(0x80 | (cp >> 12 & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

// Replaces the \uXXXX escapes inside strings by the characters they name (UTF-8). Cap'n Proto
// 0.9's JSON decoder reads the hex digits a-f as 0-5 ("\u00e9" gives 'I', not 'é'), and
// generators such as Python's json.dumps escape every non-ASCII character. What the decoder
// must still see escaped stays so: a quote, a backslash and NUL (whose digits it reads right).
Result<std::string> decode_unicode_escapes(std::string_view line) {
  std::string out;
  out.reserve(line.size());
  bool in_string = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (c == '"') in_string = !in_string;
    if (!in_string || c != '\\' || i + 1 >= line.size()) {
      out.push_back(c);
      continue;
    }
    if (line[i + 1] != 'u') {  // another escape: copy it whole
      out.append(line.substr(i, 2));
      ++i;
      continue;
    }
    auto unit = hex4(line, i + 2);
    if (!unit) return invalid_input("not valid JSON: a \\u escape needs four hex digits");
    uint32_t cp = *unit;
    size_t length = 6;
    if (cp >= 0xd800 && cp <= 0xdbff) {
      auto low = line.substr(i + 6, 2) == "\\u" ? hex4(line, i + 8) : std::nullopt;
      if (!low || *low < 0xdc00 || *low > 0xdfff)
        return invalid_input("not valid JSON: a \\u escape of a lone UTF-16 surrogate");
      cp = 0x10000 + ((cp - 0xd800) << 10) + (*low - 0xdc00);
      length = 12;
    } else if (cp >= 0xdc00 && cp <= 0xdfff) {
      return invalid_input("not valid JSON: a \\u escape of a lone UTF-16 surrogate");
    }
    if (cp == '"' || cp == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(cp));
    } else if (cp == 0) {
      out.append("\\u0000");
    } else {
      append_utf8(out, cp);
    }
    i += length - 1;
  }
  return out;
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
  auto unescaped = decode_unicode_escapes(line);
  if (!unescaped.ok()) return unescaped.error();
  ROLLCALL_TRY(guard_capnp("not valid JSON", [&] {
    codec_->decodeRaw(kj::ArrayPtr<const char>(unescaped->data(), unescaped->size()), raw);
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
  // Seq and recordedAt each on its own: a line may carry one without the others (the validator
  // refuses it, but its JSON must still say what it holds). The origin only with a seq: until
  // the node assigns a seq, an event's origin (set by test generators to say which node is to
  // take it) names no id, and a submitted line must not carry one.
  const auto dropped = [&](capnp::Text::Reader name) {
    return (name == "origin" && (!event.hasOrigin() || event.getSeq() == 0)) || (name == "seq" && event.getSeq() == 0) ||
           (name == "recordedAt" && event.getRecordedAt() == 0);
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
      // A double holds every integer up to 2^53 exactly; a larger seq (never given, but a
      // relayed event may carry one) is written as a decimal string, which parse reads exactly.
      if (event.getSeq() <= kMaxExactSeq)
        target.initValue().setNumber(static_cast<double>(event.getSeq()));
      else
        target.initValue().setString(std::to_string(event.getSeq()));
    } else if (name == "recordedAt") {
      target.initValue().setString(Timestamp{event.getRecordedAt()}.to_string());
    } else {
      target.setValue(field.getValue().asReader());
    }
  }
  return std::string(codec_->encodeRaw(out.asReader()).cStr());
}

}  // namespace rollcall
