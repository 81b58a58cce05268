#include "engine/member_rules.h"

#include <capnp/message.h>

#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "engine/event_json.h"

namespace rollcall {
namespace {

using storage::MemberStatus;

const EventJson& json() {
  static const EventJson instance;
  return instance;
}

// Owns one parsed event.
class Ev {
 public:
  Ev(const std::string& unit, const std::string& date, const std::string& kind,
     const std::string& payload) {
    const std::string line = R"({"unit":")" + unit + R"(","effectiveDate":")" + date + R"(",")" +
                             kind + "\":" + payload + "}";
    auto status = json().parse(line, message_.initRoot<schema::Event>());
    INFO(line);
    REQUIRE(status.ok());
  }
  schema::Event::Reader reader() { return message_.getRoot<schema::Event>().asReader(); }

 private:
  capnp::MallocMessageBuilder message_;
};

const std::string kId = "00001-000001";
std::string ref() { return R"({"memberId":")" + kId + R"("})"; }

Ev admitted(const std::string& unit = "00001", const std::string& date = "2024-01-10") {
  return Ev(unit, date, "memberAdmitted",
            R"({"memberId":")" + kId + R"(","fullName":"Trần Văn Bình","birthDate":"2000-02-02"})");
}
Ev transferred_out(const std::string& unit, const std::string& to,
                   const std::string& date = "2024-02-01") {
  return Ev(unit, date, "memberTransferredOut",
            R"({"memberId":")" + kId + R"(","toUnit":")" + to + "\"}");
}
Ev transferred_in(const std::string& unit, const std::string& from,
                  const std::string& date = "2024-02-05") {
  return Ev(unit, date, "memberTransferredIn",
            R"({"memberId":")" + kId + R"(","fromUnit":")" + from + "\"}");
}
Ev rated(const std::string& unit = "00001") {
  return Ev(unit, "2024-12-20", "memberRated",
            R"({"memberId":")" + kId + R"(","year":2024,"rating":"good"})");
}

// Applies in strict mode and requires success.
MemberState apply_ok(const std::optional<MemberState>& state, Ev&& event) {
  auto next = apply_member_event(state, event.reader(), /*strict=*/true);
  INFO((next.ok() ? std::string() : next.error().message()));
  REQUIRE(next.ok());
  return next.value();
}

// Applies in strict mode and requires a rule violation; returns the message.
std::string apply_refused(const std::optional<MemberState>& state, Ev&& event) {
  auto next = apply_member_event(state, event.reader(), /*strict=*/true);
  REQUIRE_FALSE(next.ok());
  CHECK(next.error().kind() == ErrorKind::kConflict);
  return next.error().message();
}

MemberState active_member() { return apply_ok(std::nullopt, admitted()); }

}  // namespace

TEST_CASE("MemberRules: admitting a new member makes it active at the unit", "[member_rules]") {
  const MemberState s = active_member();
  CHECK(s.unit == "00001");
  CHECK(s.status == MemberStatus::ACTIVE);
  CHECK(s.full_name == "Trần Văn Bình");
  CHECK(s.since == "2024-01-10");
  CHECK_FALSE(s.working_away);
  CHECK(s.to_unit.empty());
}

TEST_CASE("MemberRules: admitting a member twice is refused in strict mode only",
          "[member_rules]") {
  const MemberState s = active_member();
  CHECK_THAT(apply_refused(s, admitted("00004")),
             Catch::Contains("member 00001-000001 is already admitted"));
  // Relayed: a fact, the state follows it.
  Ev again = admitted("00004", "2024-05-05");
  auto lenient = apply_member_event(s, again.reader(), /*strict=*/false);
  REQUIRE(lenient.ok());
  CHECK(lenient->unit == "00004");
  CHECK(lenient->since == "2024-05-05");
}

TEST_CASE(
    "MemberRules: operations on a member not known here are refused in "
    "strict mode",
    "[member_rules]") {
  CHECK_THAT(apply_refused(std::nullopt, rated()), Catch::Contains("is not known at this node"));
  CHECK_THAT(apply_refused(std::nullopt, Ev("00001", "2024-03-01", "memberMatured", ref())),
             Catch::Contains("00001-000001"));
  Ev fact = Ev("00001", "2024-03-01", "honoraryRecognized", ref());
  auto lenient = apply_member_event(std::nullopt, fact.reader(), /*strict=*/false);
  REQUIRE(lenient.ok());
  CHECK(lenient->unit == "00001");
  CHECK(lenient->status == MemberStatus::ACTIVE);
  CHECK(lenient->honorary);
}

TEST_CASE("MemberRules: a member can only be acted on at its own unit", "[member_rules]") {
  const MemberState s = active_member();
  CHECK_THAT(apply_refused(s, rated("00004")),
             Catch::Contains("is not an active member of unit 00004"));
  CHECK_THAT(apply_refused(s, transferred_out("00004", "00006")),
             Catch::Contains("is active at unit 00001"));
  CHECK(apply_ok(s, rated()) == s);  // a rating changes no state
}

TEST_CASE("MemberRules: transfer out then in at the named unit moves the member",
          "[member_rules]") {
  const MemberState out = apply_ok(active_member(), transferred_out("00001", "00004"));
  CHECK(out.status == MemberStatus::TRANSFERRED_OUT);
  CHECK(out.unit == "00001");
  CHECK(out.to_unit == "00004");
  CHECK(out.since == "2024-02-01");
  // Gone from the old unit: nothing more happens to it there.
  CHECK_THAT(apply_refused(out, rated("00001")),
             Catch::Contains("was transferred out of unit 00001 to 00004"));
  CHECK_THAT(apply_refused(out, transferred_out("00001", "00006")),
             Catch::Contains("not an active member"));

  const MemberState in = apply_ok(out, transferred_in("00004", "00001"));
  CHECK(in.status == MemberStatus::ACTIVE);
  CHECK(in.unit == "00004");
  CHECK(in.to_unit.empty());
  CHECK(in.since == "2024-02-05");
  CHECK(in.full_name == "Trần Văn Bình");
  CHECK(apply_ok(in, rated("00004")).unit == "00004");
}

TEST_CASE("MemberRules: transfer in to a different unit than named is refused", "[member_rules]") {
  const MemberState out = apply_ok(active_member(), transferred_out("00001", "00004"));
  CHECK_THAT(apply_refused(out, transferred_in("00006", "00001")),
             Catch::Contains("cannot be transferred in to unit 00006"));
  // Relayed, the fact stands.
  Ev in = transferred_in("00006", "00001");
  auto lenient = apply_member_event(out, in.reader(), /*strict=*/false);
  REQUIRE(lenient.ok());
  CHECK(lenient->unit == "00006");
  CHECK(lenient->status == MemberStatus::ACTIVE);
}

TEST_CASE("MemberRules: relayed transfer halves give the same state in either order",
          "[member_rules]") {
  auto lenient = [](const std::optional<MemberState>& state, Ev&& event) {
    auto next = apply_member_event(state, event.reader(), /*strict=*/false);
    REQUIRE(next.ok());
    return next.value();
  };
  const MemberState start = active_member();  // active at 00001
  const MemberState out_first =
      lenient(lenient(start, transferred_out("00001", "00004")), transferred_in("00004", "00001"));
  const MemberState in_first =
      lenient(lenient(start, transferred_in("00004", "00001")), transferred_out("00001", "00004"));
  CHECK(out_first.unit == "00004");
  CHECK(out_first.status == MemberStatus::ACTIVE);
  CHECK(in_first.unit == "00004");
  CHECK(in_first.status == MemberStatus::ACTIVE);
  // And the member can then be acted on at its new unit.
  CHECK(apply_ok(in_first, rated("00004")).unit == "00004");
}

TEST_CASE("MemberRules: a member who left the subtree may come back to another of its units",
          "[member_rules]") {
  const MemberState out = apply_ok(active_member(), transferred_out("00001", "79"));
  const MemberState back = apply_ok(out, transferred_in("00004", "79"));
  CHECK(back.unit == "00004");
  CHECK(back.status == MemberStatus::ACTIVE);
}

TEST_CASE("MemberRules: an active member cannot be transferred in", "[member_rules]") {
  CHECK_THAT(apply_refused(active_member(), transferred_in("00004", "00001")),
             Catch::Contains("is active at unit 00001"));
}

TEST_CASE("MemberRules: a member unknown here may be transferred in from outside",
          "[member_rules]") {
  const MemberState in = apply_ok(std::nullopt, transferred_in("00004", "00037"));
  CHECK(in.unit == "00004");
  CHECK(in.status == MemberStatus::ACTIVE);
  CHECK(in.since == "2024-02-05");
}

TEST_CASE("MemberRules: a transfer to the member's own unit is refused", "[member_rules]") {
  CHECK_THAT(apply_refused(active_member(), transferred_out("00001", "00001")),
             Catch::Contains("to itself"));
}

TEST_CASE("MemberRules: a matured or removed member cannot be rated", "[member_rules]") {
  const MemberState matured =
      apply_ok(active_member(), Ev("00001", "2024-06-30", "memberMatured", ref()));
  CHECK(matured.status == MemberStatus::MATURED);
  CHECK(matured.since == "2024-06-30");
  CHECK_THAT(apply_refused(matured, rated()), Catch::Contains("has matured out of the Union"));
  CHECK_THAT(apply_refused(matured, Ev("00001", "2024-07-01", "memberMatured", ref())),
             Catch::Contains("not an active member"));

  const MemberState removed =
      apply_ok(active_member(), Ev("00001", "2024-06-30", "memberRemoved",
                                   R"({"memberId":")" + kId + R"(","reason":"violation"})"));
  CHECK(removed.status == MemberStatus::REMOVED);
  CHECK_THAT(apply_refused(removed, rated()), Catch::Contains("was struck off at unit 00001"));
}

TEST_CASE("MemberRules: working away starts and ends in pairs", "[member_rules]") {
  auto start = [] {
    return Ev("00001", "2024-04-01", "workingAwayStarted",
              R"({"memberId":")" + kId + R"(","place":"Đà Nẵng"})");
  };
  auto end = [] { return Ev("00001", "2024-09-01", "workingAwayEnded", ref()); };

  const MemberState s = active_member();
  CHECK_THAT(apply_refused(s, end()), Catch::Contains("is not working away"));
  const MemberState away = apply_ok(s, start());
  CHECK(away.working_away);
  CHECK(away.status == MemberStatus::ACTIVE);
  CHECK_THAT(apply_refused(away, start()), Catch::Contains("is already working away"));
  // Working away counts as active: the member is still rated at its unit.
  CHECK(apply_ok(away, rated()).working_away);
  const MemberState back = apply_ok(away, end());
  CHECK_FALSE(back.working_away);
  CHECK(apply_ok(back, start()).working_away);
  // A transfer ends working away at the old unit.
  CHECK_FALSE(apply_ok(away, transferred_out("00001", "00004")).working_away);
}

TEST_CASE("MemberRules: honorary and outstanding marks stay with the member", "[member_rules]") {
  MemberState s = apply_ok(active_member(), Ev("00001", "2024-05-19", "honoraryRecognized", ref()));
  CHECK(s.honorary);
  CHECK_FALSE(s.outstanding);
  s = apply_ok(s, Ev("00001", "2024-05-19", "outstandingNominated", ref()));
  CHECK(s.outstanding);
  s = apply_ok(s, transferred_out("00001", "00004"));
  s = apply_ok(s, transferred_in("00004", "00001"));
  CHECK(s.honorary);
  CHECK(s.outstanding);
}

TEST_CASE("MemberRules: records that are not changes of state leave the state alone",
          "[member_rules]") {
  const MemberState s = active_member();
  CHECK(apply_ok(s, Ev("00001", "2024-03-01", "rewardGranted",
                       R"({"memberId":")" + kId + R"(","title":"Bằng khen"})")) == s);
  CHECK(apply_ok(s, Ev("00001", "2024-03-01", "disciplineImposed",
                       R"({"memberId":")" + kId + R"(","measure":"warning"})")) == s);
  CHECK(apply_ok(s, Ev("00001", "2024-03-01", "trainingRecorded",
                       R"({"memberId":")" + kId + R"(","programme":"M1"})")) == s);
  CHECK(apply_ok(s, Ev("00001", "2024-03-01", "residenceActivityRegistered",
                       R"({"memberId":")" + kId + R"(","hostUnit":"00004"})")) == s);
  CHECK(apply_ok(s, Ev("00001", "2024-03-01", "temporaryActivityRegistered",
                       R"({"memberId":")" + kId +
                           R"(","hostUnit":"00004","until":"2024-06-01"})")) == s);
}

TEST_CASE("MemberRules: a member record survives encode and decode", "[member_rules]") {
  MemberRecord r;
  r.state.unit = "00004";
  r.state.status = MemberStatus::TRANSFERRED_OUT;
  r.state.to_unit = "00037";
  r.state.full_name = "Nguyễn Thị Ánh";
  r.state.since = "2024-07-01";
  r.state.working_away = true;
  r.state.honorary = true;
  r.state.outstanding = true;
  r.history.push_back(MemberFact{OriginSeq{UnitCode::trusted("00004"), 3}, "2024-02-01",
                                 schema::Event::Which::MEMBER_ADMITTED, "00004", "", "Nguyễn Thị Ánh"});
  r.history.push_back(MemberFact{OriginSeq{UnitCode::trusted("00004"), 9}, "2024-07-01",
                                 schema::Event::Which::MEMBER_TRANSFERRED_OUT, "00004", "00037", ""});
  auto decoded = decode_member_record(encode_member_record(r));
  REQUIRE(decoded.ok());
  CHECK(*decoded == r);

  MemberRecord plain{active_member(), {}};
  auto decoded_plain = decode_member_record(encode_member_record(plain));
  REQUIRE(decoded_plain.ok());
  CHECK(*decoded_plain == plain);

  for (auto status : {MemberStatus::ACTIVE, MemberStatus::MATURED, MemberStatus::REMOVED}) {
    MemberRecord t = plain;
    t.state.status = status;
    CHECK(decode_member_record(encode_member_record(t))->state.status == status);
  }
}

// Found by fuzz/event_decode: a relayed admission whose fullName held a NUL byte was stored
// in the registry cut at the NUL.
TEST_CASE("MemberRules: a member record keeps names with a NUL byte whole", "[member_rules]") {
  const std::string name = std::string("Bùi") + '\0' + " Thắng";
  MemberRecord r{active_member(), {}};
  r.state.full_name = name;
  r.history.push_back(MemberFact{OriginSeq{UnitCode::trusted("00001"), 1}, "2024-02-01",
                                 schema::Event::Which::MEMBER_ADMITTED, "00001", "", name});
  auto decoded = decode_member_record(encode_member_record(r));
  REQUIRE(decoded.ok());
  CHECK(decoded->state.full_name == name);
  CHECK(decoded->history.at(0).full_name == name);
  CHECK(*decoded == r);
}

TEST_CASE("MemberRules: a damaged member record is reported as corruption", "[member_rules]") {
  auto ragged = decode_member_record("abc");
  REQUIRE_FALSE(ragged.ok());
  CHECK(ragged.error().kind() == ErrorKind::kCorruption);

  // A segment table that claims far more words than are there.
  const std::string bad("\x00\x00\x00\x00\xff\xff\x00\x00", 8);
  auto truncated = decode_member_record(bad);
  REQUIRE_FALSE(truncated.ok());
  CHECK(truncated.error().kind() == ErrorKind::kCorruption);
  CHECK_THAT(truncated.error().message(), Catch::Contains("member record"));
}

TEST_CASE("MemberRules: status names are the schema's", "[member_rules]") {
  CHECK(std::string(member_status_name(MemberStatus::ACTIVE)) == "active");
  CHECK(std::string(member_status_name(MemberStatus::TRANSFERRED_OUT)) == "transferredOut");
  CHECK(std::string(member_status_name(MemberStatus::MATURED)) == "matured");
  CHECK(std::string(member_status_name(MemberStatus::REMOVED)) == "removed");
}

}  // namespace rollcall
