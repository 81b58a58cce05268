// Power loss (C5): a log on PowerLossEnv (tests/support/power_loss_env.h) loses power at a
// random write operation -- while it opens and recovers, between a WAL append and its sync, in
// a flush, between submits -- and is reopened from what a real disk would still hold. Every
// acknowledged event must be there with its content, once, seqs dense from 1, the next submit
// after them, the projections verifying clean. The same cycles with synced writes off must be
// caught losing acknowledged events, so the checker and the env are shown to bite.
//
// ROLLCALL_POWER_SEED=N replays a run, ROLLCALL_POWER_CYCLES=N changes its length (300).
#include <rocksdb/db.h>
#include <rocksdb/env.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "engine/content_hash.h"
#include "engine/event_log.h"
#include "tests/engine/event_log_fixture.h"
#include "tests/support/power_loss_env.h"
#include "tests/support/test_env.h"

namespace rollcall {
namespace {

using namespace log_test;  // NOLINT(google-build-using-namespace): test helpers
using testing::PowerLossEnv;
using testing::PowerLossOptions;

// What one event held by the log is: its content hash and the payload the test gave it.
struct HeldEvent {
  uint64_t hash = 0;
  std::string payload;  // "admit <member>" or "activity <n>", unique per submitted line
};

struct CycleFindings {
  uint64_t acknowledged = 0;        // events acknowledged in the cycle
  uint64_t lost_acknowledged = 0;   // of them (or of earlier cycles) missing after the crash
  std::vector<std::string> problems;  // everything else that is wrong (a duplicate, a gap, ...)
  bool crashed_in_open = false;
  bool crashed_in_write = false;    // a submit failed because the power went off in it
  testing::RestoreReport restored;
};

// Runs power-loss cycles over one data dir: each opens the log on a fresh PowerLossEnv over
// the previous cycle's survivor, submits, loses power, restores the disk and checks.
class PowerLossRun {
 public:
  PowerLossRun(uint64_t seed, bool synced_writes)
      : map_(UnitMap::parse_csv(kUnits).value()), seed_(seed), synced_writes_(synced_writes) {
    std::filesystem::create_directories(scratch_.str());
  }

  CycleFindings cycle(uint64_t index) {
    std::mt19937_64 random(seed_ * 0x9e3779b97f4a7c15ull + index);
    auto draw = [&](uint64_t lo, uint64_t hi) { return std::uniform_int_distribution<uint64_t>(lo, hi)(random); };
    CycleFindings found;
    PowerLossEnv env(PowerLossOptions{.torn_tails = draw(0, 1) == 1, .seed = random()});

    // Where the power goes: during the open (recovery), at a write operation among the
    // submits' (and flushes'), or only after the last submit, with whatever is unsynced.
    const uint64_t where = draw(0, 99);
    if (where < 20) env.crash_at_write(draw(1, open_writes_));
    std::vector<std::pair<uint64_t, HeldEvent>> acknowledged;
    {
      LogOptions options = writer_options();
      options.env = env.env();
      auto opened = EventLog::open_writer(options, map_);
      if (!opened.ok()) {
        if (!env.crashed()) found.problems.push_back("open failed with the power on: " + opened.error().message());
        found.crashed_in_open = true;
      } else {
        auto log = std::move(opened).value();
        if (!env.crashed()) open_writes_ = std::max<uint64_t>(env.writes(), 1);
        if (where >= 20 && where < 85) env.crash_at_write(draw(1, submit_writes_));
        const uint64_t before_submits = env.writes();
        submit_until_crash(*log, env, draw, acknowledged, found);
        if (!env.crashed()) {
          submit_writes_ = std::max<uint64_t>(env.writes() - before_submits, 1);
          env.crash();
        }
      }  // the log closes with the power off
    }
    found.restored = env.restore();
    for (const std::string& error : found.restored.errors) found.problems.push_back("restore: " + error);
    found.acknowledged = acknowledged.size();
    check_survivor(acknowledged, found);
    return found;
  }

  std::string dir() const { return dir_.str(); }

 private:
  LogOptions writer_options() const {
    LogOptions o = LogFixture::options(dir_, "001");
    o.synced_writes = synced_writes_;
    return o;
  }

  template <typename Draw>
  void submit_until_crash(EventLog& log, const PowerLossEnv& env, Draw& draw,
                          std::vector<std::pair<uint64_t, HeldEvent>>& acknowledged, CycleFindings& found) {
    if (log.next_own_seq() != held_.size() + 1)
      found.problems.push_back("opened at next seq " + std::to_string(log.next_own_seq()) + " holding " +
                               std::to_string(held_.size()));
    const uint64_t batches = draw(1, 12);
    for (uint64_t b = 0; b < batches && !env.crashed(); ++b) {
      Events events;
      std::vector<std::string> payloads;
      const uint64_t n = draw(1, 8);
      for (uint64_t i = 0; i < n; ++i) {
        const uint64_t id = next_line_++;
        const std::string unit = id % 2 == 0 ? "00001" : "00004";
        if (draw(0, 2) == 0) {
          const std::string member = "p" + std::to_string(id);
          events.add(admit(unit, member));
          payloads.push_back("admit " + member);
        } else {
          events.add(activity(unit, static_cast<int>(id)));
          payloads.push_back("activity " + std::to_string(id));
        }
      }
      const auto outcomes = log.submit(events.all(), kNow);
      for (size_t i = 0; i < outcomes.size(); ++i) {
        if (!outcomes[i].accepted) {
          if (env.crashed()) found.crashed_in_write = true;
          else found.problems.push_back("refused with the power on: " + outcomes[i].rejected.value_or(Rejection{}).message);
          continue;
        }
        const uint64_t seq = outcomes[i].accepted->seq;
        const uint64_t expected = held_.size() + acknowledged.size() + 1;
        if (seq != expected)
          found.problems.push_back("acknowledged seq " + std::to_string(seq) + ", expected " + std::to_string(expected));
        // The content acknowledged: the event as the log holds it now (page cache and memtable).
        auto stored = log.find(*outcomes[i].accepted);
        const uint64_t hash = stored.ok() && stored->has_value() ? event_content_hash((*stored)->event()) : 0;
        acknowledged.emplace_back(seq, HeldEvent{hash, payloads[i]});
      }
      if (draw(0, 6) == 0 && !env.crashed()) (void)log.flush();  // may fail when the power goes in it
    }
  }

  static std::string payload_of(schema::Event::Reader e) {
    if (e.isMemberAdmitted()) return std::string("admit ") + e.getMemberAdmitted().getMemberId().cStr();
    if (e.isActivityReported()) return "activity " + std::to_string(e.getActivityReported().getCount());
    return "other";
  }

  // Reopens normally and checks C5/C1 and C6; what it holds becomes what the next cycle must keep.
  void check_survivor(const std::vector<std::pair<uint64_t, HeldEvent>>& acknowledged, CycleFindings& found) {
    auto opened = EventLog::open_writer(LogFixture::options(dir_, "001"), map_);
    if (!opened.ok()) {
      found.problems.push_back("reopening after the power loss: " + opened.error().message());
      return;
    }
    auto log = std::move(opened).value();
    auto read = log->read(Lsn{1}, 1u << 24);
    if (!read.ok()) {
      found.problems.push_back("reading the log: " + read.error().message());
      return;
    }
    std::map<uint64_t, HeldEvent> now;
    uint64_t chain = 0;
    for (size_t i = 0; i < read->size(); ++i) {
      auto e = (*read)[i].event();
      const uint64_t seq = e.getSeq();
      if (std::string_view(e.getOrigin().cStr()) != "001" || seq != i + 1) {
        found.problems.push_back("event at lsn " + std::to_string(i + 1) + " is " + e.getOrigin().cStr() + ":" +
                                 std::to_string(seq) + " (seqs must be dense from 1, each once)");
        return;
      }
      chain = chain_hash(chain, event_content_hash(e));
      now[seq] = HeldEvent{event_content_hash(e), payload_of(e)};
    }
    auto expect = [&](uint64_t seq, const HeldEvent& want, const char* what) {
      auto it = now.find(seq);
      if (it == now.end()) {
        ++found.lost_acknowledged;
        if (found.problems.size() < 5) found.problems.push_back(std::string("lost ") + what + " 001:" + std::to_string(seq));
      } else if (it->second.hash != want.hash || it->second.payload != want.payload) {
        found.problems.push_back(std::string("other content at ") + what + " 001:" + std::to_string(seq) + ": " +
                                 it->second.payload + " instead of " + want.payload);
      }
    };
    for (const auto& [seq, want] : held_) expect(seq, want, "event held before the cycle");
    for (const auto& [seq, want] : acknowledged) expect(seq, want, "acknowledged event");
    if (log->next_own_seq() != now.size() + 1)
      found.problems.push_back("next seq " + std::to_string(log->next_own_seq()) + " after " +
                               std::to_string(now.size()) + " events");
    auto marks = log->watermarks();
    if (!now.empty() && (!marks.ok() || marks->empty() || marks->front().seq != now.size() ||
                         marks->front().chain_hash != chain))
      found.problems.push_back("the watermark of 001 does not match the log");
    auto verified = log->verify_projections(scratch_.str(), nullptr);
    if (!verified.ok()) found.problems.push_back("verify: " + verified.error().message());
    else if (verified->differences != 0)
      found.problems.push_back("verify: " + std::to_string(verified->differences) + " differences, first " +
                               verified->first.front().what);
    held_ = std::move(now);
  }

  TempDir dir_, scratch_;
  UnitMap map_;
  uint64_t seed_;
  bool synced_writes_;
  std::map<uint64_t, HeldEvent> held_;  // every event the log held at the last check, by seq
  uint64_t next_line_ = 1;              // makes every submitted line unique
  uint64_t open_writes_ = 40;           // write operations an open takes (measured)
  uint64_t submit_writes_ = 30;         // write operations a cycle's submits take (measured)
};

std::string describe(const CycleFindings& f) {
  std::ostringstream out;
  for (const std::string& p : f.problems) out << "\n  " << p;
  return out.str();
}

}  // namespace

TEST_CASE("EventLog power loss: acknowledged events survive a power loss at any write, once, "
          "and the projections verify clean",
          "[event_log][fault][power]") {
  const uint64_t seed = testing::env_number("ROLLCALL_POWER_SEED").value_or(1);
  const uint64_t cycles = testing::env_number("ROLLCALL_POWER_CYCLES").value_or(300);
  PowerLossRun run(seed, /*synced_writes=*/true);
  uint64_t acknowledged = 0, in_open = 0, in_write = 0, dropped = 0, deleted = 0, undone = 0;
  for (uint64_t c = 0; c < cycles; ++c) {
    const CycleFindings f = run.cycle(c);
    acknowledged += f.acknowledged;
    in_open += f.crashed_in_open;
    in_write += f.crashed_in_write;
    dropped += f.restored.bytes_dropped;
    deleted += f.restored.files_deleted;
    undone += f.restored.renames_undone;
    if (!f.problems.empty() || f.lost_acknowledged != 0) {
      FAIL("power loss seed " << seed << " cycle " << c << ": " << f.lost_acknowledged
                              << " acknowledged events lost" << describe(f) << "\nreplay: ROLLCALL_POWER_SEED="
                              << seed << " ROLLCALL_POWER_CYCLES=" << c + 1
                              << " rollcall_engine_tests '[power]'");
    }
  }
  std::printf("power loss: seed %llu, %llu cycles, %llu events acknowledged, %llu crashes in open, %llu in a "
              "submit, %llu unsynced bytes dropped, %llu unnamed files deleted, %llu renames undone\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(cycles),
              static_cast<unsigned long long>(acknowledged), static_cast<unsigned long long>(in_open),
              static_cast<unsigned long long>(in_write), static_cast<unsigned long long>(dropped),
              static_cast<unsigned long long>(deleted), static_cast<unsigned long long>(undone));
  // The cycles must really have lost power where it hurts, or they prove nothing.
  if (cycles >= 100) {
    CHECK(in_open > 0);
    CHECK(in_write > 0);
    CHECK(dropped > 0);
    CHECK(deleted > 0);
  }
}

TEST_CASE("EventLog power loss: the same cycles with synced writes off are caught losing "
          "acknowledged events",
          "[event_log][fault][power]") {
  const uint64_t seed = testing::env_number("ROLLCALL_POWER_SEED").value_or(1);
  PowerLossRun run(seed, /*synced_writes=*/false);
  constexpr uint64_t kMaxCycles = 20;
  uint64_t lost = 0, cycle = 0;
  for (; cycle < kMaxCycles && lost == 0; ++cycle) {
    const CycleFindings f = run.cycle(cycle);
    lost += f.lost_acknowledged;
  }
  std::printf("power loss, synced writes off: seed %llu, %llu acknowledged events lost in %llu cycles\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(lost),
              static_cast<unsigned long long>(cycle));
  REQUIRE(lost > 0);
}

TEST_CASE("PowerLossEnv: unsynced file data, unsynced names and undone renames are lost, and "
          "synced ones survive",
          "[power]") {
  TempDir dir;
  std::filesystem::create_directories(dir.str());
  PowerLossEnv power;
  rocksdb::Env* env = power.env();
  const std::string synced = dir.str() + "/synced", unnamed = dir.str() + "/unnamed";
  const std::string current = dir.str() + "/CURRENT", tmp = dir.str() + "/CURRENT.tmp";
  REQUIRE(rocksdb::WriteStringToFile(env, "old", current, /*should_sync=*/true).ok());
  std::unique_ptr<rocksdb::Directory> directory;
  REQUIRE(env->NewDirectory(dir.str(), &directory).ok());
  REQUIRE(directory->Fsync().ok());

  {
    std::unique_ptr<rocksdb::WritableFile> file;
    REQUIRE(env->NewWritableFile(synced, &file, rocksdb::EnvOptions()).ok());
    REQUIRE(file->Append("durable").ok());
    REQUIRE(file->Sync().ok());
    REQUIRE(directory->Fsync().ok());
    REQUIRE(file->Append(" and not").ok());
    REQUIRE(file->Close().ok());
  }
  REQUIRE(rocksdb::WriteStringToFile(env, "synced, never named", unnamed, /*should_sync=*/true).ok());
  REQUIRE(rocksdb::WriteStringToFile(env, "new", tmp, /*should_sync=*/true).ok());
  REQUIRE(env->RenameFile(tmp, current).ok());  // no directory fsync after it

  power.crash();
  CHECK_FALSE(rocksdb::WriteStringToFile(env, "x", dir.str() + "/after", false).ok());
  const auto report = power.restore();
  CHECK(report.errors.empty());
  std::string content;
  REQUIRE(rocksdb::ReadFileToString(rocksdb::Env::Default(), synced, &content).ok());
  CHECK(content == "durable");
  CHECK_FALSE(std::filesystem::exists(unnamed));
  CHECK_FALSE(std::filesystem::exists(dir.str() + "/after"));
  REQUIRE(rocksdb::ReadFileToString(rocksdb::Env::Default(), current, &content).ok());
  CHECK(content == "old");
  CHECK_FALSE(std::filesystem::exists(tmp));  // its own name was never durable either

  // Powered on again: a rename followed by a directory fsync is durable.
  REQUIRE(rocksdb::WriteStringToFile(env, "new", tmp, /*should_sync=*/true).ok());
  REQUIRE(env->RenameFile(tmp, current).ok());
  REQUIRE(directory->Fsync().ok());
  power.crash();
  REQUIRE(power.restore().errors.empty());
  REQUIRE(rocksdb::ReadFileToString(rocksdb::Env::Default(), current, &content).ok());
  CHECK(content == "new");
}

TEST_CASE("PowerLossEnv: a RocksDB write that reached the WAL unsynced is lost, a synced one "
          "survives",
          "[power]") {
  TempDir dir;
  PowerLossEnv power;
  rocksdb::Options options;
  options.create_if_missing = true;
  options.env = power.env();
  {
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(options, dir.str(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    rocksdb::WriteOptions synced, unsynced;
    synced.sync = true;
    REQUIRE(db->Put(synced, "a", "1").ok());
    REQUIRE(db->Put(unsynced, "b", "2").ok());  // in the WAL, in the page cache only
    power.crash();
  }
  const auto report = power.restore();
  CHECK(report.errors.empty());
  CHECK(report.bytes_dropped > 0);
  options.env = rocksdb::Env::Default();
  rocksdb::DB* raw = nullptr;
  REQUIRE(rocksdb::DB::Open(options, dir.str(), &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  std::string value;
  CHECK(db->Get(rocksdb::ReadOptions(), "a", &value).ok());
  CHECK(value == "1");
  CHECK(db->Get(rocksdb::ReadOptions(), "b", &value).IsNotFound());
}

}  // namespace rollcall
