#include "engine/event_json.h"

#include <capnp/message.h>
#include <capnp/schema.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "engine/types.h"

#ifndef ROLLCALL_SHARED_DIR
#define ROLLCALL_SHARED_DIR "/work/shared"
#endif

namespace rollcall {
namespace {

// One payload per event kind, every field set to a non-default value so that
// the codec writes each of them out.
struct KindSample {
  const char* kind;
  const char* payload;
};

const std::vector<KindSample> kSamples = {
    {"memberAdmitted",
     R"({"memberId":"00001-000001","fullName":"Nguyễn Văn An","birthDate":"2001-05-02"})"},
    {"memberTransferredOut", R"({"memberId":"00001-000001","toUnit":"00004"})"},
    {"memberTransferredIn", R"({"memberId":"00001-000001","fromUnit":"00004"})"},
    {"memberMatured", R"({"memberId":"00001-000001"})"},
    {"memberRemoved", R"({"memberId":"00001-000001","reason":"violation"})"},
    {"trainingRecorded", R"({"memberId":"00001-000001","programme":"Module 2"})"},
    {"memberRated", R"({"memberId":"00001-000001","year":2024,"rating":"good"})"},
    {"honoraryRecognized", R"({"memberId":"00001-000001"})"},
    {"outstandingNominated", R"({"memberId":"00001-000001"})"},
    {"rewardGranted", R"({"memberId":"00001-000001","title":"Giấy khen"})"},
    {"disciplineImposed",
     R"({"memberId":"00001-000001","measure":"warning","reason":"absent from meetings"})"},
    {"workingAwayStarted", R"({"memberId":"00001-000001","place":"Bình Dương"})"},
    {"workingAwayEnded", R"({"memberId":"00001-000001"})"},
    {"residenceActivityRegistered", R"({"memberId":"00001-000001","hostUnit":"00004"})"},
    {"temporaryActivityRegistered",
     R"({"memberId":"00001-000001","hostUnit":"00004","until":"2024-12-31"})"},
    {"activityReported", R"({"kind":"eidLevel2","count":135,"participants":12})"},
    {"eventRetracted", R"({"ref":"001:3"})"},
    {"unitRegistered", R"({"code":"00099","name":"Phường Mới","level":"ward","parent":"001"})"},
    {"unitRenamed", R"({"code":"00004","name":"Phường Trúc Bạch Mới"})"},
    {"unitMoved", R"({"code":"00004","parent":"002"})"},
    {"unitMerged", R"({"code":"00004","into":["00001","00006"]})"},
    {"unitClosed", R"({"code":"00004"})"},
};

std::string line_for(const KindSample& s, const std::string& head) {
  return "{" + head + R"("unit":"00001","effectiveDate":"2024-03-26",")" + s.kind +
         "\":" + s.payload + "}";
}

std::string canonical_bytes(schema::Event::Reader event) {
  auto words = capnp::canonicalize(event);
  auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

// Keys of a JSON text as written by capnp's encoder (no whitespace): a string
// directly after
// '{' or ',' and followed by ':'. Returns keys with their nesting depth.
std::vector<std::pair<int, std::string>> json_keys(const std::string& json) {
  std::vector<std::pair<int, std::string>> keys;
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '{') ++depth;
    if (c == '}') --depth;
    if (c == '"') {
      const char before = i == 0 ? ' ' : json[i - 1];
      const size_t end = json.find('"', i + 1);
      if ((before == '{' || before == ',') && end != std::string::npos && end + 1 < json.size() &&
          json[end + 1] == ':') {
        keys.emplace_back(depth, json.substr(i + 1, end - i - 1));
        i = end;
      } else {
        in_string = true;
      }
    }
  }
  return keys;
}

std::set<std::string> field_names(capnp::StructSchema type) {
  std::set<std::string> names;
  for (auto field : type.getFields()) names.insert(field.getProto().getName().cStr());
  return names;
}

// Parses a line that must be accepted.
void parse_ok(const EventJson& json, const std::string& line,
              capnp::MallocMessageBuilder& message) {
  auto status = json.parse(line, message.initRoot<schema::Event>());
  INFO(line);
  INFO((status.ok() ? std::string() : status.error().message()));
  REQUIRE(status.ok());
}

// Parses a line that must be refused; returns the message.
std::string parse_error(const std::string& line) {
  EventJson json;
  capnp::MallocMessageBuilder message;
  auto status = json.parse(line, message.initRoot<schema::Event>());
  INFO(line);
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().kind() == ErrorKind::kInvalidInput);
  return status.error().message();
}

// parse -> format -> parse: the two parses give the same canonical bytes.
// Returns the JSON.
std::string round_trip(const EventJson& json, const std::string& line) {
  capnp::MallocMessageBuilder first;
  parse_ok(json, line, first);
  const auto first_event = first.getRoot<schema::Event>().asReader();
  const std::string formatted = json.format(first_event);
  capnp::MallocMessageBuilder second;
  parse_ok(json, formatted, second);
  INFO(line);
  INFO(formatted);
  CHECK(canonical_bytes(second.getRoot<schema::Event>().asReader()) ==
        canonical_bytes(first_event));
  CHECK(json.format(second.getRoot<schema::Event>().asReader()) == formatted);
  return formatted;
}

}  // namespace

TEST_CASE("EventJson: the samples cover every event kind of the schema", "[event_json]") {
  std::set<std::string> sampled;
  for (const auto& s : kSamples) sampled.insert(s.kind);
  for (auto field : capnp::Schema::from<schema::Event>().getUnionFields()) {
    const std::string name = field.getProto().getName().cStr();
    if (name == "none") continue;
    INFO(name);
    CHECK(sampled.count(name) == 1);
  }
}

TEST_CASE("EventJson: every event kind survives parse, format and parse again", "[event_json]") {
  EventJson json;
  const auto event_schema = capnp::Schema::from<schema::Event>();
  for (const auto& s : kSamples) {
    SECTION(s.kind) {
      const std::string formatted = round_trip(json, line_for(s, ""));
      // The JSON names are the schema's field names: top level and payload.
      std::set<std::string> top, payload;
      for (const auto& [depth, key] : json_keys(formatted))
        (depth == 1 ? top : payload).insert(key);
      CHECK(top == std::set<std::string>{"unit", "effectiveDate", s.kind});
      auto kind_field = event_schema.getFieldByName(s.kind);
      CHECK(payload == field_names(kind_field.getType().asStruct()));
      // Values survive as written.
      CHECK(formatted.find(std::string("\"") + s.kind + "\":" + s.payload) != std::string::npos);
    }
  }
}

TEST_CASE(
    "EventJson: an assigned event prints seq as a number and recordedAt "
    "as RFC 3339",
    "[event_json]") {
  EventJson json;
  const std::string head =
      R"("origin":"001","seq":123456789,"recordedAt":"2024-03-26T08:15:30.123456Z","requestId":"req-7",)";
  for (const auto& s : kSamples) {
    SECTION(s.kind) {
      const std::string line = line_for(s, head);
      capnp::MallocMessageBuilder message;
      parse_ok(json, line, message);
      auto event = message.getRoot<schema::Event>().asReader();
      CHECK(event.getOrigin() == "001");
      CHECK(event.getSeq() == 123456789u);
      CHECK(event.getRecordedAt() == Timestamp::parse("2024-03-26T08:15:30.123456Z")->micros);
      CHECK(event.getRequestId() == "req-7");

      const std::string formatted = round_trip(json, line);
      CHECK(formatted.find(R"("seq":123456789)") != std::string::npos);
      CHECK(formatted.find(R"("recordedAt":"2024-03-26T08:15:30.123456Z")") != std::string::npos);
      CHECK(formatted.find(R"("origin":"001")") != std::string::npos);
      std::set<std::string> top;
      for (const auto& [depth, key] : json_keys(formatted))
        if (depth == 1) top.insert(key);
      CHECK(top == std::set<std::string>{"origin", "seq", "recordedAt", "requestId", "unit",
                                         "effectiveDate", s.kind});
    }
  }
}

TEST_CASE(
    "EventJson: recordedAt without fraction is read and written back "
    "with microseconds",
    "[event_json]") {
  EventJson json;
  capnp::MallocMessageBuilder message;
  parse_ok(json,
           R"({"origin":"00001","seq":1,"recordedAt":"2024-01-02T03:04:05Z","unit":"00001",)"
           R"("effectiveDate":"2024-01-02","memberMatured":{"memberId":"m"}})",
           message);
  auto event = message.getRoot<schema::Event>().asReader();
  CHECK(event.getRecordedAt() == Timestamp::parse("2024-01-02T03:04:05.000000Z")->micros);
  const std::string formatted = json.format(event);
  CHECK(formatted.find(R"("seq":1,)") != std::string::npos);
  CHECK(formatted.find(R"("recordedAt":"2024-01-02T03:04:05.000000Z")") != std::string::npos);
}

// Seq and recordedAt are each written when set (they were left out together whenever seq was
// 0); an origin only with a seq: before a node assigns the seq, an event's origin names no id
// (the event generator sets it to say which node takes the line, and a submit refuses it).
TEST_CASE("EventJson: seq and recordedAt are each written when set, the origin only with a seq", "[event_json]") {
  EventJson json;
  const std::string line =
      R"({"origin":"001","unit":"00001","effectiveDate":"2024-03-05","eventRetracted":{"ref":"001:17"}})";
  capnp::MallocMessageBuilder message;
  parse_ok(json, line, message);
  auto event = message.getRoot<schema::Event>();
  CHECK(json.format(event.asReader()) ==
        R"({"unit":"00001","effectiveDate":"2024-03-05","eventRetracted":{"ref":"001:17"}})");
  event.setRecordedAt(1);
  const std::string with_time = json.format(event.asReader());
  CHECK(with_time.find(R"("recordedAt":"1970-01-01T00:00:00.000001Z")") != std::string::npos);
  CHECK(with_time.find(R"("origin")") == std::string::npos);
  event.setSeq(17);
  CHECK(json.format(event.asReader()).starts_with(R"({"origin":"001","seq":17,)"));
}

// Found by fuzz/event_decode: a name with "\u001f" came back from its own JSON as "\u0015";
// Cap'n Proto 0.9's decoder reads the hex letters of \u escapes wrong, so "Nguy\u1ec5n" (how
// Python's json.dumps writes Nguyễn) was stored as another name.
TEST_CASE("EventJson: backslash-u escapes are read as the characters they name", "[event_json]") {
  EventJson json;
  const auto full_name = [&](const std::string& escaped) {
    capnp::MallocMessageBuilder message;
    parse_ok(json,
             R"({"unit":"00001","effectiveDate":"2024-03-26","memberAdmitted":{"memberId":"m","fullName":")" +
                 escaped + R"(","birthDate":"2001-05-02"}})",
             message);
    auto name = message.getRoot<schema::Event>().getMemberAdmitted().getFullName();
    return std::string(name.begin(), name.size());
  };
  CHECK(full_name(R"(Nguy\u1ec5n V\u0103n \u00C1nh)") == "Nguyễn Văn Ánh");
  CHECK(full_name(R"(\ud83d\ude00 \u0041\u0022\u005c\"\\)") == "😀 A\"\\\"\\");
  CHECK(full_name(R"(a\u001fb\u0000c\u000a)") == std::string("a\x1f" "b") + '\0' + "c\n");
  CHECK(full_name(R"(\\u00e9)") == "\\u00e9");  // an escaped backslash, then text
  for (const char* bad : {R"(\ud83d)", R"(\ude00x)", R"(\u00g9)", R"(\u12)"}) {
    capnp::MallocMessageBuilder message;
    const std::string line = R"({"unit":"00001","effectiveDate":"2024-03-26","memberMatured":{"memberId":")" +
                             std::string(bad) + R"("}})";
    INFO(line);
    CHECK_FALSE(json.parse(line, message.initRoot<schema::Event>()).ok());
  }
  // What format writes for control characters reads back as the same text.
  capnp::MallocMessageBuilder control;
  parse_ok(json, R"({"unit":"00001","effectiveDate":"2024-03-26","memberMatured":{"memberId":"a\u001f\u000b"}})",
           control);
  capnp::MallocMessageBuilder again;
  parse_ok(json, json.format(control.getRoot<schema::Event>().asReader()), again);
  CHECK(again.getRoot<schema::Event>().getMemberMatured().getMemberId() == "a\x1f\x0b");
}

// Found by fuzz/event_decode: a relayed event with such a seq came back from its JSON with
// another seq (the number was written through a double).
TEST_CASE("EventJson: a seq above 2^53 survives format and parse exactly", "[event_json]") {
  EventJson json;
  for (uint64_t seq : {(uint64_t{1} << 53) + 1, uint64_t{70368744177663753u}, ~uint64_t{0}}) {
    capnp::MallocMessageBuilder message;
    parse_ok(json,
             R"({"origin":"00001","seq":1,"recordedAt":"2024-01-02T03:04:05Z","unit":"00001",)"
             R"("effectiveDate":"2024-01-02","memberMatured":{"memberId":"m"}})",
             message);
    message.getRoot<schema::Event>().setSeq(seq);
    const std::string formatted = json.format(message.getRoot<schema::Event>().asReader());
    CHECK(formatted.find("\"seq\":\"" + std::to_string(seq) + "\"") != std::string::npos);
    capnp::MallocMessageBuilder again;
    parse_ok(json, formatted, again);
    CHECK(again.getRoot<schema::Event>().getSeq() == seq);
  }
  capnp::MallocMessageBuilder exact;
  parse_ok(json,
           R"({"origin":"00001","seq":9007199254740992,"recordedAt":"2024-01-02T03:04:05Z","unit":"00001",)"
           R"("effectiveDate":"2024-01-02","memberMatured":{"memberId":"m"}})",
           exact);
  CHECK(json.format(exact.getRoot<schema::Event>().asReader()).find(R"("seq":9007199254740992,)") !=
        std::string::npos);
}

TEST_CASE(
    "EventJson: a submitted event is formatted without origin, seq and "
    "recordedAt",
    "[event_json]") {
  EventJson json;
  capnp::MallocMessageBuilder message;
  parse_ok(json, line_for(kSamples[0], ""), message);
  const std::string formatted = json.format(message.getRoot<schema::Event>().asReader());
  CHECK(formatted.find("origin") == std::string::npos);
  CHECK(formatted.find("\"seq\"") == std::string::npos);
  CHECK(formatted.find("recordedAt") == std::string::npos);
  CHECK(formatted.rfind(R"({"unit":"00001","effectiveDate":"2024-03-26","memberAdmitted":)", 0) ==
        0);
}

TEST_CASE("EventJson: malformed lines are refused with a message naming the problem",
          "[event_json]") {
  const std::string valid_kind = R"("memberMatured":{"memberId":"m"})";
  const std::string head = R"({"unit":"00001","effectiveDate":"2024-03-26",)";

  SECTION("not JSON") {
    CHECK_THAT(parse_error(R"({"unit":"00001",)"), Catch::Contains("not valid JSON"));
  }
  SECTION("not an object") {
    CHECK_THAT(parse_error(R"(["unit","00001"])"), Catch::Contains("must be a JSON object"));
    CHECK_THAT(parse_error("42"), Catch::Contains("must be a JSON object"));
  }
  SECTION("unknown top-level field") {
    CHECK_THAT(parse_error(head + R"("colour":"red",)" + valid_kind + "}"),
               Catch::Contains("unknown field 'colour'"));
  }
  SECTION("unknown nested field") {
    CHECK_THAT(parse_error(head + R"("memberAdmitted":{"memberId":"m","fullName":"A",)"
                                  R"("birthDate":"2001-01-01","foo":1}})"),
               Catch::Contains("unknown field 'memberAdmitted.foo'"));
  }
  SECTION("no kind") {
    CHECK_THAT(parse_error(R"({"unit":"00001","effectiveDate":"2024-03-26"})"),
               Catch::Contains("no event kind"));
  }
  SECTION("two kinds") {
    const std::string msg = parse_error(
        head + valid_kind + R"(,"memberRemoved":{"memberId":"m","reason":"voluntary"}})");
    CHECK_THAT(msg, Catch::Contains("two event kinds"));
    CHECK_THAT(msg, Catch::Contains("memberMatured"));
    CHECK_THAT(msg, Catch::Contains("memberRemoved"));
  }
  SECTION("kind not an object") {
    CHECK_THAT(parse_error(head + R"("memberMatured":"m"})"),
               Catch::Contains("'memberMatured' must be a JSON object"));
  }
  SECTION("an unknown enum name") {
    const std::string msg =
        parse_error(head + R"("memberRated":{"memberId":"m","year":2024,"rating":"superb"}})");
    CHECK_THAT(msg, Catch::Contains("superb"));
  }
  SECTION("a number field given a word") {
    const std::string msg = parse_error(
        head + R"("activityReported":{"kind":"forums","count":"abc","participants":1}})");
    CHECK_THAT(msg, Catch::Contains("'activityReported.count' must be a number"));
    CHECK_THAT(msg, Catch::Contains("abc"));
  }
  SECTION("a text field given a number") {
    CHECK_THAT(parse_error(R"({"unit":17,"effectiveDate":"2024-03-26",)" + valid_kind + "}"),
               Catch::Contains("'unit' must be a string"));
  }
  SECTION("other values of the wrong type name their field") {
    CHECK_THAT(parse_error(head + R"("memberRated":{"memberId":"m","year":{},"rating":"good"}})"),
               Catch::Contains("'memberRated.year' must be a number"));
    CHECK_THAT(parse_error(head + R"("memberRated":{"memberId":"m","year":2024,"rating":1}})"),
               Catch::Contains("'memberRated.rating' must be a name"));
    CHECK_THAT(parse_error(head + R"("unitMerged":{"code":"00004","into":"00001"}})"),
               Catch::Contains("'unitMerged.into' must be an array"));
    CHECK_THAT(parse_error(head + R"("memberMatured":{"memberId":["m"]}})"),
               Catch::Contains("'memberMatured.memberId' must be a string"));
    CHECK_THAT(parse_error(head + R"("activityReported":{"kind":"forums","count":-3}})"),
               Catch::Contains("bad value"));
  }
  SECTION("a line too long") {
    const std::string filler(EventJson::kMaxLineBytes, 'x');
    CHECK_THAT(parse_error(head + R"("memberAdmitted":{"memberId":"m","fullName":")" + filler +
                           R"(","birthDate":"2001-01-01"}})"),
               Catch::Contains("longer than"));
  }
  SECTION("the none kind") {
    CHECK_THAT(parse_error(head + R"("none":null})"),
               Catch::Contains("'none' is not an event kind"));
  }
  SECTION("recordedAt that is not RFC 3339") {
    CHECK_THAT(
        parse_error(R"({"recordedAt":"2024-03-26 08:00",)" + head.substr(1) + valid_kind + "}"),
        Catch::Contains("recordedAt"));
  }
}

TEST_CASE("EventJson: a line just at the limit is still read", "[event_json]") {
  const std::string prefix =
      R"({"unit":"00001","effectiveDate":"2024-03-26","rewardGranted":{"memberId":"m","title":")";
  const std::string suffix = R"("}})";
  const std::string line =
      prefix + std::string(EventJson::kMaxLineBytes - prefix.size() - suffix.size(), 'x') + suffix;
  REQUIRE(line.size() == EventJson::kMaxLineBytes);
  EventJson json;
  capnp::MallocMessageBuilder message;
  parse_ok(json, line, message);
}

TEST_CASE("EventJson: every line of the Ba Đình example parses and round-trips", "[event_json]") {
  std::ifstream in(std::string(ROLLCALL_SHARED_DIR) + "/examples/ba-dinh-2024.jsonl");
  REQUIRE(in.good());
  EventJson json;
  std::string line;
  size_t count = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    ++count;
    round_trip(json, line);
  }
  CHECK(count == 400);
}

}  // namespace rollcall
