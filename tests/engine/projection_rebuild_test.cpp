// rebuild_projections and verify_projections: the operator's way back to projections that match
// the log, and the check that they do.
#include <catch2/catch.hpp>

#include <rocksdb/write_batch.h>

#include <stdexcept>

#include "engine/keys.h"
#include "engine/store.h"
#include "tests/engine/event_log_fixture.h"

namespace rollcall {
namespace {

using namespace log_test;

// A small history with a transfer, a retraction and activity reports at Ba Đình.
void fill(EventLog& log) {
  Events events;
  events.add(admit("00001", "a")).add(admit("00004", "b")).add(activity("00001", 7)).add(activity("00004", 3));
  events.add(transfer_out("00001", "a", "00004")).add(transfer_in("00004", "a", "00001")).add(rate("00004", "b"));
  LogFixture::submit_all(log, events.all());
  Events retraction;
  retraction.add(retract("001:3"));
  LogFixture::submit_all(log, retraction.all());
}

// A new data dir at `dir` holding fill()'s history; the digest of its live projections.
uint64_t filled_digest(LogFixture& fixture, const TempDir& dir) {
  auto log = fixture.open(dir);
  fill(*log);
  return log->projection_digest().value();
}

// The writer a rebuild opens, replaying `chunk` events per bulk load.
std::unique_ptr<EventLog> open_for_rebuild(const LogFixture& fixture, const TempDir& dir,
                                           size_t chunk = LogOptions{}.replay_chunk) {
  LogOptions o = LogFixture::options(dir, "001");
  o.for_rebuild = true;
  o.replay_chunk = chunk;
  return EventLog::open_writer(o, fixture.map()).value();
}

}  // namespace

TEST_CASE_METHOD(LogFixture, "EventLog: rebuild replays the log into the same projections", "[projection][rebuild]") {
  TempDir dir;
  auto log = open(dir);
  fill(*log);
  const uint64_t before = log->projection_digest().value();
  const auto tally_before = log->tally(code("001"), DateRange::all_time()).value();
  uint64_t last_progress = 0;
  auto rebuilt = log->rebuild_projections([&](uint64_t done, uint64_t total) {
    CHECK(done <= total);
    last_progress = done;
  });
  REQUIRE(rebuilt.ok());
  CHECK(*rebuilt == 8);
  CHECK(last_progress == 8);
  CHECK(log->projection_digest().value() == before);
  CHECK(log->tally(code("001"), DateRange::all_time()).value() == tally_before);
  CHECK(tally_before.at("activity.forums.count") == 3);
  // The log still takes writes after a rebuild and its projections follow.
  Events more;
  more.add(activity("00004", 4));
  submit_all(*log, more.all());
  CHECK(log->tally(code("001"), DateRange::all_time()).value().at("activity.forums.count") == 7);
  CHECK(log->verify_projections(dir.str(), nullptr).value().differences == 0);
}

TEST_CASE_METHOD(LogFixture, "EventLog: an interrupted rebuild leaves the data dir refused until a rebuild completes",
                 "[projection][rebuild]") {
  TempDir dir;
  const uint64_t digest = filled_digest(*this, dir);
  {
    // The first chunk is part of the log: its rows are ingested, the rest not.
    auto log = open_for_rebuild(*this, dir, 3);
    // Stop it after its first chunk. (tests/node/projection_crash_test.cpp kills a real rebuild.)
    CHECK_THROWS(log->rebuild_projections([](uint64_t, uint64_t) { throw std::runtime_error("interrupted"); }));
  }
  auto refused = EventLog::open_writer(options(dir, "001"), map());
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().kind() == ErrorKind::kIncompatible);
  CHECK_THAT(refused.error().message(), Catch::Contains("rollcall rebuild"));
  {
    // Readers can tell too, so the CLI does not show half-built tallies.
    auto reader = EventLog::open_reader(dir.str()).value();
    auto current = reader->projections_current();
    REQUIRE_FALSE(current.ok());
    CHECK(current.error().kind() == ErrorKind::kIncompatible);
  }
  REQUIRE(open_for_rebuild(*this, dir)->rebuild_projections(nullptr).ok());
  auto log = open(dir);
  CHECK(log->projections_current().ok());
  CHECK(log->projection_digest().value() == digest);
}

TEST_CASE_METHOD(LogFixture, "EventLog: a rebuild and a verify bulk-loaded in chunks of a few events give the live projections",
                 "[projection][rebuild]") {
  // Each chunk's rows are ingested as sorted files over the earlier chunks': the transfer's
  // halves land in different files, and the retraction's zeroed rows are deletes over puts.
  TempDir dir;
  const uint64_t digest = filled_digest(*this, dir);
  for (const size_t chunk : {1, 2, 3}) {
    INFO("chunk of " << chunk);
    auto log = open_for_rebuild(*this, dir, chunk);
    CHECK(log->verify_projections(dir.str(), nullptr).value().differences == 0);
    REQUIRE(log->rebuild_projections(nullptr).value() == 8);
    CHECK(log->projection_digest().value() == digest);
    CHECK_FALSE(std::filesystem::exists(std::filesystem::path(dir.str()) / "ingest"));
  }
  auto log = open(dir);
  CHECK(log->projections_current().ok());
  CHECK(log->projection_digest().value() == digest);
}

TEST_CASE("Store: ingest_sorted puts over and deletes what is stored, and refuses changes out of order",
          "[projection][rebuild]") {
  TempDir dir;
  auto store = Store::open(dir.str() + "/db", Store::Mode::kWriter, /*create=*/true).value();
  rocksdb::WriteBatch batch;
  batch.Put(store->cf(Cf::kTallies), "a", "1");
  batch.Put(store->cf(Cf::kTallies), "b", "2");
  batch.Put(store->cf(Cf::kMembers), "m1", "x");
  REQUIRE(store->write(batch).ok());  // in the memtable: the ingest must still come out on top
  const auto value = [&](Cf cf, const char* key) { return store->get(cf, key).value(); };

  REQUIRE(store->ingest_sorted({}).ok());
  // A family of deletes only, and one of puts and deletes, in one ingest.
  REQUIRE(store->ingest_sorted({{Cf::kMembers, "m1", std::nullopt},
                                {Cf::kTallies, "a", std::nullopt},
                                {Cf::kTallies, "b", "20"},
                                {Cf::kTallies, "c", "3"}})
              .ok());
  CHECK_FALSE(value(Cf::kMembers, "m1").has_value());
  CHECK_FALSE(value(Cf::kTallies, "a").has_value());
  CHECK(value(Cf::kTallies, "b") == "20");
  CHECK(value(Cf::kTallies, "c") == "3");
  // A later file over an earlier one.
  REQUIRE(store->ingest_sorted({{Cf::kTallies, "a", "10"}, {Cf::kTallies, "c", std::nullopt}}).ok());
  CHECK(value(Cf::kTallies, "a") == "10");
  CHECK_FALSE(value(Cf::kTallies, "c").has_value());

  const std::vector<std::vector<KeyChange>> refused = {
      {{Cf::kTallies, "b", "1"}, {Cf::kTallies, "a", "1"}},       // keys out of order
      {{Cf::kTallies, "a", "1"}, {Cf::kTallies, "a", "2"}},       // a key twice
      {{Cf::kTallies, "z", "1"}, {Cf::kMembers, "m9", "1"}},      // families out of order
  };
  for (const auto& changes : refused) {
    auto ingested = store->ingest_sorted(changes);
    REQUIRE_FALSE(ingested.ok());
    CHECK(ingested.error().kind() == ErrorKind::kInternal);
  }
  CHECK(value(Cf::kTallies, "a") == "10");
  CHECK_FALSE(value(Cf::kMembers, "m9").has_value());
  CHECK_FALSE(std::filesystem::exists(std::filesystem::path(dir.str()) / "db" / "ingest"));
}

TEST_CASE_METHOD(LogFixture, "EventLog: a rebuild never creates a data dir", "[projection][rebuild]") {
  TempDir dir;
  LogOptions o = options(dir, "001");
  o.for_rebuild = true;
  auto log = EventLog::open_writer(o, map());
  REQUIRE_FALSE(log.ok());
  CHECK(log.error().kind() == ErrorKind::kNotFound);
  CHECK_FALSE(std::filesystem::exists(dir.str()));
}

TEST_CASE_METHOD(LogFixture, "EventLog: verify names every projection key that differs from a recomputation",
                 "[projection][verify]") {
  TempDir dir;
  {
    auto log = open(dir);
    fill(*log);
    CHECK(log->verify_projections(dir.str(), nullptr).value().differences == 0);
  }
  {
    // Damage the stored projections behind the log's back: one wrong sum, one stray member.
    auto store = Store::open(dir.str(), Store::Mode::kWriter, false).value();
    rocksdb::WriteBatch batch;
    batch.Put(store->cf(Cf::kTallies), keys::tally_key("001", 'M', 202403, "members.admitted"), keys::encode_i64(5));
    batch.Put(store->cf(Cf::kMemberUnits), keys::member_unit_key("00001", "ghost"), "");
    REQUIRE(store->write(batch).ok());
  }
  auto reader = EventLog::open_reader(dir.str()).value();
  auto report = reader->verify_projections(dir.str(), nullptr);
  REQUIRE(report.ok());
  CHECK(report->events == 8);
  CHECK(report->differences == 2);
  REQUIRE(report->first.size() == 2);
  CHECK(report->first[0].what == "tally 001 2024-03 members.admitted");
  CHECK(report->first[0].stored == "5");
  CHECK(report->first[0].recomputed == "2");
  CHECK(report->first[1].what == "member index 00001 ghost");
  CHECK(report->first[1].stored == "present");
  CHECK(report->first[1].recomputed == "absent");
}

TEST_CASE_METHOD(LogFixture, "EventLog: a writer refuses a data dir seeded with another units map", "[projection]") {
  TempDir dir;
  { open(dir); }
  const auto other = UnitMap::parse_csv(std::string(kUnits) + "00040,Phường Hàng Mã,ward,002\n").value();
  auto refused = EventLog::open_writer(options(dir, "001"), other);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().kind() == ErrorKind::kInvalidInput);
  CHECK_THAT(refused.error().message(), Catch::Contains("another units map"));
  CHECK_THAT(refused.error().message(), Catch::Contains("00040"));
  // The stored map is what readers use.
  auto reader = EventLog::open_reader(dir.str()).value();
  CHECK(reader->seed_map().value().size() == map().size());
}

}  // namespace rollcall
