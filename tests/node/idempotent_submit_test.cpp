// Idempotent submit through real processes: `rollcall submit` of a file whose lines carry
// requestIds, interrupted by kill -9 of the node, sent again after the restart. Every line maps
// to one origin:seq, and the log and tallies hold each line once (DESIGN "Identity and storage").
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "tests/support/json_doc.h"
#include "tests/support/node_harness.h"
#include "tests/support/test_dirs.h"
#include "tests/support/tree_checks.h"

using namespace rollcall;
using namespace rollcall::testing;

namespace {

const UnitCode kDistrict = UnitCode::trusted("001");

// A file of `members` admissions with a report and a rating each, spread over two wards, every
// line with its own requestId; written in an order the member rules accept.
std::string write_requested_file(const std::string& path, int members) {
  std::ofstream out(path);
  for (int i = 0; i < members; ++i) {
    const std::string ward = i % 2 == 0 ? "00001" : "00004";
    const std::string member = ward + "-r" + std::to_string(i);
    const std::string n = std::to_string(i);
    out << R"({"requestId":"admit-)" << n << R"(","unit":")" << ward
        << R"(","effectiveDate":"2024-03-01","memberAdmitted":{"memberId":")" << member
        << R"(","fullName":"Trần Thị Lan","birthDate":"2001-05-02"}})" << "\n";
    out << R"({"requestId":"report-)" << n << R"(","unit":")" << ward
        << R"(","effectiveDate":"2024-05-01","activityReported":{"kind":"eidLevel1","count":)" << (i % 7 + 1)
        << R"(,"participants":3}})" << "\n";
    out << R"({"requestId":"rate-)" << n << R"(","unit":")" << ward
        << R"(","effectiveDate":"2024-12-20","memberRated":{"memberId":")" << member
        << R"(","year":2024,"rating":"good"}})" << "\n";
  }
  return path;
}

// line number -> origin:seq, from `rollcall submit --json`; every line must be accepted.
std::map<uint64_t, std::string> ids_of(const CommandResult& run) {
  std::map<uint64_t, std::string> ids;
  for (const std::string& line : split_lines(run.out)) {
    JsonDoc doc(line);
    uint64_t number = 0;
    std::string id;
    for (auto field : doc.root().getObject()) {
      const std::string name = field.getName();
      if (name == "line") number = static_cast<uint64_t>(field.getValue().getNumber());
      if (name == "id") id = field.getValue().getString();
      if (name == "error") FAIL("line rejected: " << line);
    }
    ids[number] = id;
  }
  return ids;
}

// How many events the data dir's log holds.
uint64_t event_count(const std::string& dir) {
  auto log = open_log_reader(dir);
  auto events = log->read(Lsn{1}, 1u << 22);
  REQUIRE(events.ok());
  return events->size();
}

}  // namespace

TEST_CASE("rollcalld: a file with requestIds sent again after kill -9 interrupted its submit maps every line to one origin:seq, appended once",
          "[node][integration][fault]") {
  TempDir dir;
  constexpr int kMembers = 10000;  // 30,000 lines: about half a second of submitting
  const std::string file = write_requested_file(dir / "requested.jsonl", kMembers);
  const uint64_t lines = 3 * kMembers;

  // The reference: the same file submitted once at a node that is never killed.
  NodeProcess reference("001", dir / "reference", units_2024());
  REQUIRE(reference.start());
  const auto reference_run = run_rollcall({"submit", "--json", "--node", reference.address(), file});
  REQUIRE(reference_run.exit_code == 0);
  REQUIRE(reference.stop() == 0);

  NodeProcess node("001", dir / "node", units_2024());
  std::mt19937 random(20261203);
  std::vector<std::map<uint64_t, std::string>> answered_before_kill;
  int cut_short = 0;  // cycles that left the log holding part of the file
  // Each cycle sends the whole file and kills the node at a random moment while it does; the
  // first cycles interrupt appends, the later ones runs that are mostly repeats.
  for (int cycle = 0; cycle < 4; ++cycle) {
    REQUIRE(node.start());
    CommandResult interrupted;
    const uint64_t held_before = watermark_of(node.data_dir(), kDistrict);
    std::atomic<bool> done{false};
    std::thread submitter([&] {
      interrupted = run_rollcall({"submit", "--json", "--node", node.address(), file});
      done = true;
    });
    // Kill while the file is being appended (however slow this build is to start), or, once it
    // all is, at a random moment of a run that is mostly repeats.
    const auto deadline =
        std::chrono::steady_clock::now() +
        (held_before < lines ? std::chrono::milliseconds(30000)
                             : std::chrono::milliseconds(std::uniform_int_distribution<int>(50, 500)(random)));
    while (!done && std::chrono::steady_clock::now() < deadline) {
      const uint64_t held = watermark_of(node.data_dir(), kDistrict);
      if (held > held_before && held < lines) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 30)(random)));
    node.kill9();
    submitter.join();
    INFO("cycle " << cycle << ": submit exited " << interrupted.exit_code << "\n" << interrupted.err);
    CHECK((interrupted.exit_code == 0 || interrupted.exit_code == 2));
    answered_before_kill.push_back(ids_of(interrupted));
    const uint64_t held = event_count(node.data_dir());
    CHECK(held <= lines);
    cut_short += held > 0 && held < lines;
  }
  // The kills interrupted appends, not only repeats (else the test proves less than it says).
  CHECK(cut_short > 0);

  // Once more, to the end: every line is accepted; those appended before are repeats.
  REQUIRE(node.start());
  const auto final_run = run_rollcall({"submit", "--json", "--node", node.address(), file});
  INFO(final_run.err);
  REQUIRE(final_run.exit_code == 0);
  const auto ids = ids_of(final_run);
  REQUIRE(ids.size() == lines);
  // Every line has its own id: nothing was appended twice.
  std::set<std::string> distinct;
  for (const auto& [line, id] : ids) distinct.insert(id);
  CHECK(distinct.size() == lines);
  // Whatever a run was answered before its node was killed is what the final run answers.
  size_t answered = 0;
  for (const auto& earlier : answered_before_kill) {
    for (const auto& [line, id] : earlier) {
      CAPTURE(line);
      CHECK(ids.at(line) == id);
      ++answered;
    }
  }
  CHECK(answered > 0);
  // ... and a last run, all repeats, gives the same ids.
  const auto repeat_run = run_rollcall({"submit", "--json", "--node", node.address(), file});
  REQUIRE(repeat_run.exit_code == 0);
  CHECK(ids_of(repeat_run) == ids);
  CHECK(repeat_run.err.find(std::to_string(lines) + " of them already appended before") != std::string::npos);
  REQUIRE(node.stop() == 0);

  // The log holds each line once, and the tallies are those of the file submitted once.
  CHECK(event_count(node.data_dir()) == lines);
  CHECK(watermark_of(node.data_dir(), kDistrict) == lines);
  CHECK(all_time_tally(node.data_dir(), kDistrict) == all_time_tally(reference.data_dir(), kDistrict));
  CHECK(all_time_tally(node.data_dir(), UnitCode::trusted("00004")) ==
        all_time_tally(reference.data_dir(), UnitCode::trusted("00004")));
  auto log = open_log_reader(node.data_dir());
  TempDir scratch;
  auto report = log->verify_projections(scratch.path(), nullptr);
  REQUIRE(report.ok());
  CHECK(report->differences == 0);
}
