// EventLog: a repeated requestId is answered with the original event and appends nothing
// (engine/request_index.h), within the configured window, across reopenings and for events
// taken back from a parent.
#include <catch2/catch.hpp>

#include <rocksdb/db.h>

#include "tests/engine/event_log_fixture.h"

namespace rollcall::log_test {
namespace {

std::string with_request(const std::string& line, const std::string& request_id) {
  return R"({"requestId":")" + request_id + R"(",)" + line.substr(1);
}

constexpr int64_t kDay = int64_t{24} * 3600 * 1'000'000;

class RequestFixture : public LogFixture {
 public:
  std::unique_ptr<EventLog> open_with(const TempDir& dir, RequestWindow window) {
    auto o = options(dir, "001");
    o.requests = window;
    auto log = EventLog::open_writer(o, map());
    REQUIRE(log.ok());
    return std::move(log).value();
  }
};

uint64_t event_count(const EventLog& log) { return read_all(log).size(); }

}  // namespace

TEST_CASE_METHOD(RequestFixture, "EventLog: a repeated requestId with the same content gets the original id and appends nothing",
                 "[log][requests]") {
  TempDir dir;
  auto log = open(dir);
  Events first;
  first.add(with_request(admit("00001", "m1"), "r-1")).add(with_request(activity("00001", 5), "r-2"));
  const auto ids = submit_all(*log, first.all());
  const auto tally_before = log->tally(code("001"), DateRange::all_time()).value();

  // The same two lines again, after a new line without a requestId.
  Events again;
  again.add(activity("00001", 1)).add(with_request(admit("00001", "m1"), "r-1")).add(with_request(activity("00001", 5), "r-2"));
  auto outcomes = log->submit(again.all(), kNow);
  REQUIRE(outcomes.size() == 3);
  REQUIRE(outcomes[0].accepted);
  CHECK_FALSE(outcomes[0].repeated);
  CHECK(*outcomes[0].accepted == OriginSeq{code("001"), 3});
  for (size_t i : {1u, 2u}) {
    INFO("line " << i << (outcomes[i].rejected ? ": " + outcomes[i].rejected->message : ""));
    REQUIRE(outcomes[i].accepted);
    CHECK(outcomes[i].repeated);
    CHECK(*outcomes[i].accepted == ids[i - 1]);
  }
  CHECK(event_count(*log) == 3);
  auto tally_after = log->tally(code("001"), DateRange::all_time()).value();
  CHECK(tally_after["activity.forums.count"] == tally_before.at("activity.forums.count") + 1);
  CHECK(tally_after["members.admitted"] == 1);

  // Remembered across a restart (the index is in the events' own write).
  log.reset();
  log = open(dir);
  Events once_more;
  once_more.add(with_request(admit("00001", "m1"), "r-1"));
  outcomes = log->submit(once_more.all(), kNow);
  REQUIRE(outcomes[0].accepted);
  CHECK(outcomes[0].repeated);
  CHECK(*outcomes[0].accepted == ids[0]);
  CHECK(event_count(*log) == 3);
}

TEST_CASE_METHOD(RequestFixture, "EventLog: a requestId repeated with other content is rejected naming it, and the same id at another unit is another request",
                 "[log][requests]") {
  TempDir dir;
  auto log = open(dir);
  Events first;
  first.add(with_request(activity("00001", 5), "r-1"));
  submit_all(*log, first.all());

  Events other;
  other.add(with_request(activity("00001", 6), "r-1")).add(with_request(activity("00004", 5), "r-1"));
  auto outcomes = log->submit(other.all(), kNow);
  REQUIRE(outcomes[0].rejected);
  CHECK(outcomes[0].rejected->code == wire::RejectCode::CONFLICT);
  CHECK(outcomes[0].rejected->message == "requestId 'r-1' of unit 00001 was already used for event 001:1 with other content");
  REQUIRE(outcomes[1].accepted);  // unit 00004: its own request r-1
  CHECK_FALSE(outcomes[1].repeated);
  CHECK(*outcomes[1].accepted == OriginSeq{code("001"), 2});
  CHECK(event_count(*log) == 2);
}

TEST_CASE_METHOD(RequestFixture, "EventLog: a request repeated within one write is appended once",
                 "[log][requests]") {
  TempDir dir;
  auto log = open(dir);
  Events twice;
  twice.add(with_request(activity("00001", 5), "r-1"))
      .add(with_request(activity("00001", 5), "r-1"))
      .add(with_request(activity("00001", 7), "r-1"));
  auto outcomes = log->submit(twice.all(), kNow);
  REQUIRE(outcomes[0].accepted);
  REQUIRE(outcomes[1].accepted);
  CHECK(outcomes[1].repeated);
  CHECK(*outcomes[1].accepted == *outcomes[0].accepted);
  REQUIRE(outcomes[2].rejected);
  CHECK(outcomes[2].rejected->code == wire::RejectCode::CONFLICT);
  CHECK(event_count(*log) == 1);
}

TEST_CASE_METHOD(RequestFixture, "EventLog: a repeat is answered before the member rules, which would refuse a second admission",
                 "[log][requests]") {
  TempDir dir;
  auto log = open(dir);
  Events admission;
  admission.add(with_request(admit("00001", "m1"), "admit-m1"));
  submit_all(*log, admission.all());
  // Without the requestId the same line is a second admission.
  Events plain;
  plain.add(admit("00001", "m1"));
  auto outcomes = log->submit(plain.all(), kNow);
  REQUIRE(outcomes[0].rejected);
  CHECK(outcomes[0].rejected->code == wire::RejectCode::DOMAIN_RULE);
  outcomes = log->submit(admission.all(), kNow);
  REQUIRE(outcomes[0].accepted);
  CHECK(outcomes[0].repeated);
}

TEST_CASE_METHOD(RequestFixture, "EventLog: a request id is forgotten once the node has appended more own events than the window holds",
                 "[log][requests]") {
  TempDir dir;
  auto log = open_with(dir, RequestWindow{.max_events = 3, .max_age_us = 365 * kDay});
  Events requested;
  requested.add(with_request(activity("00001", 5), "r-1"));
  submit_all(*log, requested.all());  // seq 1
  Events fillers;
  fillers.add(activity("00001", 1)).add(activity("00001", 1));
  submit_all(*log, fillers.all());  // seqs 2, 3: seq 1 is still among the newest 3
  auto outcomes = log->submit(requested.all(), kNow);
  REQUIRE(outcomes[0].accepted);
  CHECK(outcomes[0].repeated);
  Events filler;
  filler.add(activity("00001", 1));
  submit_all(*log, filler.all());  // seq 4: seq 1 falls out of the window
  outcomes = log->submit(requested.all(), kNow);
  REQUIRE(outcomes[0].accepted);
  CHECK_FALSE(outcomes[0].repeated);
  CHECK(*outcomes[0].accepted == OriginSeq{code("001"), 5});
  // The new event is remembered in its place, after a restart too.
  log.reset();
  log = open_with(dir, RequestWindow{.max_events = 3, .max_age_us = 365 * kDay});
  outcomes = log->submit(requested.all(), kNow);
  REQUIRE(outcomes[0].accepted);
  CHECK(outcomes[0].repeated);
  CHECK(*outcomes[0].accepted == OriginSeq{code("001"), 5});
}

TEST_CASE_METHOD(RequestFixture, "EventLog: a request id is forgotten after the window's age, and expiry deletes its entries",
                 "[log][requests]") {
  TempDir dir;
  auto log = open_with(dir, RequestWindow{.max_events = 1000, .max_age_us = 2 * kDay});
  Events requested;
  requested.add(with_request(activity("00001", 5), "r-1"));
  submit_all(*log, requested.all());  // at kNow
  const Timestamp next_day{kNow.micros + kDay};
  auto outcomes = log->submit(requested.all(), next_day);
  REQUIRE(outcomes[0].accepted);
  CHECK(outcomes[0].repeated);
  CHECK(log->remembered_requests().value() == 1);
  // Three days later, an unrelated write expires r-1 (its entries are deleted); the same line is
  // a new event.
  Events later;
  later.add(with_request(activity("00001", 1), "r-2"));
  const Timestamp three_days{kNow.micros + 3 * kDay};
  REQUIRE(log->submit(later.all(), three_days)[0].accepted);
  CHECK(log->remembered_requests().value() == 1);  // r-2 only
  outcomes = log->submit(requested.all(), three_days);
  REQUIRE(outcomes[0].accepted);
  CHECK_FALSE(outcomes[0].repeated);
  CHECK(*outcomes[0].accepted == OriginSeq{code("001"), 3});
  // r-2 is still young: repeated.
  outcomes = log->submit(later.all(), three_days);
  CHECK(outcomes[0].repeated);
}

TEST_CASE_METHOD(RequestFixture, "EventLog: expiry of many request ids is spread over writes and forgets only those out of the window",
                 "[log][requests]") {
  TempDir dir;
  const RequestWindow window{.max_events = 1'000'000, .max_age_us = kDay};
  auto log = open_with(dir, window);
  // 3,000 requests at kNow.
  Events many;
  for (int i = 0; i < 3000; ++i) many.add(with_request(activity("00001", 1), "bulk-" + std::to_string(i)));
  submit_all(*log, many.all());
  // Two days on: every write expires a bounded number, and none of them is answered as a repeat.
  CHECK(log->remembered_requests().value() == 3000);
  const Timestamp later{kNow.micros + 2 * kDay};
  Events fresh;
  fresh.add(with_request(activity("00004", 2), "fresh"));
  REQUIRE(log->submit(fresh.all(), later)[0].accepted);
  // That write expired 1,000 plus twice what it added: 1,998 old ones left, and the fresh one.
  CHECK(log->remembered_requests().value() == 1999);
  Events again;
  again.add(with_request(activity("00001", 1), "bulk-2999"));
  auto outcomes = log->submit(again.all(), later);
  REQUIRE(outcomes[0].accepted);
  CHECK_FALSE(outcomes[0].repeated);
  // The fresh one is still remembered, whatever expiry did around it; writes that append (only
  // they expire) finish expiring the old ones.
  Events filler;
  filler.add(activity("00004", 1));
  for (int i = 0; i < 3; ++i) {
    outcomes = log->submit(fresh.all(), later);
    REQUIRE(outcomes[0].accepted);
    CHECK(outcomes[0].repeated);
    CHECK(outcomes[0].accepted->seq == 3001);
    REQUIRE(log->submit(filler.all(), later)[0].accepted);
  }
  CHECK(log->remembered_requests().value() == 2);  // "fresh", and bulk-2999 appended again
}

TEST_CASE_METHOD(RequestFixture, "EventLog: request ids of own events taken back from a parent are remembered",
                 "[log][requests]") {
  TempDir origin_dir, restored_dir;
  auto origin = open(origin_dir);
  Events requested;
  requested.add(with_request(admit("00001", "m1"), "r-1")).add(with_request(activity("00001", 5), "r-2"));
  const auto ids = submit_all(*origin, requested.all());
  const auto held = read_all(*origin);

  // A new data dir of the same unit takes those events back (as from a parent) ...
  auto restored = open(restored_dir);
  REQUIRE(restored->ingest(readers_of(held)).ok());
  // ... and answers the same lines with their original ids.
  auto outcomes = restored->submit(requested.all(), kNow);
  for (size_t i = 0; i < outcomes.size(); ++i) {
    REQUIRE(outcomes[i].accepted);
    CHECK(outcomes[i].repeated);
    CHECK(*outcomes[i].accepted == ids[i]);
  }
  CHECK(event_count(*restored) == 2);
}

TEST_CASE_METHOD(RequestFixture, "EventLog: request ids are remembered for the node's own events only, not for relayed ones",
                 "[log][requests]") {
  TempDir ward_dir, district_dir;
  auto ward = open(ward_dir, "00001");
  Events requested;
  requested.add(with_request(activity("00001", 5), "r-1"));
  submit_all(*ward, requested.all());
  auto district = open(district_dir, "001");
  REQUIRE(district->ingest(readers_of(read_all(*ward))).ok());
  // The same request submitted at the district is the district's own event: requests are
  // answered where they were appended.
  auto outcomes = district->submit(requested.all(), kNow);
  REQUIRE(outcomes[0].accepted);
  CHECK_FALSE(outcomes[0].repeated);
  CHECK(outcomes[0].accepted->origin == code("001"));
}

}  // namespace rollcall::log_test

namespace rollcall::log_test {

TEST_CASE_METHOD(RequestFixture, "EventLog: a reader opens a data dir written before the request families existed, and its writer adds them",
                 "[log][requests]") {
  TempDir dir;
  {
    auto log = open(dir);
    Events some;
    some.add(activity("00001", 5));
    submit_all(*log, some.all());
  }
  {
    // As an older rollcall left it: no requests or request_expiry family.
    std::vector<std::string> names;
    REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir.str(), &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const auto& name : names) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(rocksdb::DBOptions(), dir.str(), descriptors, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    size_t dropped = 0;
    for (auto* handle : handles) {
      if (handle->GetName() == "requests" || handle->GetName() == "request_expiry") {
        REQUIRE(db->DropColumnFamily(handle).ok());
        ++dropped;
      }
      REQUIRE(db->DestroyColumnFamilyHandle(handle).ok());
    }
    REQUIRE(dropped == 2);
  }
  auto reader = EventLog::open_reader(dir.str());
  INFO((reader.ok() ? std::string() : reader.error().message()));
  REQUIRE(reader.ok());
  CHECK((*reader)->remembered_requests().value() == 0);
  CHECK(read_all(**reader).size() == 1);
  reader->reset();
  auto log = open(dir);
  Events requested;
  requested.add(with_request(activity("00001", 5), "r-1"));
  submit_all(*log, requested.all());
  CHECK(log->submit(requested.all(), kNow)[0].repeated);
}

}  // namespace rollcall::log_test
