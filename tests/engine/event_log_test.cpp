#include "engine/event_log.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <string>

#include "engine/content_hash.h"
#include "tests/engine/event_log_fixture.h"

#ifndef ROLLCALL_SHARED_DIR
#define ROLLCALL_SHARED_DIR "/work/shared"
#endif

namespace rollcall {

using namespace log_test;  // NOLINT(google-build-using-namespace): test helpers

TEST_CASE_METHOD(LogFixture, "EventLog: every acknowledged submit has synced the write-ahead log",
                 "[event_log]") {
  TempDir dir;
  auto log = open(dir);
  const uint64_t before = log->wal_syncs();
  for (int i = 0; i < 5; ++i) {
    Events events;
    events.add(admit("00001", "sync-" + std::to_string(i)));
    const uint64_t syncs = log->wal_syncs();
    submit_all(*log, events.all());
    CHECK(log->wal_syncs() > syncs);  // the write was synced before submit returned
  }
  CHECK(log->wal_syncs() - before >= 5);
}

TEST_CASE_METHOD(LogFixture,
                 "EventLog: submit numbers events densely from 1 with the node's origin",
                 "[event_log]") {
  TempDir dir;
  auto log = open(dir);
  CHECK(log->last_lsn() == Lsn{0});
  CHECK(log->next_own_seq() == 1);
  Events events;
  events.add(admit("00001", "a")).add(admit("00004", "b")).add(activity("001", 3));
  const auto ids = submit_all(*log, events.all());
  REQUIRE(ids.size() == 3);
  for (uint64_t i = 0; i < 3; ++i) CHECK(ids[i] == OriginSeq{code("001"), i + 1});
  CHECK(log->last_lsn() == Lsn{3});
  CHECK(log->next_own_seq() == 4);

  const auto held = read_all(*log);
  REQUIRE(held.size() == 3);
  for (uint64_t i = 0; i < 3; ++i) {
    CHECK(held[i].lsn == Lsn{i + 1});
    CHECK(held[i].event().getOrigin() == "001");
    CHECK(held[i].event().getSeq() == i + 1);
    CHECK(held[i].event().getRecordedAt() == kNow.micros);
  }
  CHECK(held[1].event().getUnit() == "00004");
}

TEST_CASE_METHOD(LogFixture,
                 "EventLog: a rejected event does not consume a seq and the others land",
                 "[event_log]") {
  TempDir dir;
  auto log = open(dir);
  Events events;
  events.add(admit("00001", "a"))
      .add(admit("00004", "a"))  // admitted twice: domain rule
      .add(admit("00037", "c"))  // outside the subtree
      .add(admit("00004", "b"));
  const auto outcomes = log->submit(events.all(), kNow);
  REQUIRE(outcomes.size() == 4);
  REQUIRE(outcomes[0].accepted);
  CHECK(outcomes[0].accepted->seq == 1);
  REQUIRE(outcomes[1].rejected);
  CHECK(outcomes[1].rejected->code == wire::RejectCode::DOMAIN_RULE);
  CHECK_THAT(outcomes[1].rejected->message, Catch::Contains("already admitted"));
  CHECK_FALSE(outcomes[1].accepted);
  REQUIRE(outcomes[2].rejected);
  CHECK(outcomes[2].rejected->code == wire::RejectCode::OUTSIDE_SUBTREE);
  REQUIRE(outcomes[3].accepted);
  CHECK(outcomes[3].accepted->seq == 2);

  const auto held = read_all(*log);
  REQUIRE(held.size() == 2);
  CHECK(member_of(held[1]) == "b");
  CHECK(log->member("a")->value().state.unit == "00001");
}

TEST_CASE_METHOD(LogFixture, "EventLog: a submit where every event is refused writes nothing",
                 "[event_log]") {
  TempDir dir;
  auto log = open(dir);
  Events events;
  events.add(rate("00001", "nobody"));
  const auto outcomes = log->submit(events.all(), kNow);
  REQUIRE(outcomes[0].rejected);
  CHECK(outcomes[0].rejected->code == wire::RejectCode::DOMAIN_RULE);
  CHECK(log->last_lsn() == Lsn{0});
  CHECK(log->next_own_seq() == 1);
}

TEST_CASE_METHOD(LogFixture, "EventLog: events in one submit see the earlier ones", "[event_log]") {
  TempDir dir;
  auto log = open(dir);
  Events events;
  events.add(admit("00001", "m"))
      .add(transfer_out("00001", "m", "00004"))
      .add(transfer_in("00004", "m", "00001"))
      .add(rate("00004", "m"));
  const auto ids = submit_all(*log, events.all());
  CHECK(ids.back().seq == 4);
  auto state = log->member("m");
  REQUIRE(state.ok());
  REQUIRE(state->has_value());
  CHECK((*state)->state.unit == "00004");
  CHECK((*state)->state.status == storage::MemberStatus::ACTIVE);

  // And the state they left is the one the next submit is judged against.
  Events later;
  later.add(rate("00001", "m"));
  const auto outcome = log->submit(later.all(), kNow);
  REQUIRE(outcome[0].rejected);
  CHECK(outcome[0].rejected->code == wire::RejectCode::DOMAIN_RULE);
}

TEST_CASE_METHOD(LogFixture, "EventLog: append after reopen continues at the next seq and LSN",
                 "[event_log]") {
  TempDir dir;
  std::string incarnation;
  {
    auto log = open(dir);
    Events events;
    events.add(admit("00001", "a")).add(admit("00001", "b"));
    submit_all(*log, events.all());
    incarnation = log->incarnation();
    CHECK(incarnation.size() == 16);
  }
  auto log = open(dir);
  CHECK(log->incarnation() == incarnation);
  CHECK(log->last_lsn() == Lsn{2});
  CHECK(log->next_own_seq() == 3);
  Events events;
  events
      .add(admit("00001", "a"))  // still known after the reopen
      .add(admit("00001", "c"));
  const auto outcomes = log->submit(events.all(), kNow);
  REQUIRE(outcomes[0].rejected);
  CHECK(outcomes[0].rejected->code == wire::RejectCode::DOMAIN_RULE);
  REQUIRE(outcomes[1].accepted);
  CHECK(*outcomes[1].accepted == OriginSeq{code("001"), 3});
  const auto held = read_all(*log);
  REQUIRE(held.size() == 3);
  CHECK(held[2].lsn == Lsn{3});
  CHECK(member_of(held[2]) == "c");
}

TEST_CASE_METHOD(LogFixture, "EventLog: find and read work across several batches", "[event_log]") {
  TempDir dir;
  auto log = open(dir);
  Events events;
  for (int i = 0; i < 6; ++i) events.add(admit(i % 2 ? "00004" : "00001", "m" + std::to_string(i)));
  submit_all(*log, events.range(0, 1));
  submit_all(*log, events.range(1, 3));
  submit_all(*log, events.range(4, 2));

  for (uint64_t seq = 1; seq <= 6; ++seq) {
    auto found = log->find(OriginSeq{code("001"), seq});
    REQUIRE(found.ok());
    REQUIRE(found->has_value());
    CHECK((*found)->lsn == Lsn{seq});
    CHECK((*found)->event().getSeq() == seq);
    CHECK(member_of(**found) == "m" + std::to_string(seq - 1));
  }
  CHECK_FALSE(log->find(OriginSeq{code("001"), 7})->has_value());
  CHECK_FALSE(log->find(OriginSeq{code("00001"), 1})->has_value());
  CHECK_FALSE(log->find(OriginSeq{code("00"), 1})->has_value());

  auto middle = log->read(Lsn{2}, 3);
  REQUIRE(middle.ok());
  REQUIRE(middle->size() == 3);
  CHECK((*middle)[0].lsn == Lsn{2});
  CHECK((*middle)[2].lsn == Lsn{4});  // crosses from the second batch into the third
  CHECK(member_of((*middle)[2]) == "m3");
  auto end = log->read(Lsn{5}, 100);
  REQUIRE(end->size() == 2);
  CHECK(end->back().lsn == Lsn{6});
  CHECK(log->read(Lsn{7}, 10)->empty());
  CHECK(log->read(Lsn{1}, 0)->empty());
  CHECK(log->read(Lsn{0}, 100)->size() == 6);
}

TEST_CASE_METHOD(LogFixture, "EventLog: tail keeps the newest matching events, oldest first",
                 "[event_log]") {
  TempDir dir;
  auto log = open(dir);
  Events events;
  events.add(admit("00001", "a")).add(admit("00004", "b")).add(activity("001", 1));
  submit_all(*log, events.all());
  Events more;
  more.add(rate("00001", "a")).add(activity("00004", 2)).add(rate("00004", "b"));
  submit_all(*log, more.all());

  auto last_two = log->tail(2, {});
  REQUIRE(last_two.ok());
  REQUIRE(last_two->size() == 2);
  CHECK((*last_two)[0].lsn == Lsn{5});
  CHECK((*last_two)[1].lsn == Lsn{6});

  LogFilter by_unit;
  by_unit.unit = code("00004");
  auto unit = log->tail(10, by_unit);
  REQUIRE(unit.ok());
  REQUIRE(unit->size() == 3);
  CHECK((*unit)[0].lsn == Lsn{2});
  CHECK((*unit)[1].lsn == Lsn{5});
  CHECK((*unit)[2].lsn == Lsn{6});
  CHECK(log->tail(1, by_unit)->front().lsn == Lsn{6});

  LogFilter by_kind;
  by_kind.kind = "memberRated";
  auto rated = log->tail(10, by_kind);
  REQUIRE(rated->size() == 2);
  CHECK((*rated)[0].lsn == Lsn{4});

  LogFilter both = by_kind;
  both.unit = code("00001");
  auto one = log->tail(10, both);
  REQUIRE(one->size() == 1);
  CHECK(one->front().lsn == Lsn{4});

  LogFilter by_origin;
  by_origin.origin = code("00001");
  CHECK(log->tail(10, by_origin)->empty());
  by_origin.origin = code("001");
  CHECK(log->tail(10, by_origin)->size() == 6);

  LogFilter unknown_unit;
  unknown_unit.unit = code("0000");  // a prefix of real codes matches nothing
  CHECK(log->tail(10, unknown_unit)->empty());
}

TEST_CASE_METHOD(LogFixture, "EventLog: watermarks carry the chain hash of the origin's events",
                 "[event_log]") {
  TempDir dir;
  auto log = open(dir);
  CHECK(log->watermarks()->empty());
  Events events;
  events.add(admit("00001", "a")).add(admit("00004", "b"));
  submit_all(*log, events.range(0, 1));
  auto first = watermark_of(*log, "001");
  REQUIRE(first);
  CHECK(first->seq == 1);
  submit_all(*log, events.range(1, 1));
  auto second = watermark_of(*log, "001");
  REQUIRE(second);
  CHECK(second->seq == 2);
  CHECK(second->newest_recorded_at == kNow);

  uint64_t chain = 0;
  const auto held = read_all(*log);
  chain = chain_hash(chain, event_content_hash(held[0].event()));
  CHECK(first->chain_hash == chain);
  chain = chain_hash(chain, event_content_hash(held[1].event()));
  CHECK(second->chain_hash == chain);
  CHECK(second->chain_hash != first->chain_hash);
}

TEST_CASE_METHOD(LogFixture, "EventLog: the chain hash at any seq equals hashing the origin's events up to it",
                 "[event_log]") {
  TempDir dir;
  auto log = open(dir);
  Events events;
  for (int i = 0; i < 40; ++i) events.add(activity("00001", i + 1));
  // Batches of 1, 7, 12 and 20 events: seqs inside runs and at their ends.
  submit_all(*log, events.range(0, 1));
  submit_all(*log, events.range(1, 7));
  submit_all(*log, events.range(8, 12));
  submit_all(*log, events.range(20, 20));
  const auto held = read_all(*log);
  REQUIRE(held.size() == 40);
  uint64_t chain = 0;
  auto at0 = log->chain_hash_at(OriginSeq{code("001"), 0});
  REQUIRE(at0.ok());
  CHECK(**at0 == 0);
  for (uint64_t seq = 1; seq <= 40; ++seq) {
    chain = chain_hash(chain, event_content_hash(held[seq - 1].event()));
    auto at = log->chain_hash_at(OriginSeq{code("001"), seq});
    REQUIRE(at.ok());
    REQUIRE(at->has_value());
    INFO("seq " << seq);
    CHECK(**at == chain);
  }
  CHECK(watermark_of(*log, "001")->chain_hash == chain);
  auto beyond = log->chain_hash_at(OriginSeq{code("001"), 41});
  REQUIRE(beyond.ok());
  CHECK_FALSE(beyond->has_value());
  auto other = log->chain_hash_at(OriginSeq{code("00001"), 1});
  REQUIRE(other.ok());
  CHECK_FALSE(other->has_value());
}

TEST_CASE_METHOD(LogFixture, "EventLog: retractions name an existing, unretracted, ordinary event",
                 "[event_log]") {
  TempDir dir;
  auto log = open(dir);
  Events events;
  events.add(activity("00001", 5)).add(activity("00004", 6));
  submit_all(*log, events.all());

  Events first;
  first.add(retract("001:1"));
  const auto ids = submit_all(*log, first.all());
  CHECK(ids[0] == OriginSeq{code("001"), 3});

  auto check_conflict = [&](const std::string& ref, const std::string& part) {
    Events e;
    e.add(retract(ref));
    const auto outcome = log->submit(e.all(), kNow);
    REQUIRE(outcome[0].rejected);
    INFO(outcome[0].rejected->message);
    CHECK(outcome[0].rejected->code == wire::RejectCode::CONFLICT);
    CHECK_THAT(outcome[0].rejected->message, Catch::Contains(part));
  };
  check_conflict("001:99", "001:99 does not exist");
  check_conflict("001:1", "already retracted");
  check_conflict("001:3", "is itself a retraction");
  CHECK(log->last_lsn() == Lsn{3});

  // Twice in one submit: the second sees the first.
  Events twice;
  twice.add(retract("001:2")).add(retract("001:2"));
  const auto outcomes = log->submit(twice.all(), kNow);
  REQUIRE(outcomes[0].accepted);
  REQUIRE(outcomes[1].rejected);
  CHECK(outcomes[1].rejected->code == wire::RejectCode::CONFLICT);

  // Retracting an event of the same submit works; then it is retracted for
  // good.
  Events together;
  together.add(activity("00001", 8)).add(retract("001:5"));
  submit_all(*log, together.all());
  check_conflict("001:5", "already retracted");
}

TEST_CASE_METHOD(LogFixture, "EventLog: a data dir stamped for another unit refuses to open",
                 "[event_log]") {
  TempDir dir;
  { auto log = open(dir, "001"); }
  auto other = EventLog::open_writer(options(dir, "00001"), map());
  REQUIRE_FALSE(other.ok());
  CHECK_THAT(other.error().message(), Catch::Contains("belongs to unit 001, not 00001"));
  // A unit the map does not know is refused before anything is created.
  TempDir fresh;
  auto unknown = EventLog::open_writer(options(fresh, "99999"), map());
  REQUIRE_FALSE(unknown.ok());
  CHECK_THAT(unknown.error().message(), Catch::Contains("99999"));
}

TEST_CASE("EventLog: a reader on a missing data dir gets not found", "[event_log]") {
  TempDir dir;
  auto reader = EventLog::open_reader(dir.str());
  REQUIRE_FALSE(reader.ok());
  CHECK(reader.error().kind() == ErrorKind::kNotFound);
  CHECK_THAT(reader.error().message(), Catch::Contains(dir.str()));
}

TEST_CASE_METHOD(LogFixture,
                 "EventLog: a reader beside a live writer sees new events after refresh",
                 "[event_log]") {
  TempDir dir;
  auto writer = open(dir);
  Events events;
  for (int i = 0; i < 5; ++i) events.add(activity("00001", i + 1));
  submit_all(*writer, events.range(0, 2));

  auto opened = EventLog::open_reader(dir.str());
  REQUIRE(opened.ok());
  auto& reader = *opened.value();
  CHECK(reader.unit() == code("001"));
  CHECK(reader.incarnation() == writer->incarnation());
  CHECK(reader.last_lsn() == Lsn{2});

  submit_all(*writer, events.range(2, 3));
  REQUIRE(reader.refresh().ok());
  CHECK(reader.last_lsn() == Lsn{5});
  auto held = reader.read(Lsn{3}, 10);
  REQUIRE(held.ok());
  REQUIRE(held->size() == 3);
  CHECK(held->back().event().getActivityReported().getCount() == 5);
  auto found = reader.find(OriginSeq{code("001"), 4});
  REQUIRE(found.ok());
  REQUIRE(found->has_value());
  CHECK((*found)->lsn == Lsn{4});
  CHECK(watermark_of(reader, "001")->seq == 5);
  CHECK(watermark_of(reader, "001")->chain_hash == watermark_of(*writer, "001")->chain_hash);
}

TEST_CASE_METHOD(LogFixture,
                 "EventLog: over the data dir cap every submit is refused as storage full",
                 "[event_log]") {
  TempDir dir;
  Events events;
  events.add(admit("00001", "a")).add(activity("00001", 1)).add(activity("00004", 2));
  {
    auto log = open(dir, "001", /*max_dir_bytes=*/1);
    const auto outcomes = log->submit(events.all(), kNow);
    for (const auto& o : outcomes) {
      CHECK_FALSE(o.accepted);
      REQUIRE(o.rejected);
      CHECK(o.rejected->code == wire::RejectCode::STORAGE_FULL);
      CHECK_THAT(o.rejected->message, Catch::Contains("cap"));
    }
    CHECK(log->last_lsn() == Lsn{0});
    CHECK(log->next_own_seq() == 1);
    CHECK(read_all(*log).empty());
    CHECK_FALSE(log->member("a")->has_value());
  }
  auto log = open(dir, "001", /*max_dir_bytes=*/1ull << 30);
  const auto ids = submit_all(*log, events.all());
  CHECK(ids.front() == OriginSeq{code("001"), 1});
  CHECK(log->last_lsn() == Lsn{3});
}

TEST_CASE(
    "EventLog: the Ba Đình example is accepted line by line at its "
    "district node",
    "[event_log]") {
  auto map = UnitMap::load_csv_file(std::string(ROLLCALL_SHARED_DIR) + "/data/vn-units-2024.csv");
  REQUIRE(map.ok());
  std::ifstream in(std::string(ROLLCALL_SHARED_DIR) + "/examples/ba-dinh-2024.jsonl");
  REQUIRE(in.good());
  Events events;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) events.add(line);
  REQUIRE(events.all().size() == 400);

  TempDir dir;
  LogOptions options = LogFixture::options(dir, "001");
  auto opened = EventLog::open_writer(options, *map);
  REQUIRE(opened.ok());
  EventLog& log = *opened.value();
  size_t accepted = 0, next = 0, size = 1;
  while (next < events.all().size()) {
    const size_t n = std::min(size, events.all().size() - next);
    const auto outcomes = log.submit(events.range(next, n), kNow);
    for (size_t i = 0; i < n; ++i) {
      INFO("line " << next + i + 1 << ": "
                   << (outcomes[i].rejected ? outcomes[i].rejected->message : std::string()));
      CHECK(outcomes[i].accepted.has_value());
      if (outcomes[i].accepted) {
        ++accepted;
        CHECK(outcomes[i].accepted->seq == next + i + 1);
      }
    }
    next += n;
    size = size % 23 + 1;  // 1, 2, ..., 23, 1, ...
  }
  CHECK(accepted == 400);
  CHECK(log.last_lsn() == Lsn{400});
  CHECK(watermark_of(log, "001")->seq == 400);
}

}  // namespace rollcall

namespace rollcall::log_test {

TEST_CASE_METHOD(LogFixture, "EventLog: a member's change dated before its latest change is refused, a back-dated rating is not",
                 "[event_log]") {
  TempDir dir;
  auto log = open(dir);
  Events events;
  events.add(admit("00001", "m"));  // 2024-03-01
  events.add(R"({"unit":"00001","effectiveDate":"2024-02-01","memberTransferredOut":{"memberId":"m","toUnit":"00004"}})");
  events.add(R"({"unit":"00001","effectiveDate":"2023-12-20","memberRated":{"memberId":"m","year":2023,"rating":"good"}})");
  events.add(R"({"unit":"00001","effectiveDate":"2024-05-01","workingAwayStarted":{"memberId":"m","place":"Bình Dương"}})");
  events.add(R"({"unit":"00001","effectiveDate":"2024-04-01","workingAwayEnded":{"memberId":"m"}})");
  events.add(R"({"unit":"00001","effectiveDate":"2024-05-01","workingAwayEnded":{"memberId":"m"}})");
  auto outcomes = log->submit(events.all(), kNow);
  REQUIRE(outcomes.size() == 6);
  CHECK(outcomes[0].accepted);
  REQUIRE(outcomes[1].rejected);
  CHECK(outcomes[1].rejected->code == wire::RejectCode::DOMAIN_RULE);
  CHECK_THAT(outcomes[1].rejected->message,
             Catch::Contains("dated 2024-02-01") && Catch::Contains("memberAdmitted on 2024-03-01"));
  CHECK(outcomes[2].accepted);
  CHECK(outcomes[3].accepted);
  REQUIRE(outcomes[4].rejected);
  CHECK_THAT(outcomes[4].rejected->message, Catch::Contains("workingAwayStarted on 2024-05-01"));
  CHECK(outcomes[5].accepted);  // the same day is in order
  auto member = log->member("m").value();
  REQUIRE(member);
  CHECK_FALSE(member->state.working_away);
  CHECK(member->state.status == storage::MemberStatus::ACTIVE);
}

}  // namespace rollcall::log_test

namespace rollcall::log_test {

TEST_CASE_METHOD(LogFixture, "EventLog: a retraction ref with leading zeros is refused and cannot retract an event twice",
                 "[event_log]") {
  TempDir dir;
  auto log = open(dir);
  Events first;
  first.add(activity("00001", 7)).add(retract("001:1"));
  submit_all(*log, first.all());
  Events again;
  again.add(retract("001:01"));
  auto outcome = log->submit(again.all(), kNow);
  REQUIRE(outcome[0].rejected);
  CHECK(outcome[0].rejected->code == wire::RejectCode::INVALID);
  CHECK_THAT(outcome[0].rejected->message, Catch::Contains("leading zeros"));
  CHECK(log->tally(code("001"), DateRange::all_time()).value().empty());
}

TEST_CASE_METHOD(LogFixture, "EventLog: retracting a member event that later events stand on is refused",
                 "[event_log]") {
  TempDir dir;
  auto log = open(dir);
  Events events;
  events.add(admit("00001", "a"))                    // 001:1
      .add(transfer_out("00001", "a", "00004"))     // 001:2
      .add(transfer_in("00004", "a", "00001"))      // 001:3
      .add(admit("00001", "b"))                     // 001:4
      .add(rate("00001", "b"))                      // 001:5
      .add(admit("00001", "c"))                     // 001:6
      .add(R"({"unit":"00001","effectiveDate":"2024-06-30","memberMatured":{"memberId":"c"}})");  // 001:7
  submit_all(*log, events.all());
  const auto refused = [&](const char* ref, const char* part) {
    Events r;
    r.add(retract(ref));
    auto outcome = log->submit(r.all(), kNow);
    REQUIRE(outcome[0].rejected);
    CHECK(outcome[0].rejected->code == wire::RejectCode::DOMAIN_RULE);
    CHECK_THAT(outcome[0].rejected->message, Catch::Contains(part));
  };
  // The arrival at 00004 stands on the departure; b's rating stands on b's admission.
  refused("001:2", "memberTransferredIn 001:3");
  refused("001:4", "memberRated 001:5");
  // A member's last change, or a rating, can go.
  Events fine;
  fine.add(retract("001:7")).add(retract("001:5")).add(retract("001:3"));
  submit_all(*log, fine.all());
  CHECK(log->member("c").value()->state.status == storage::MemberStatus::ACTIVE);
  CHECK(log->member("a").value()->state.status == storage::MemberStatus::TRANSFERRED_OUT);
  CHECK(log->in_transit(code("001")).value() == 1);
  CHECK(log->verify_projections(dir.str(), nullptr).value().differences == 0);
}

TEST_CASE_METHOD(LogFixture, "EventLog: relayed retractions of later events and transfers to their own unit are refused",
                 "[event_log]") {
  TempDir dir;
  auto parent = open(dir, "001");
  const auto relayed = [&](const std::string& body) {
    Events e;
    e.add(R"({"origin":"00001","seq":1,)" + body.substr(1));
    return parent->ingest(e.all());
  };
  auto forward = relayed(R"({"unit":"00001","effectiveDate":"2024-05-02","eventRetracted":{"ref":"00001:1"}})");
  REQUIRE_FALSE(forward.ok());
  CHECK_THAT(forward.error().message(), Catch::Contains("earlier event"));
  auto to_itself = relayed(transfer_out("00001", "m", "00001"));
  REQUIRE_FALSE(to_itself.ok());
  CHECK_THAT(to_itself.error().message(), Catch::Contains("toUnit is the event's own unit"));
  auto zeros = relayed(R"({"unit":"00001","effectiveDate":"2024-05-02","eventRetracted":{"ref":"00001:00"}})");
  REQUIRE_FALSE(zeros.ok());
  CHECK(parent->last_lsn() == Lsn{0});
}

}  // namespace rollcall::log_test

namespace rollcall::log_test {

TEST_CASE_METHOD(LogFixture, "EventLog: a back-dated rating does not let a retraction strand an arrival", "[event_log]") {
  TempDir dir;
  auto log = open(dir);
  Events events;
  events.add(admit("00001", "a"))                                                                    // 001:1 2024-03-01
      .add(transfer_out("00001", "a", "00004"))                                                     // 001:2 2024-04-01
      .add(transfer_in("00004", "a", "00001"))                                                      // 001:3 2024-04-03
      .add(R"({"unit":"00004","effectiveDate":"2024-03-20","memberRated":{"memberId":"a","year":2023,"rating":"good"}})");
  submit_all(*log, events.all());
  Events r;
  r.add(retract("001:2"));
  auto outcome = log->submit(r.all(), kNow);
  REQUIRE(outcome[0].rejected);
  CHECK_THAT(outcome[0].rejected->message, Catch::Contains("memberTransferredIn 001:3"));
}

}  // namespace rollcall::log_test
