// The history checker (tests/support/history_checker.h) on real logs in process: a ward 00001
// that takes submits and a district 001 that ingests them. A clean history is clean, and each
// violation planted on purpose is reported under its kind: an acknowledged event the district
// lacks, one line acknowledged with two ids, a request appended twice, content other than the
// line's, a relayed copy other than the origin's, and a tally damaged behind the log's back.
#include <catch2/catch.hpp>

#include <rocksdb/write_batch.h>

#include "engine/keys.h"
#include "engine/store.h"
#include "tests/engine/event_log_fixture.h"
#include "tests/support/history_checker.h"

using namespace rollcall;
using namespace rollcall::log_test;
using rollcall::testing::Ack;
using rollcall::testing::check_history;
using rollcall::testing::NodeDir;

namespace {

std::string report_line(int n, const std::string& request = "") {
  return R"({)" + (request.empty() ? std::string() : R"("requestId":")" + request + R"(",)") +
         R"("unit":"00001","effectiveDate":"2024-03-0)" + std::to_string(n) +
         R"(","activityReported":{"kind":"eidLevel1","count":)" + std::to_string(10 + n) + R"(,"participants":3}})";
}

// The ward's events 1..count relayed to the district.
void relay(EventLog& ward, EventLog& district, uint64_t count) {
  auto events = ward.read(Lsn{1}, count).value();
  std::vector<schema::Event::Reader> readers;
  for (const auto& e : events) readers.push_back(e.event());
  REQUIRE(district.ingest(readers).ok());
}

struct History {
  TempDir ward_dir, district_dir;
  std::vector<Ack> acks;
  std::vector<NodeDir> nodes() const {
    return {{code("00001"), ward_dir.str()}, {code("001"), district_dir.str()}};
  }
};

// Submits `lines` at the ward, one at a time, recording the acks.
void submit(EventLog& ward, History& h, const std::vector<std::string>& lines) {
  for (const auto& line : lines) {
    Events e;
    e.add(line);
    auto outcome = ward.submit(e.all(), kNow);
    REQUIRE(outcome.size() == 1);
    REQUIRE(outcome[0].accepted);
    h.acks.push_back(Ack{code("00001"), line, *outcome[0].accepted});
  }
}

}  // namespace

TEST_CASE_METHOD(LogFixture, "history checker: a clean history is clean, and every planted violation is named",
                 "[history]") {
  History h;
  {
    auto ward = open(h.ward_dir, "00001");
    auto district = open(h.district_dir, "001");
    submit(*ward, h, {report_line(1, "r1"), report_line(2, "r2"), report_line(3)});
    relay(*ward, *district, 3);
  }
  // Unanswered lines are allowed (the client never heard), as long as they are everywhere.
  h.acks.push_back(Ack{code("00001"), report_line(4, "r4"), std::nullopt});
  {
    auto report = check_history(map(), h.acks, h.nodes());
    INFO(report.summary());
    CHECK(report.clean());
    CHECK(report.acks_checked == 3);
    CHECK(report.events_checked == 6);
  }

  SECTION("an acknowledged event the district lacks is lost; not converged, an unacknowledged one is allowed") {
    {
      auto ward = open(h.ward_dir, "00001");
      submit(*ward, h, {report_line(5, "r5")});
      Events more;
      more.add(report_line(6, "r6"));
      REQUIRE(ward->submit(more.all(), kNow)[0].accepted);  // appended, the ack lost on the way
    }
    auto report = check_history(map(), h.acks, h.nodes(), /*converged=*/false);
    INFO(report.summary());
    REQUIRE(report.lost.size() == 1);
    CHECK(report.lost[0] == "001 lacks acknowledged 00001:4");
    auto converged = check_history(map(), h.acks, h.nodes());
    CHECK(converged.lost.size() == 2);
    CHECK_THAT(converged.lost.back(), Catch::Contains("001 lacks 2 events its origin 00001 holds, the first 00001:4"));
  }
  SECTION("one line acknowledged with two ids is a duplicate") {
    h.acks.push_back(Ack{code("00001"), report_line(1, "r1"), OriginSeq{code("00001"), 3}});
    auto report = check_history(map(), h.acks, h.nodes());
    REQUIRE(report.duplicated.size() == 1);
    CHECK_THAT(report.duplicated[0], Catch::StartsWith("one line acknowledged as 00001:1 and 00001:3"));
  }
  SECTION("an acknowledgement naming an event of other content is a content violation") {
    h.acks.push_back(Ack{code("00001"), report_line(7, "r7"), OriginSeq{code("00001"), 2}});
    auto report = check_history(map(), h.acks, h.nodes());
    CHECK(report.content.size() == 2);  // at the ward and at the district
    CHECK_THAT(report.content[0], Catch::StartsWith("00001 holds acknowledged 00001:2 with other content"));
  }
  SECTION("a tally damaged behind the log's back differs from the recomputation") {
    {
      auto store = Store::open(h.district_dir.str(), Store::Mode::kWriter, false).value();
      rocksdb::WriteBatch batch;
      batch.Put(store->cf(Cf::kTallies), keys::tally_key("00001", 'Y', 2024, "activity.eidLevel1.count"),
                keys::encode_i64(1000));
      REQUIRE(store->write(batch).ok());
    }
    auto report = check_history(map(), h.acks, h.nodes());
    INFO(report.summary());
    REQUIRE_FALSE(report.tallies.empty());
    CHECK_THAT(report.tallies[0], Catch::Contains("001 (") && Catch::Contains("tally of") &&
                                      Catch::Contains("activity.eidLevel1.count"));
    CHECK(report.lost.empty());
  }
}

TEST_CASE_METHOD(LogFixture, "history checker: a request appended twice and a relayed copy unlike its origin's are named",
                 "[history]") {
  History h;
  TempDir other_ward;
  {
    // Two ward data dirs for one unit (a fork): the district got its copy from the other one.
    auto ward = open(h.ward_dir, "00001");
    auto twin = open(other_ward, "00001");
    auto district = open(h.district_dir, "001");
    submit(*ward, h, {report_line(1, "r1")});
    Events different;
    different.add(report_line(2, "r1"));
    REQUIRE(twin->submit(different.all(), kNow)[0].accepted);
    relay(*twin, *district, 1);
  }
  auto report = check_history(map(), h.acks, h.nodes());
  INFO(report.summary());
  CHECK(report.content.size() == 2);  // the acknowledged line, and the copy against the origin's
  CHECK_THAT(report.content.back(), Catch::Contains("001 holds 00001:1 with other content than its origin"));

  // A node that appended one request twice (as a node that forgot its request ids would).
  History again;
  {
    auto ward = open(again.ward_dir, "00001");
    open(again.district_dir, "001");
    Events e;
    e.add(report_line(1, "same"));
    REQUIRE(ward->submit(e.all(), kNow)[0].accepted);
  }
  {
    // Forget the remembered request so the second submit appends it again.
    auto store = Store::open(again.ward_dir.str(), Store::Mode::kWriter, false).value();
    rocksdb::WriteBatch batch;
    batch.DeleteRange(store->cf(Cf::kRequests), "", "\xff\xff\xff\xff");
    REQUIRE(store->write(batch).ok());
  }
  {
    auto ward = open(again.ward_dir, "00001");
    Events e;
    e.add(report_line(1, "same"));
    auto outcome = ward->submit(e.all(), kNow);
    REQUIRE(outcome[0].accepted);
    CHECK_FALSE(outcome[0].repeated);
  }
  auto twice = check_history(map(), {}, again.nodes(), /*converged=*/false);
  INFO(twice.summary());
  REQUIRE(twice.duplicated.size() == 1);
  CHECK(twice.duplicated[0] == "00001 (" + again.ward_dir.str() + ") appended request 'same' of unit 00001 twice: "
                                                                  "00001:1 and 00001:2");
}
