#include "engine/event_fields.h"

#include <capnp/schema.h>

namespace rollcall {

using Which = schema::Event::Which;

std::string event_id(schema::Event::Reader event) {
  return std::string(text_view(event.getOrigin())) + ":" + std::to_string(event.getSeq());
}

std::string_view event_kind_name(schema::Event::Reader event) { return event_kind_name(event.which()); }

std::string_view event_kind_name(schema::Event::Which kind) {
  auto schema = capnp::Schema::from<schema::Event>();
  KJ_IF_MAYBE(field, schema.getFieldByDiscriminant(static_cast<uint16_t>(kind))) {
    return text_view(field->getProto().getName());
  }
  return "unknown";
}

bool is_event_kind_name(std::string_view name) {
  auto schema = capnp::Schema::from<schema::Event>();
  for (auto field : schema.getUnionFields()) {
    if (text_view(field.getProto().getName()) == name) return name != "none";
  }
  return false;
}

std::optional<std::string_view> event_member_id(schema::Event::Reader e) {
  switch (e.which()) {
    case Which::MEMBER_ADMITTED: return text_view(e.getMemberAdmitted().getMemberId());
    case Which::MEMBER_TRANSFERRED_OUT: return text_view(e.getMemberTransferredOut().getMemberId());
    case Which::MEMBER_TRANSFERRED_IN: return text_view(e.getMemberTransferredIn().getMemberId());
    case Which::MEMBER_MATURED: return text_view(e.getMemberMatured().getMemberId());
    case Which::MEMBER_REMOVED: return text_view(e.getMemberRemoved().getMemberId());
    case Which::TRAINING_RECORDED: return text_view(e.getTrainingRecorded().getMemberId());
    case Which::MEMBER_RATED: return text_view(e.getMemberRated().getMemberId());
    case Which::HONORARY_RECOGNIZED: return text_view(e.getHonoraryRecognized().getMemberId());
    case Which::OUTSTANDING_NOMINATED: return text_view(e.getOutstandingNominated().getMemberId());
    case Which::REWARD_GRANTED: return text_view(e.getRewardGranted().getMemberId());
    case Which::DISCIPLINE_IMPOSED: return text_view(e.getDisciplineImposed().getMemberId());
    case Which::WORKING_AWAY_STARTED: return text_view(e.getWorkingAwayStarted().getMemberId());
    case Which::WORKING_AWAY_ENDED: return text_view(e.getWorkingAwayEnded().getMemberId());
    case Which::RESIDENCE_ACTIVITY_REGISTERED:
      return text_view(e.getResidenceActivityRegistered().getMemberId());
    case Which::TEMPORARY_ACTIVITY_REGISTERED:
      return text_view(e.getTemporaryActivityRegistered().getMemberId());
    default: return std::nullopt;
  }
}

bool is_map_event(schema::Event::Reader e) {
  switch (e.which()) {
    case Which::UNIT_REGISTERED:
    case Which::UNIT_RENAMED:
    case Which::UNIT_MOVED:
    case Which::UNIT_MERGED:
    case Which::UNIT_CLOSED: return true;
    default: return false;
  }
}

std::vector<NamedUnit> event_payload_units(schema::Event::Reader e) {
  std::vector<NamedUnit> units;
  switch (e.which()) {
    case Which::MEMBER_TRANSFERRED_OUT:
      units.push_back({"toUnit", text_view(e.getMemberTransferredOut().getToUnit())});
      break;
    case Which::MEMBER_TRANSFERRED_IN:
      units.push_back({"fromUnit", text_view(e.getMemberTransferredIn().getFromUnit())});
      break;
    case Which::RESIDENCE_ACTIVITY_REGISTERED:
      units.push_back({"hostUnit", text_view(e.getResidenceActivityRegistered().getHostUnit())});
      break;
    case Which::TEMPORARY_ACTIVITY_REGISTERED:
      units.push_back({"hostUnit", text_view(e.getTemporaryActivityRegistered().getHostUnit())});
      break;
    case Which::UNIT_REGISTERED:
      units.push_back({"code", text_view(e.getUnitRegistered().getCode())});
      units.push_back({"parent", text_view(e.getUnitRegistered().getParent())});
      break;
    case Which::UNIT_RENAMED: units.push_back({"code", text_view(e.getUnitRenamed().getCode())}); break;
    case Which::UNIT_MOVED:
      units.push_back({"code", text_view(e.getUnitMoved().getCode())});
      units.push_back({"parent", text_view(e.getUnitMoved().getParent())});
      break;
    case Which::UNIT_MERGED:
      units.push_back({"code", text_view(e.getUnitMerged().getCode())});
      for (auto code : e.getUnitMerged().getInto()) units.push_back({"into", text_view(code)});
      break;
    case Which::UNIT_CLOSED: units.push_back({"code", text_view(e.getUnitClosed().getCode())}); break;
    default: break;
  }
  return units;
}

}  // namespace rollcall
