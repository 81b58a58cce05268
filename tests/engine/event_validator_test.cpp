#include "engine/event_validator.h"

#include <capnp/any.h>
#include <capnp/message.h>
#include <capnp/schema.h>

#include <functional>

#include <catch2/catch.hpp>
#include <string>

#include "engine/event_json.h"
#include "engine/unit_map.h"
#include "tests/support/small_map.h"

namespace rollcall {
namespace {

using wire::RejectCode;

// Hà Nội with two districts; the node under test is Ba Đình (001).
const char* const kUnits = testing::kSmallMapCsv;

class ValidatorFixture {
 public:
  ValidatorFixture() : map_(UnitMap::parse_csv(kUnits).value()), validator_(map_, node()) {}

  static UnitCode node() { return UnitCode::parse("001").value(); }

  // Parses `line` (which must be valid JSON for an event) and validates it.
  std::optional<Rejection> check(const std::string& line) {
    capnp::MallocMessageBuilder message;
    auto event = message.initRoot<schema::Event>();
    auto parsed = json_.parse(line, event);
    INFO(line);
    INFO((parsed.ok() ? std::string() : parsed.error().message()));
    REQUIRE(parsed.ok());
    return validator_.check_submitted(event.asReader());
  }

  // Validates an event built in binary, as a client that speaks Cap'n Proto sends it.
  std::optional<Rejection> check_built(const std::function<void(schema::Event::Builder)>& build) {
    capnp::MallocMessageBuilder message;
    auto event = message.initRoot<schema::Event>();
    event.setUnit("00001");
    event.setEffectiveDate("2024-03-26");
    build(event);
    return validator_.check_submitted(event.asReader());
  }

  // An event of `unit` on 2024-03-26 with the given kind and payload.
  std::optional<Rejection> check_kind(const std::string& kind, const std::string& payload,
                                      const std::string& unit = "00001") {
    return check(R"({"unit":")" + unit + R"(","effectiveDate":"2024-03-26",")" + kind +
                 "\":" + payload + "}");
  }

 private:
  UnitMap map_;
  EventValidator validator_;
  EventJson json_;
};

void require_rejected(const std::optional<Rejection>& r, RejectCode code, const std::string& part) {
  REQUIRE(r.has_value());
  INFO(r->message);
  CHECK(r->code == code);
  CHECK_THAT(r->message, Catch::Contains(part));
}

void require_accepted(const std::optional<Rejection>& r) {
  INFO((r ? r->message : std::string()));
  CHECK_FALSE(r.has_value());
}

const std::string kMatured = R"("memberMatured":{"memberId":"00001-000001"})";

}  // namespace

TEST_CASE_METHOD(ValidatorFixture, "EventValidator: a valid event of each member kind is accepted",
                 "[event_validator]") {
  const std::string m = R"("memberId":"00001-000001")";
  require_accepted(check_kind("memberAdmitted",
                              "{" + m + R"(,"fullName":"Lê Thị Hoa","birthDate":"2001-05-02"})"));
  require_accepted(check_kind("memberTransferredOut", "{" + m + R"(,"toUnit":"00004"})"));
  require_accepted(check_kind("memberTransferredIn", "{" + m + R"(,"fromUnit":"00004"})"));
  require_accepted(check_kind("memberMatured", "{" + m + "}"));
  require_accepted(check_kind("memberRemoved", "{" + m + R"(,"reason":"voluntary"})"));
  require_accepted(check_kind("trainingRecorded", "{" + m + R"(,"programme":"Module 1"})"));
  require_accepted(check_kind("memberRated", "{" + m + R"(,"year":2024,"rating":"excellent"})"));
  require_accepted(check_kind("honoraryRecognized", "{" + m + "}"));
  require_accepted(check_kind("outstandingNominated", "{" + m + "}"));
  require_accepted(check_kind("rewardGranted", "{" + m + R"(,"title":"Giấy khen"})"));
  require_accepted(
      check_kind("disciplineImposed", "{" + m + R"(,"measure":"reprimand","reason":"late"})"));
  require_accepted(check_kind("disciplineImposed", "{" + m + R"(,"measure":"warning"})"));
  require_accepted(check_kind("workingAwayStarted", "{" + m + R"(,"place":"Bình Dương"})"));
  require_accepted(check_kind("workingAwayEnded", "{" + m + "}"));
  require_accepted(check_kind("residenceActivityRegistered", "{" + m + R"(,"hostUnit":"00004"})"));
  require_accepted(check_kind("temporaryActivityRegistered",
                              "{" + m + R"(,"hostUnit":"00004","until":"2024-12-31"})"));
}

TEST_CASE_METHOD(ValidatorFixture,
                 "EventValidator: activity reports and retractions of own "
                 "events are accepted",
                 "[event_validator]") {
  require_accepted(
      check_kind("activityReported", R"({"kind":"forums","count":5,"participants":300})"));
  // The node's own unit is part of its subtree.
  require_accepted(check_kind("activityReported", R"({"kind":"eidLevel1","count":135})", "001"));
  require_accepted(check_kind("eventRetracted", R"({"ref":"001:3"})"));
}

TEST_CASE_METHOD(ValidatorFixture, "EventValidator: a transfer may name a unit anywhere in the map",
                 "[event_validator]") {
  // Only the event's own unit must lie in this node's subtree.
  require_accepted(check_kind("memberTransferredOut", R"({"memberId":"m","toUnit":"00037"})"));
  require_accepted(check_kind("memberTransferredIn", R"({"memberId":"m","fromUnit":"00037"})"));
  require_accepted(
      check_kind("residenceActivityRegistered", R"({"memberId":"m","hostUnit":"00037"})"));
}

TEST_CASE_METHOD(ValidatorFixture,
                 "EventValidator: the event's unit must be known and in the node's subtree",
                 "[event_validator]") {
  require_rejected(check(R"({"effectiveDate":"2024-03-26",)" + kMatured + "}"), RejectCode::INVALID,
                   "missing unit");
  require_rejected(check_kind("memberMatured", R"({"memberId":"m"})", "99999"),
                   RejectCode::UNKNOWN_UNIT, "unknown unit '99999'");
  require_rejected(check_kind("memberMatured", R"({"memberId":"m"})", "00037"),
                   RejectCode::OUTSIDE_SUBTREE, "00037 is outside the subtree of 001");
  require_rejected(check_kind("memberMatured", R"({"memberId":"m"})", "01"),
                   RejectCode::OUTSIDE_SUBTREE, "outside the subtree");
  require_rejected(check_kind("memberMatured", R"({"memberId":"m"})", "000 01"),
                   RejectCode::INVALID, "unit");
}

TEST_CASE_METHOD(ValidatorFixture, "EventValidator: effectiveDate must be a real day",
                 "[event_validator]") {
  require_rejected(check(R"({"unit":"00001","effectiveDate":"2024-02-30",)" + kMatured + "}"),
                   RejectCode::INVALID, "effectiveDate");
  require_rejected(check(R"({"unit":"00001","effectiveDate":"26/03/2024",)" + kMatured + "}"),
                   RejectCode::INVALID, "effectiveDate");
  require_rejected(check(R"({"unit":"00001",)" + kMatured + "}"), RejectCode::INVALID,
                   "missing effectiveDate");
  // 2024 is a leap year.
  require_accepted(check(R"({"unit":"00001","effectiveDate":"2024-02-29",)" + kMatured + "}"));
}

TEST_CASE_METHOD(ValidatorFixture,
                 "EventValidator: origin, seq and recordedAt are the node's to assign",
                 "[event_validator]") {
  const std::string tail = R"("unit":"00001","effectiveDate":"2024-03-26",)" + kMatured + "}";
  require_rejected(check(R"({"origin":"001",)" + tail), RejectCode::INVALID,
                   "origin, seq and recordedAt");
  require_rejected(check(R"({"seq":4,)" + tail), RejectCode::INVALID, "assigned by the node");
  require_rejected(check(R"({"recordedAt":"2024-03-26T00:00:01Z",)" + tail), RejectCode::INVALID,
                   "assigned by the node");
}

TEST_CASE_METHOD(ValidatorFixture, "EventValidator: member fields are required and checked",
                 "[event_validator]") {
  require_rejected(check_kind("memberMatured", "{}"), RejectCode::INVALID, "missing memberId");
  require_rejected(check_kind("memberRated", R"({"year":2024,"rating":"good"})"),
                   RejectCode::INVALID, "missing memberId");
  require_rejected(check_kind("memberMatured", R"({"memberId":")" + std::string(65, '7') + "\"}"),
                   RejectCode::INVALID, "memberId is longer than 64");
  require_rejected(check_kind("memberMatured", R"({"memberId":"a\u0001b"})"), RejectCode::INVALID,
                   "memberId has control characters");
  require_rejected(check_kind("memberAdmitted", R"({"memberId":"m","birthDate":"2001-05-02"})"),
                   RejectCode::INVALID, "missing fullName");
  require_rejected(
      check_kind("memberAdmitted", R"({"memberId":"m","fullName":"A","birthDate":"2001-13-02"})"),
      RejectCode::INVALID, "birthDate");
  require_rejected(check_kind("memberAdmitted", R"({"memberId":"m","fullName":"A"})"),
                   RejectCode::INVALID, "missing birthDate");
  require_rejected(check_kind("trainingRecorded", R"({"memberId":"m"})"), RejectCode::INVALID,
                   "missing programme");
  require_rejected(check_kind("rewardGranted", R"({"memberId":"m"})"), RejectCode::INVALID,
                   "missing title");
  require_rejected(check_kind("workingAwayStarted", R"({"memberId":"m"})"), RejectCode::INVALID,
                   "missing place");
  require_rejected(check_kind("temporaryActivityRegistered",
                              R"({"memberId":"m","hostUnit":"00004","until":"2024-04-31"})"),
                   RejectCode::INVALID, "until");
}

TEST_CASE_METHOD(ValidatorFixture,
                 "EventValidator: units named in a payload must exist and "
                 "differ from the unit",
                 "[event_validator]") {
  require_rejected(check_kind("memberTransferredOut", R"({"memberId":"m","toUnit":"77777"})"),
                   RejectCode::UNKNOWN_UNIT, "toUnit: unknown unit '77777'");
  require_rejected(check_kind("memberTransferredOut", R"({"memberId":"m"})"), RejectCode::INVALID,
                   "missing toUnit");
  require_rejected(check_kind("memberTransferredOut", R"({"memberId":"m","toUnit":"00001"})"),
                   RejectCode::INVALID, "toUnit is the event's own unit");
  require_rejected(check_kind("memberTransferredIn", R"({"memberId":"m","fromUnit":"00001"})"),
                   RejectCode::INVALID, "fromUnit is the event's own unit");
  require_rejected(check_kind("memberTransferredIn", R"({"memberId":"m","fromUnit":"88888"})"),
                   RejectCode::UNKNOWN_UNIT, "fromUnit");
  require_rejected(check_kind("residenceActivityRegistered", R"({"memberId":"m","hostUnit":"99"})"),
                   RejectCode::UNKNOWN_UNIT, "hostUnit");
}

TEST_CASE_METHOD(ValidatorFixture, "EventValidator: a rating year must lie in 1900..2199",
                 "[event_validator]") {
  require_rejected(check_kind("memberRated", R"({"memberId":"m","year":1899,"rating":"good"})"),
                   RejectCode::INVALID, "year 1899");
  require_rejected(check_kind("memberRated", R"({"memberId":"m","year":2200,"rating":"good"})"),
                   RejectCode::INVALID, "year 2200");
  require_rejected(check_kind("memberRated", R"({"memberId":"m","rating":"good"})"),
                   RejectCode::INVALID, "year 0");
  require_accepted(check_kind("memberRated", R"({"memberId":"m","year":1900,"rating":"weak"})"));
  require_accepted(check_kind("memberRated", R"({"memberId":"m","year":2199,"rating":"average"})"));
}

TEST_CASE_METHOD(ValidatorFixture,
                 "EventValidator: a retraction names an event of this node's origin",
                 "[event_validator]") {
  require_rejected(check_kind("eventRetracted", R"({"ref":"00001:3"})"), RejectCode::INVALID,
                   "only events of this node's origin (001)");
  require_rejected(check_kind("eventRetracted", R"({"ref":"002:1"})"), RejectCode::INVALID,
                   "002:1");
  require_rejected(check_kind("eventRetracted", R"({"ref":"001-3"})"), RejectCode::INVALID, "ref");
  require_rejected(check_kind("eventRetracted", R"({"ref":"001:0"})"), RejectCode::INVALID,
                   "seq must be a positive integer");
  require_rejected(check_kind("eventRetracted", R"({"ref":"001:x"})"), RejectCode::INVALID, "ref");
  require_rejected(check_kind("eventRetracted", "{}"), RejectCode::INVALID, "ref");
}

TEST_CASE_METHOD(ValidatorFixture, "EventValidator: map events are issued by the node, for units below it",
                 "[event_validator]") {
  require_accepted(check_kind("unitRenamed", R"({"code":"00004","name":"Mới"})", "001"));
  require_accepted(check_kind("unitRenamed", R"({"code":"001","name":"Quận Mới"})", "001"));  // itself
  require_accepted(check_kind("unitRegistered", R"({"code":"00099","name":"Mới","level":"ward","parent":"001"})", "001"));
  require_accepted(check_kind("unitMerged", R"({"code":"00004","into":["00001"]})", "001"));
  require_accepted(check_kind("unitClosed", R"({"code":"00004"})", "001"));
  require_rejected(check_kind("unitClosed", R"({"code":"00004"})", "00001"), RejectCode::INVALID,
                   "a map event's unit is the node that issues it (001)");
  require_rejected(check_kind("unitMoved", R"({"code":"00004","parent":"002"})", "001"), RejectCode::OUTSIDE_SUBTREE,
                   "parent 002 is outside the subtree of 001");
  require_rejected(check_kind("unitClosed", R"({"code":"001"})", "001"), RejectCode::OUTSIDE_SUBTREE,
                   "this node itself");
  require_rejected(check_kind("unitRegistered", R"({"code":"00001","name":"X","level":"ward","parent":"001"})", "001"),
                   RejectCode::INVALID, "already in the map");
  require_rejected(check_kind("unitRegistered", R"({"code":"00099","name":"","level":"ward","parent":"001"})", "001"),
                   RejectCode::INVALID, "name");
  require_rejected(check_kind("unitMerged", R"({"code":"00004","into":["55555"]})", "001"), RejectCode::UNKNOWN_UNIT,
                   "unknown unit '55555'");
  require_rejected(check_kind("unitMerged", R"({"code":"00004","into":[]})", "001"), RejectCode::INVALID,
                   "at least one successor");
}

TEST_CASE_METHOD(ValidatorFixture, "EventValidator: an event without a kind is refused",
                 "[event_validator]") {
  // EventJson never yields one, but a Submit message on the wire can.
  capnp::MallocMessageBuilder message;
  auto event = message.initRoot<schema::Event>();
  event.setUnit("00001");
  event.setEffectiveDate("2024-03-26");
  UnitMap map = UnitMap::parse_csv(kUnits).value();
  EventValidator validator(map, node());
  require_rejected(validator.check_submitted(event.asReader()), RejectCode::INVALID,
                   "no event kind");
}

// Found by fuzz/event_decode: a relayed event recorded in year 2955 was stored, and its JSON line
// (log tail, export) could not be read back by import.
TEST_CASE("EventValidator: a relayed event's recordedAt must lie in 1900..2199", "[event_validator]") {
  const auto relayed = [](int64_t recorded_at) {
    capnp::MallocMessageBuilder message;
    auto event = message.initRoot<schema::Event>();
    event.setOrigin("00001");
    event.setSeq(1);
    event.setRecordedAt(recorded_at);
    event.setUnit("00001");
    event.setEffectiveDate("2024-03-26");
    event.initMemberMatured().setMemberId("00001-000001");
    return EventValidator::check_relayed(event.asReader());
  };
  require_accepted(relayed(Timestamp::parse("2024-03-26T08:00:00Z")->micros));
  require_accepted(relayed(Timestamp::parse("2199-12-31T23:59:59.999999Z")->micros));
  require_rejected(relayed(Timestamp::parse("2199-12-31T23:59:59.999999Z")->micros + 1), RejectCode::INVALID,
                   "recordedAt 2200-01-01T00:00:00.000000Z is outside the years 1900..2199");
  require_rejected(relayed(31'062'339'753'944'419), RejectCode::INVALID, "recordedAt 2954");
  require_rejected(relayed(Timestamp::parse("1900-01-01T00:00:00Z")->micros - 1), RejectCode::INVALID,
                   "recordedAt 1899-12-31T23:59:59.999999Z");
}

TEST_CASE_METHOD(ValidatorFixture, "EventValidator: requestId is optional but bounded",
                 "[event_validator]") {
  const std::string tail = R"("unit":"00001","effectiveDate":"2024-03-26",)" + kMatured + "}";
  require_accepted(check(R"({"requestId":"retry-1",)" + tail));
  require_rejected(check(R"({"requestId":")" + std::string(129, 'r') + R"(",)" + tail),
                   RejectCode::INVALID, "requestId is longer than 128");
}

TEST_CASE_METHOD(ValidatorFixture,
                 "EventValidator: enum values and event kinds this build does not know are refused",
                 "[event_validator]") {
  require_rejected(check_built([](schema::Event::Builder e) {
                     auto a = e.initActivityReported();
                     a.setKind(static_cast<schema::ActivityKind>(99));
                   }),
                   RejectCode::INVALID, "activityReported.kind: unknown value 99");
  require_rejected(check_built([](schema::Event::Builder e) {
                     auto r = e.initMemberRated();
                     r.setMemberId("00001-000001");
                     r.setYear(2024);
                     r.setRating(static_cast<schema::Rating>(7));
                   }),
                   RejectCode::INVALID, "memberRated.rating: unknown value 7");
  require_rejected(check_built([](schema::Event::Builder e) {
                     auto r = e.initMemberRemoved();
                     r.setMemberId("00001-000001");
                     r.setReason(static_cast<schema::RemovalReason>(3));
                   }),
                   RejectCode::INVALID, "memberRemoved.reason");
  require_rejected(check_built([](schema::Event::Builder e) {
                     auto d = e.initDisciplineImposed();
                     d.setMemberId("00001-000001");
                     d.setMeasure(static_cast<schema::DisciplineMeasure>(2));
                   }),
                   RejectCode::INVALID, "disciplineImposed.measure");
  // A union discriminant past the last kind, as a newer schema (or a forger) would write it.
  require_rejected(check_built([](schema::Event::Builder e) {
                     e.initActivityReported();
                     auto proto = capnp::Schema::from<schema::Event>().getProto().getStruct();
                     capnp::AnyStruct::Builder any(kj::mv(e));
                     auto data = any.getDataSection();
                     const size_t offset = proto.getDiscriminantOffset() * 2;
                     data[offset] = 40;
                     data[offset + 1] = 0;
                   }),
                   RejectCode::INVALID, "unknown event kind (union discriminant 40)");
}

}  // namespace rollcall
