// Property tests of the event log over seeded random schedules: whatever mix of good and bad
// lines, batch sizes, reopenings, resends and overlaps, the log's identities stay dense and
// exact. A failure prints its seed (INFO) so the schedule can be replayed.
#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "engine/content_hash.h"
#include "engine/event_log.h"
#include "tests/engine/event_log_fixture.h"

namespace rollcall {
namespace {

using namespace log_test;  // NOLINT(google-build-using-namespace): test helpers

// A line and whether the rules accept it, decided by construction.
struct Line {
  std::string json;
  bool valid;
};

class SubmitModel {
 public:
  explicit SubmitModel(uint32_t seed) : random_(seed) {}

  Line next() {
    const int pick = std::uniform_int_distribution<int>(0, 9)(random_);
    if (pick <= 2 || members_.empty()) {  // a new member
      const std::string id = "m" + std::to_string(next_member_++);
      members_.push_back(id);
      unit_of_[id] = unit();
      return {admit(unit_of_[id], id), true};  // new members are always accepted
    }
    const std::string& known = members_[std::uniform_int_distribution<size_t>(0, members_.size() - 1)(random_)];
    switch (pick) {
      case 3: return {rate(unit_of_.at(known), known), true};
      case 4: return {activity(unit(), pick), true};
      case 5: return {admit(unit_of_.at(known), known), false};       // admitted twice
      case 6: return {rate(unit_of_.at(known), "ghost-" + known), false};  // unknown member
      case 7: return {admit("99999", "x" + known), false};             // unknown unit
      case 8: return {admit("00037", "y" + known), false};             // outside the subtree
      default: return {activity(unit(), 1), true};
    }
  }
  // One of the node's two wards.
  std::string unit() { return std::uniform_int_distribution<int>(0, 1)(random_) ? "00001" : "00004"; }
  std::mt19937& random() { return random_; }

 private:
  std::mt19937 random_;
  std::vector<std::string> members_;
  std::map<std::string, std::string> unit_of_;
  int next_member_ = 0;
};

}  // namespace

TEST_CASE_METHOD(LogFixture,
                 "EventLog property: random submits with bad lines and reopenings keep seqs dense "
                 "and every accepted event findable",
                 "[event_log][property]") {
  for (uint32_t seed = 1; seed <= 25; ++seed) {
    INFO("seed " << seed);
    TempDir dir;
    SubmitModel model(seed);
    auto log = open(dir);
    std::vector<std::string> accepted_json;  // in seq order
    for (int round = 0; round < 12; ++round) {
      const int n = std::uniform_int_distribution<int>(1, 30)(model.random());
      Events batch;
      std::vector<Line> lines;
      for (int i = 0; i < n; ++i) {
        Line line = model.next();
        batch.add(line.json);
        lines.push_back(line);
      }
      const auto outcomes = log->submit(batch.all(), kNow);
      REQUIRE(outcomes.size() == lines.size());
      for (size_t i = 0; i < lines.size(); ++i) {
        INFO(lines[i].json);
        INFO((outcomes[i].rejected ? outcomes[i].rejected->message : std::string()));
        REQUIRE(outcomes[i].accepted.has_value() == lines[i].valid);
        if (!lines[i].valid) continue;
        accepted_json.push_back(lines[i].json);
        CHECK(*outcomes[i].accepted == OriginSeq{code("001"), accepted_json.size()});
      }
      if (std::uniform_int_distribution<int>(0, 3)(model.random()) == 0) {
        log.reset();
        log = open(dir);  // reopen: positions come back from disk
      }
    }
    const auto held = read_all(*log);
    REQUIRE(held.size() == accepted_json.size());
    uint64_t chain = 0;
    for (size_t i = 0; i < held.size(); ++i) {
      auto e = held[i].event();
      REQUIRE(held[i].lsn == Lsn{i + 1});
      REQUIRE(e.getSeq() == i + 1);
      chain = chain_hash(chain, event_content_hash(e));
      auto found = log->find(OriginSeq{code("001"), i + 1});
      REQUIRE(found.ok());
      REQUIRE(found->has_value());
      CHECK(event_content_hash((*found)->event()) == event_content_hash(e));
    }
    if (!held.empty()) CHECK(watermark_of(*log, "001")->chain_hash == chain);
    CHECK(log->next_own_seq() == held.size() + 1);
  }
}

TEST_CASE_METHOD(LogFixture,
                 "EventLog property: relayed batches in any split, with resends, overlaps and "
                 "refused gaps, leave the parent holding each child event once",
                 "[event_log][property]") {
  for (uint32_t seed = 1; seed <= 15; ++seed) {
    INFO("seed " << seed);
    std::mt19937 random(seed);
    // Two children with their own logs.
    TempDir dir_a, dir_b, dir_parent;
    std::vector<std::unique_ptr<EventLog>> children;
    children.push_back(open(dir_a, "00001"));
    children.push_back(open(dir_b, "00004"));
    const char* const origins[] = {"00001", "00004"};
    std::vector<std::vector<LoggedEvent>> child_events(2);
    for (size_t c = 0; c < 2; ++c) {
      const int n = std::uniform_int_distribution<int>(20, 60)(random);
      for (int i = 0; i < n; i += 10) {
        Events batch;
        for (int k = i; k < std::min(n, i + 10); ++k) batch.add(activity(origins[c], k));
        submit_all(*children[c], batch.all());
      }
      child_events[c] = read_all(*children[c]);
    }
    auto parent = open(dir_parent, "001");
    std::vector<uint64_t> held(2, 0);  // what the parent holds of each origin
    int guard = 0;
    while ((held[0] < child_events[0].size() || held[1] < child_events[1].size()) && ++guard < 500) {
      const size_t c = std::uniform_int_distribution<size_t>(0, 1)(random);
      const auto& all = child_events[c];
      // Start anywhere up to two past the parent's watermark: resends, overlaps and gaps.
      const uint64_t start = std::uniform_int_distribution<uint64_t>(1, held[c] + 2)(random);
      const uint64_t length = std::uniform_int_distribution<uint64_t>(1, 12)(random);
      if (start > all.size()) continue;
      std::vector<schema::Event::Reader> batch;
      for (uint64_t seq = start; seq < start + length && seq <= all.size(); ++seq)
        batch.push_back(all[seq - 1].event());
      const Lsn before = parent->last_lsn();
      auto report = parent->ingest(batch);
      if (start > held[c] + 1) {
        REQUIRE_FALSE(report.ok());
        CHECK(report.error().kind() == ErrorKind::kProtocol);
        CHECK(parent->last_lsn() == before);  // all or nothing
        continue;
      }
      REQUIRE(report.ok());
      const uint64_t end = start + batch.size() - 1;
      const uint64_t fresh = end > held[c] ? end - held[c] : 0;
      CHECK(report->applied == fresh);
      CHECK(report->duplicates == batch.size() - fresh);
      held[c] = std::max(held[c], end);
    }
    REQUIRE(held[0] == child_events[0].size());
    REQUIRE(held[1] == child_events[1].size());
    CHECK(parent->last_lsn().value == child_events[0].size() + child_events[1].size());
    for (size_t c = 0; c < 2; ++c) {
      CHECK(watermark_of(*parent, origins[c])->chain_hash == watermark_of(*children[c], origins[c])->chain_hash);
      for (const auto& e : child_events[c]) {
        auto found = parent->find(OriginSeq{code(origins[c]), e.event().getSeq()});
        REQUIRE(found.ok());
        REQUIRE(found->has_value());
        CHECK(event_content_hash((*found)->event()) == event_content_hash(e.event()));
      }
    }
  }
}

}  // namespace rollcall
