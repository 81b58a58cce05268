#include "engine/event_validator.h"

#include "engine/event_fields.h"
#include "engine/map_change.h"

#include <capnp/schema.h>

namespace rollcall {
namespace {

using Which = schema::Event::Which;
using wire::RejectCode;

Rejection invalid(std::string message) { return Rejection{RejectCode::INVALID, std::move(message)}; }

bool has_control_chars(std::string_view text) {
  for (unsigned char c : text)
    if (c < 0x20 || c == 0x7f) return true;
  return false;
}

std::optional<Rejection> check_text(std::string_view field, capnp::Text::Reader value,
                                    size_t max, bool required) {
  const std::string_view text = text_view(value);
  if (required && text.empty()) return invalid("missing " + std::string(field));
  if (text.size() > max)
    return invalid(std::string(field) + " is longer than " + std::to_string(max) + " bytes");
  if (has_control_chars(text)) return invalid(std::string(field) + " has control characters");
  return std::nullopt;
}

// An enum value this build knows (a newer peer's or a forged value is not).
template <typename Enum>
std::optional<Rejection> check_enum(std::string_view field, Enum value) {
  const auto known = capnp::Schema::from<Enum>().getEnumerants().size();
  if (static_cast<uint16_t>(value) < known) return std::nullopt;
  return invalid(std::string(field) + ": unknown value " + std::to_string(static_cast<uint16_t>(value)));
}

std::optional<Rejection> check_date(std::string_view field, capnp::Text::Reader value) {
  if (value.size() == 0) return invalid("missing " + std::string(field));
  auto date = Date::parse(text_view(value));
  if (!date.ok()) return invalid(std::string(field) + ": " + date.error().message());
  return std::nullopt;
}

// The member id of a member event: present, bounded, printable (the registry keys by it).
std::optional<Rejection> check_member_id(schema::Event::Reader e) {
  auto member = event_member_id(e);
  if (!member) return std::nullopt;
  if (member->empty()) return invalid("missing memberId");
  if (member->size() > FieldLimits::kMaxMemberId)
    return invalid("memberId is longer than " + std::to_string(FieldLimits::kMaxMemberId) + " bytes");
  if (has_control_chars(*member)) return invalid("memberId has control characters");
  return std::nullopt;
}

// A transfer goes between two units (the pairing in the projections counts on it).
std::optional<Rejection> check_transfer_ends(schema::Event::Reader e) {
  if (e.isMemberTransferredOut() && e.getMemberTransferredOut().getToUnit() == e.getUnit())
    return invalid("toUnit is the event's own unit");
  if (e.isMemberTransferredIn() && e.getMemberTransferredIn().getFromUnit() == e.getUnit())
    return invalid("fromUnit is the event's own unit");
  return std::nullopt;
}

}  // namespace

std::optional<Rejection> EventValidator::check_unit_field(std::string_view field,
                                                          std::string_view code) const {
  if (code.empty()) return invalid("missing " + std::string(field));
  auto parsed = UnitCode::parse(code);
  if (!parsed.ok()) return invalid(std::string(field) + ": " + parsed.error().message());
  if (!map_.contains(*parsed))
    return Rejection{RejectCode::UNKNOWN_UNIT,
                     std::string(field) + ": unknown unit '" + std::string(code) + "'"};
  return std::nullopt;
}

std::optional<Rejection> EventValidator::check_map_event(schema::Event::Reader e) const {
  const std::string kind(event_kind_name(e));
  if (text_view(e.getUnit()) != node_unit_.str())
    return invalid(kind + ": a map event's unit is the node that issues it (" + node_unit_.str() + "), not " +
                   std::string(text_view(e.getUnit())));
  auto change = map_change_of(e);
  if (!change.ok()) return invalid(kind + ": " + change.error().message());
  const MapChange& c = *change;
  const auto unknown = [&](const char* field, const UnitCode& code) -> std::optional<Rejection> {
    if (map_.contains(code)) return std::nullopt;
    return Rejection{RejectCode::UNKNOWN_UNIT, kind + ": " + field + ": unknown unit '" + code.str() + "'"};
  };
  const auto within = [&](const char* field, const UnitCode& code, bool node_too) -> std::optional<Rejection> {
    if (auto r = unknown(field, code)) return r;
    if ((code == node_unit_ && node_too) || (code != node_unit_ && map_.in_subtree(code, node_unit_)))
      return std::nullopt;
    return Rejection{RejectCode::OUTSIDE_SUBTREE, kind + ": " + field + " " + code.str() + " is " +
                                                      (code == node_unit_ ? "this node itself" : "outside the subtree of " + node_unit_.str()) +
                                                      "; a node changes the map below it only"};
  };
  switch (c.kind) {
    case MapChange::Kind::kRegistered:
      if (map_.contains(c.code))
        return invalid(kind + ": unit " + c.code.str() + " is already in the map");
      if (auto r = check_text("name", e.getUnitRegistered().getName(), FieldLimits::kMaxName, true)) return r;
      if (auto r = check_text("level", e.getUnitRegistered().getLevel(), FieldLimits::kMaxName, true)) return r;
      return within("parent", c.parent, true);
    case MapChange::Kind::kRenamed:
      if (auto r = check_text("name", e.getUnitRenamed().getName(), FieldLimits::kMaxName, true)) return r;
      return within("code", c.code, true);
    case MapChange::Kind::kMoved:
      if (auto r = within("code", c.code, false)) return r;
      return within("parent", c.parent, true);
    case MapChange::Kind::kMerged:
      if (auto r = within("code", c.code, false)) return r;
      if (c.into.empty()) return invalid(kind + ": into: a merge needs at least one successor");
      if (c.into.size() > FieldLimits::kMaxSuccessors)
        return invalid(kind + ": into: at most " + std::to_string(FieldLimits::kMaxSuccessors) + " successors");
      for (const UnitCode& into : c.into)
        if (auto r = within("into", into, false)) return r;
      return std::nullopt;
    case MapChange::Kind::kClosed: return within("code", c.code, false);
  }
  return std::nullopt;
}

std::optional<Rejection> EventValidator::check_submitted(schema::Event::Reader e) const {
  if (e.hasOrigin() || e.getSeq() != 0 || e.getRecordedAt() != 0)
    return invalid("origin, seq and recordedAt are assigned by the node; leave them out");
  if (auto r = check_unit_field("unit", text_view(e.getUnit()))) return r;
  const auto unit = UnitCode::trusted(text_view(e.getUnit()));
  if (!map_.in_subtree(unit, node_unit_))
    return Rejection{RejectCode::OUTSIDE_SUBTREE, "unit " + unit.str() + " is outside the subtree of " +
                                                      node_unit_.str() + ", this node's unit"};
  if (auto r = check_date("effectiveDate", e.getEffectiveDate())) return r;
  if (auto r = check_text("requestId", e.getRequestId(), FieldLimits::kMaxRequestId, false)) return r;
  return check_payload(e);
}

std::optional<Rejection> EventValidator::check_relayed(schema::Event::Reader e) {
  for (const auto& [field, code] : {std::pair<std::string_view, std::string_view>{"origin", text_view(e.getOrigin())},
                                    {"unit", text_view(e.getUnit())}}) {
    auto parsed = UnitCode::parse(code);
    if (!parsed.ok()) return invalid(std::string(field) + ": " + parsed.error().message());
  }
  if (e.getSeq() == 0) return invalid("a relayed event must have a seq");
  // Its JSON form (log tail, export and import) must carry it: years 1900..2199.
  if (const std::string at = Timestamp{e.getRecordedAt()}.to_string(); !Timestamp::parse(at).ok())
    return invalid("recordedAt " + at + " is outside the years 1900..2199");
  if (auto r = check_date("effectiveDate", e.getEffectiveDate())) return r;
  if (e.which() == Which::NONE) return invalid("no event kind");
  if (static_cast<uint16_t>(e.which()) > static_cast<uint16_t>(Which::UNIT_CLOSED))
    return invalid("unknown event kind (union discriminant " + std::to_string(static_cast<uint16_t>(e.which())) + ")");
  // What the projections key by must be well formed even in a relayed event: member ids and
  // the unit codes a payload names (they may lie outside this node's map).
  if (auto r = check_member_id(e)) return r;
  for (const auto& named : event_payload_units(e)) {
    auto parsed = UnitCode::parse(named.code);
    if (!parsed.ok()) return invalid(std::string(named.field) + ": " + parsed.error().message());
  }
  if (e.which() == Which::EVENT_RETRACTED) {
    auto ref = OriginSeq::parse(text_view(e.getEventRetracted().getRef()));
    if (!ref.ok()) return invalid("ref: " + ref.error().message());
    if (ref->origin.str() != text_view(e.getOrigin()))
      return invalid("ref " + ref->to_string() + ": a retraction must name an event of its own origin");
    if (ref->seq >= e.getSeq())
      return invalid("ref " + ref->to_string() + ": a retraction must name an earlier event of its origin");
  }
  return check_transfer_ends(e);
}

std::optional<Rejection> EventValidator::check_payload(schema::Event::Reader e) const {
  if (e.which() == Which::NONE) return invalid("no event kind");
  if (is_map_event(e)) return check_map_event(e);
  if (auto r = check_member_id(e)) return r;
  for (const NamedUnit& named : event_payload_units(e)) {
    if (auto r = check_unit_field(named.field, named.code)) return r;
  }
  switch (e.which()) {
    case Which::MEMBER_ADMITTED: {
      auto p = e.getMemberAdmitted();
      if (auto r = check_text("fullName", p.getFullName(), FieldLimits::kMaxName, true)) return r;
      return check_date("birthDate", p.getBirthDate());
    }
    case Which::MEMBER_REMOVED:
      return check_enum("memberRemoved.reason", e.getMemberRemoved().getReason());
    case Which::ACTIVITY_REPORTED:
      return check_enum("activityReported.kind", e.getActivityReported().getKind());
    case Which::MEMBER_TRANSFERRED_OUT:
    case Which::MEMBER_TRANSFERRED_IN:
      return check_transfer_ends(e);
    case Which::TRAINING_RECORDED:
      return check_text("programme", e.getTrainingRecorded().getProgramme(), FieldLimits::kMaxText, true);
    case Which::MEMBER_RATED: {
      const unsigned year = e.getMemberRated().getYear();
      if (year < 1900 || year > 2199) return invalid("year " + std::to_string(year) + " is not in 1900..2199");
      return check_enum("memberRated.rating", e.getMemberRated().getRating());
    }
    case Which::REWARD_GRANTED:
      return check_text("title", e.getRewardGranted().getTitle(), FieldLimits::kMaxText, true);
    case Which::DISCIPLINE_IMPOSED:
      if (auto r = check_enum("disciplineImposed.measure", e.getDisciplineImposed().getMeasure())) return r;
      return check_text("reason", e.getDisciplineImposed().getReason(), FieldLimits::kMaxText, false);
    case Which::WORKING_AWAY_STARTED:
      return check_text("place", e.getWorkingAwayStarted().getPlace(), FieldLimits::kMaxText, true);
    case Which::TEMPORARY_ACTIVITY_REGISTERED:
      return check_date("until", e.getTemporaryActivityRegistered().getUntil());
    case Which::EVENT_RETRACTED: {
      auto ref = OriginSeq::parse(text_view(e.getEventRetracted().getRef()));
      if (!ref.ok()) return invalid("ref: " + ref.error().message());
      if (ref->origin != node_unit_)
        return invalid("ref " + ref->to_string() + ": only events of this node's origin (" +
                       node_unit_.str() + ") can be retracted here");
      return std::nullopt;
    }
    case Which::MEMBER_MATURED:
    case Which::HONORARY_RECOGNIZED:
    case Which::OUTSTANDING_NOMINATED:
    case Which::WORKING_AWAY_ENDED:
    case Which::RESIDENCE_ACTIVITY_REGISTERED:
      return std::nullopt;  // memberId and units were checked above
    case Which::NONE:
    case Which::UNIT_REGISTERED:
    case Which::UNIT_RENAMED:
    case Which::UNIT_MOVED:
    case Which::UNIT_MERGED:
    case Which::UNIT_CLOSED:
      return invalid("no event kind");  // handled above; kept so the switch names every kind
  }
  // A kind this build does not know: a newer client's schema, or a forged discriminant.
  return invalid("unknown event kind (union discriminant " + std::to_string(static_cast<uint16_t>(e.which())) +
                 "); this node's schema does not know it");
}

}  // namespace rollcall
