#include <capnp/message.h>

#include <catch2/catch.hpp>
#include <functional>
#include <string>
#include <vector>

#include "engine/content_hash.h"
#include "engine/event_log.h"
#include "tests/engine/event_log_fixture.h"

namespace rollcall {

using namespace log_test;  // NOLINT(google-build-using-namespace): test helpers

TEST_CASE_METHOD(LogFixture, "EventLog: relayed events are ingested once, duplicates skipped",
                 "[event_log]") {
  TempDir child_dir, parent_dir;
  auto child = open(child_dir, "00001");
  Events events;
  events.add(admit("00001", "x")).add(rate("00001", "x")).add(activity("00001", 7));
  submit_all(*child, events.all());
  const auto relayed = read_all(*child);
  const auto batch = readers_of(relayed);

  auto parent = open(parent_dir, "001");
  Events own;
  own.add(activity("001", 1));
  submit_all(*parent, own.all());

  auto report = parent->ingest(batch);
  REQUIRE(report.ok());
  CHECK(report->applied == 3);
  CHECK(report->duplicates == 0);
  CHECK(parent->last_lsn() == Lsn{4});
  // The parent's watermark for the child equals the child's own, hash included.
  auto at_parent = watermark_of(*parent, "00001");
  auto at_child = watermark_of(*child, "00001");
  REQUIRE(at_parent);
  REQUIRE(at_child);
  CHECK(at_parent->seq == 3);
  CHECK(at_parent->chain_hash == at_child->chain_hash);
  CHECK(parent->next_own_seq() == 2);  // relaying does not move the node's own seq
  auto found = parent->find(OriginSeq{code("00001"), 2});
  REQUIRE(found->has_value());
  CHECK((*found)->lsn == Lsn{3});
  CHECK(parent->member("x")->value().state.unit == "00001");

  LogFilter by_origin;
  by_origin.origin = code("00001");
  CHECK(parent->tail(10, by_origin)->size() == 3);

  // Sent again (a retry after a lost ack), and overlapping with one new event.
  auto again = parent->ingest(batch);
  REQUIRE(again.ok());
  CHECK(again->applied == 0);
  CHECK(again->duplicates == 3);
  CHECK(parent->last_lsn() == Lsn{4});

  Events next;
  next.add(rate("00001", "x"));
  submit_all(*child, next.all());
  const auto relayed2 = read_all(*child);
  auto overlap = parent->ingest(readers_of(relayed2));
  REQUIRE(overlap.ok());
  CHECK(overlap->duplicates == 3);
  CHECK(overlap->applied == 1);
  CHECK(watermark_of(*parent, "00001")->seq == 4);
}

TEST_CASE_METHOD(LogFixture, "EventLog: ingest of a batch with a gap applies nothing",
                 "[event_log]") {
  TempDir child_dir, parent_dir;
  auto child = open(child_dir, "00001");
  Events events;
  for (int i = 0; i < 5; ++i) events.add(activity("00001", i + 1));
  submit_all(*child, events.all());
  const auto relayed = read_all(*child);
  const auto all = readers_of(relayed);

  auto parent = open(parent_dir, "001");
  REQUIRE(parent->ingest(std::span(all).subspan(0, 2)).ok());
  const auto before = watermark_of(*parent, "00001");

  std::vector<schema::Event::Reader> gapped = {all[2], all[3], all[4]};
  std::swap(gapped[1], gapped[2]);  // 3, 5, 4: 5 arrives before 4
  auto result = parent->ingest(gapped);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().kind() == ErrorKind::kProtocol);
  CHECK_THAT(result.error().message(), Catch::Contains("gap"));
  CHECK_THAT(result.error().message(), Catch::Contains("00001"));
  // All or nothing: seq 3, valid on its own, was not applied either.
  CHECK(parent->last_lsn() == Lsn{2});
  CHECK(watermark_of(*parent, "00001")->seq == 2);
  CHECK(watermark_of(*parent, "00001")->chain_hash == before->chain_hash);
  CHECK_FALSE(parent->find(OriginSeq{code("00001"), 3})->has_value());

  // A gap right at the start.
  std::vector<schema::Event::Reader> skip = {all[3]};
  CHECK(parent->ingest(skip).error().kind() == ErrorKind::kProtocol);

  // In order, the same events go in.
  auto ok = parent->ingest(std::span(all).subspan(2, 3));
  REQUIRE(ok.ok());
  CHECK(ok->applied == 3);
  CHECK(parent->last_lsn() == Lsn{5});
}

TEST_CASE_METHOD(LogFixture,
                 "EventLog: the same origin:seq with other content is refused as a fork",
                 "[event_log]") {
  TempDir child_dir, twin_dir, parent_dir;
  auto child = open(child_dir, "00001");
  auto twin = open(twin_dir, "00001");  // a second live data dir for the same unit
  Events a, b;
  a.add(activity("00001", 1)).add(activity("00001", 2));
  b.add(activity("00001", 1)).add(activity("00001", 99));
  submit_all(*child, a.all());
  submit_all(*twin, b.all());
  const auto from_child = read_all(*child);
  const auto from_twin = read_all(*twin);

  auto parent = open(parent_dir, "001");
  REQUIRE(parent->ingest(readers_of(from_child)).ok());
  const auto held = watermark_of(*parent, "00001");

  auto result = parent->ingest(readers_of(from_twin));
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().kind() == ErrorKind::kConflict);
  CHECK_THAT(result.error().message(), Catch::Contains("fork"));
  CHECK_THAT(result.error().message(), Catch::Contains("seq 2"));
  // Never merged, never dropped: the parent keeps what it had.
  CHECK(parent->last_lsn() == Lsn{2});
  CHECK(watermark_of(*parent, "00001")->chain_hash == held->chain_hash);
  CHECK(watermark_of(*twin, "00001")->chain_hash != held->chain_hash);
  CHECK((*parent->find(OriginSeq{code("00001"), 2}))->event().getActivityReported().getCount() ==
        2);
}

TEST_CASE_METHOD(LogFixture, "EventLog: relayed events without identity are refused",
                 "[event_log]") {
  TempDir dir;
  auto parent = open(dir, "001");
  Events unnumbered;
  unnumbered.add(activity("00001", 1));
  auto result = parent->ingest(unnumbered.all());
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().kind() == ErrorKind::kInvalidInput);
  CHECK_THAT(result.error().message(), Catch::Contains("origin"));
  CHECK(parent->last_lsn() == Lsn{0});
}

TEST_CASE_METHOD(LogFixture, "EventLog: relayed events must be sound before they are stored",
                 "[event_log]") {
  TempDir dir;
  auto parent = open(dir, "001");
  auto ingest_one = [&](const std::function<void(schema::Event::Builder)>& edit) {
    capnp::MallocMessageBuilder message;
    auto e = message.initRoot<schema::Event>();
    e.setOrigin("00001");
    e.setSeq(1);
    e.setRecordedAt(kNow.micros);
    e.setUnit("00001");
    e.setEffectiveDate("2024-03-01");
    e.initActivityReported().setCount(3);
    edit(e);
    const schema::Event::Reader reader = e.asReader();
    return parent->ingest(std::span<const schema::Event::Reader>(&reader, 1));
  };
  auto refused = [&](const std::function<void(schema::Event::Builder)>& edit, const std::string& part) {
    auto result = ingest_one(edit);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind() == ErrorKind::kInvalidInput);
    CHECK_THAT(result.error().message(), Catch::Contains(part));
  };
  refused([](schema::Event::Builder e) { e.setUnit("00 01"); }, "unit");
  refused([](schema::Event::Builder e) { e.setEffectiveDate("2024-13-01"); }, "effectiveDate");
  refused([](schema::Event::Builder e) { e.setSeq(0); }, "seq");
  refused([](schema::Event::Builder e) { e.initEventRetracted().setRef("00004:1"); }, "its own origin");
  // What the projections key by: member ids and payload unit codes.
  refused([](schema::Event::Builder e) { e.initMemberMatured().setMemberId("a\x01b"); }, "memberId");
  refused([](schema::Event::Builder e) { e.initMemberRated().setMemberId(""); }, "memberId");
  refused([](schema::Event::Builder e) {
    auto out = e.initMemberTransferredOut();
    out.setMemberId("m");
    out.setToUnit("79\n");
  }, "toUnit");
  CHECK(parent->last_lsn() == Lsn{0});
  REQUIRE(ingest_one([](schema::Event::Builder) {}).ok());
  CHECK(parent->last_lsn() == Lsn{1});
}

TEST_CASE_METHOD(LogFixture,
                 "EventLog: ingest_each commits accepted batches in one write and refuses only the bad one",
                 "[event_log]") {
  TempDir a_dir, b_dir, twin_dir, c_dir, parent_dir;
  auto a = open(a_dir, "00001");
  auto b = open(b_dir, "00004");
  auto twin = open(twin_dir, "00004");  // a second live data dir for 00004: a fork
  auto c = open(c_dir, "00037");
  Events ea, eb, etwin, ec;
  ea.add(admit("00001", "x")).add(activity("00001", 2)).add(activity("00001", 3));
  eb.add(activity("00004", 1)).add(activity("00004", 2));
  etwin.add(activity("00004", 1)).add(activity("00004", 99));
  ec.add(activity("00037", 1)).add(activity("00037", 2)).add(activity("00037", 3));
  submit_all(*a, ea.all());
  submit_all(*b, eb.all());
  submit_all(*twin, etwin.all());
  submit_all(*c, ec.all());
  const auto from_a = read_all(*a), from_b = read_all(*b), from_twin = read_all(*twin), from_c = read_all(*c);
  const auto ra = readers_of(from_a), rb = readers_of(from_b), rtwin = readers_of(from_twin), rc = readers_of(from_c);
  auto parent = open(parent_dir, "01");

  SECTION("every batch accepted: one write holds them all, a batch sent twice in the run is duplicates") {
    const std::span<const schema::Event::Reader> first_two_of_c = std::span(rc).subspan(0, 2);
    const std::vector<std::span<const schema::Event::Reader>> run = {ra, rb, first_two_of_c, ra};
    auto results = parent->ingest_each(run);
    REQUIRE(results.size() == 4);
    for (const auto& r : results) REQUIRE(r.ok());
    CHECK(results[0]->applied == 3);
    CHECK(results[1]->applied == 2);
    CHECK(results[2]->applied == 2);
    CHECK(results[3]->applied == 0);
    CHECK(results[3]->duplicates == 3);
    CHECK(parent->last_lsn() == Lsn{7});
    auto held = parent->read(Lsn{1}, 100);
    REQUIRE(held.ok());
    REQUIRE(held->size() == 7);
    for (const auto& e : *held) CHECK(e.batch->first_lsn() == Lsn{1});  // one log write
    CHECK(watermark_of(*parent, "00001")->chain_hash == watermark_of(*a, "00001")->chain_hash);
    CHECK(watermark_of(*parent, "00037")->seq == 2);
    CHECK(parent->member("x")->value().state.unit == "00001");
  }

  SECTION("a fork and a gap in the run: the others are appended, each bad batch gets its own error") {
    REQUIRE(parent->ingest(rb).ok());
    const std::vector<schema::Event::Reader> gapped = {rc[0], rc[2]};
    const std::vector<std::span<const schema::Event::Reader>> run = {ra, rtwin, gapped};
    auto results = parent->ingest_each(run);
    REQUIRE(results.size() == 3);
    REQUIRE(results[0].ok());
    CHECK(results[0]->applied == 3);
    REQUIRE_FALSE(results[1].ok());
    CHECK(results[1].error().kind() == ErrorKind::kConflict);
    REQUIRE_FALSE(results[2].ok());
    CHECK(results[2].error().kind() == ErrorKind::kProtocol);
    CHECK(parent->last_lsn() == Lsn{5});
    CHECK(watermark_of(*parent, "00001")->seq == 3);
    CHECK(watermark_of(*parent, "00004")->chain_hash == watermark_of(*b, "00004")->chain_hash);
    CHECK_FALSE(watermark_of(*parent, "00037"));
  }
}

}  // namespace rollcall
