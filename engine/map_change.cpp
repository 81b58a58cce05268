#include "engine/map_change.h"

#include "engine/event_fields.h"
#include "engine/keys.h"

namespace rollcall {
namespace {

using Which = schema::Event::Which;

Status take_code(UnitCode& out, std::string_view field, capnp::Text::Reader text) {
  auto code = UnitCode::parse(text_view(text));
  if (!code.ok()) return invalid_input(std::string(field) + ": " + code.error().message());
  out = std::move(code).value();
  return ok_status();
}

void put_text(std::string& out, std::string_view text) {
  keys::put_be32(out, static_cast<uint32_t>(text.size()));
  out.append(text);
}

// Reads one length-prefixed text at `pos`; false when the value ends first.
bool get_text(std::string_view value, size_t& pos, std::string& out) {
  if (value.size() - pos < 4) return false;
  const uint32_t n = keys::get_be32(value, pos);
  pos += 4;
  if (value.size() - pos < n) return false;
  out.assign(value.substr(pos, n));
  pos += n;
  return true;
}

}  // namespace

const char* map_change_kind_name(MapChange::Kind kind) {
  switch (kind) {
    case MapChange::Kind::kRegistered: return "unitRegistered";
    case MapChange::Kind::kRenamed: return "unitRenamed";
    case MapChange::Kind::kMoved: return "unitMoved";
    case MapChange::Kind::kMerged: return "unitMerged";
    case MapChange::Kind::kClosed: return "unitClosed";
  }
  return "unknown";
}

Result<MapChange> map_change_of(schema::Event::Reader e) {
  MapChange change;
  change.date = std::string(text_view(e.getEffectiveDate()));
  if (e.getSeq() != 0) change.id = event_id(e);
  switch (e.which()) {
    case Which::UNIT_REGISTERED: {
      auto p = e.getUnitRegistered();
      change.kind = MapChange::Kind::kRegistered;
      ROLLCALL_TRY(take_code(change.code, "code", p.getCode()));
      ROLLCALL_TRY(take_code(change.parent, "parent", p.getParent()));
      change.name = std::string(text_view(p.getName()));
      change.level = std::string(text_view(p.getLevel()));
      return change;
    }
    case Which::UNIT_RENAMED: {
      auto p = e.getUnitRenamed();
      change.kind = MapChange::Kind::kRenamed;
      ROLLCALL_TRY(take_code(change.code, "code", p.getCode()));
      change.name = std::string(text_view(p.getName()));
      return change;
    }
    case Which::UNIT_MOVED: {
      auto p = e.getUnitMoved();
      change.kind = MapChange::Kind::kMoved;
      ROLLCALL_TRY(take_code(change.code, "code", p.getCode()));
      ROLLCALL_TRY(take_code(change.parent, "parent", p.getParent()));
      return change;
    }
    case Which::UNIT_MERGED: {
      auto p = e.getUnitMerged();
      change.kind = MapChange::Kind::kMerged;
      ROLLCALL_TRY(take_code(change.code, "code", p.getCode()));
      for (auto into : p.getInto()) {
        ROLLCALL_TRY(take_code(change.into.emplace_back(), "into", into));
      }
      return change;
    }
    case Which::UNIT_CLOSED: {
      change.kind = MapChange::Kind::kClosed;
      ROLLCALL_TRY(take_code(change.code, "code", e.getUnitClosed().getCode()));
      return change;
    }
    default: return invalid_input("event " + event_id(e) + " is not a map event");
  }
}

std::string map_event_key(std::string_view effective_date, std::string_view origin, uint64_t seq) {
  std::string key(effective_date);
  key.push_back('\0');
  key.append(origin);
  key.push_back('\0');
  keys::put_be64(key, seq);
  return key;
}

std::string map_event_key(schema::Event::Reader e) {
  return map_event_key(text_view(e.getEffectiveDate()), text_view(e.getOrigin()), e.getSeq());
}

std::string encode_map_change(const MapChange& c) {
  std::string out(1, static_cast<char>('0' + static_cast<int>(c.kind)));
  put_text(out, c.code.str());
  put_text(out, c.name);
  put_text(out, c.level);
  put_text(out, c.parent.str());
  keys::put_be32(out, static_cast<uint32_t>(c.into.size()));
  for (const UnitCode& into : c.into) put_text(out, into.str());
  return out;
}

Result<MapChange> decode_map_change(std::string_view key, std::string_view value) {
  const auto corrupt = [&] { return Error(ErrorKind::kCorruption, "a map_events entry is malformed"); };
  MapChange c;
  const size_t date_end = key.find('\0');
  const size_t origin_end = date_end == std::string_view::npos ? date_end : key.find('\0', date_end + 1);
  if (origin_end == std::string_view::npos || key.size() != origin_end + 9) return corrupt();
  c.date = std::string(key.substr(0, date_end));
  c.id = std::string(key.substr(date_end + 1, origin_end - date_end - 1)) + ":" +
         std::to_string(keys::get_be64(key, origin_end + 1));
  if (value.empty() || value[0] < '0' || value[0] > '4') return corrupt();
  c.kind = static_cast<MapChange::Kind>(value[0] - '0');
  size_t pos = 1;
  std::string code, parent;
  if (!get_text(value, pos, code) || !get_text(value, pos, c.name) || !get_text(value, pos, c.level) ||
      !get_text(value, pos, parent) || value.size() - pos < 4)
    return corrupt();
  c.code = UnitCode::trusted(code);
  c.parent = UnitCode::trusted(parent);
  const uint32_t n = keys::get_be32(value, pos);
  pos += 4;
  for (uint32_t i = 0; i < n; ++i) {
    std::string into;
    if (!get_text(value, pos, into)) return corrupt();
    c.into.push_back(UnitCode::trusted(into));
  }
  if (pos != value.size()) return corrupt();
  return c;
}

std::string describe(const MapChange& c) {
  std::string out = c.date + " " + map_change_kind_name(c.kind) + " " + c.code.str();
  switch (c.kind) {
    case MapChange::Kind::kRegistered: out += " '" + c.name + "' (" + c.level + ") under " + c.parent.str(); break;
    case MapChange::Kind::kRenamed: out += " to '" + c.name + "'"; break;
    case MapChange::Kind::kMoved: out += " under " + c.parent.str(); break;
    case MapChange::Kind::kMerged: {
      out += " into";
      for (size_t i = 0; i < c.into.size(); ++i) out += (i == 0 ? " " : ", ") + c.into[i].str();
      break;
    }
    case MapChange::Kind::kClosed: break;
  }
  if (!c.id.empty()) out += " (" + c.id + ")";
  return out;
}

}  // namespace rollcall
