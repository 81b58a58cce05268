// The projections are written in the events' own WriteBatch: a kill -9 in the middle of a large
// stream of submits can lose only unacknowledged writes, never leave tallies that disagree with
// the log. And a rebuild killed halfway leaves the data dir refused until a rebuild completes.
#include <catch2/catch.hpp>

#include <signal.h>

#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "cli/child_process.h"

#include "engine/event_log.h"
#include "tests/support/node_harness.h"
#include "tests/support/test_dirs.h"

using namespace rollcall;
using namespace rollcall::testing;

namespace {

const char* const kWards[] = {"00001", "00004", "00006", "00007", "00008", "00013", "00016"};

// Submits messages of mixed events until the node goes away: admissions, transfers of members
// admitted in the previous message, ratings, activity reports and retractions of earlier reports.
void submit_until_killed(NodeProcess& node, int cycle, std::atomic<uint64_t>& acknowledged) {
  auto client = NodeClient::connect(node.address(), std::chrono::seconds(5));
  if (!client.ok()) return;
  std::mt19937_64 rng(static_cast<uint64_t>(cycle));
  const auto ward = [&] { return std::string(kWards[rng() % std::size(kWards)]); };
  std::vector<std::pair<std::string, std::string>> previous;  // member, ward
  std::vector<std::string> reports;                          // ids of acknowledged reports
  for (int message = 0; message < 400; ++message) {
    std::vector<std::string> lines;
    std::vector<std::pair<std::string, std::string>> admitted;
    for (int i = 0; i < 100; ++i) {
      const std::string member = "c" + std::to_string(cycle) + "-" + std::to_string(message) + "-" + std::to_string(i);
      const std::string at = ward();
      admitted.emplace_back(member, at);
      lines.push_back(R"({"unit":")" + at + R"(","effectiveDate":"2024-0)" + std::to_string(1 + i % 9) +
                      R"(-1)" + std::to_string(i % 10) + R"(","memberAdmitted":{"memberId":")" + member +
                      R"(","fullName":"Trần Thị Bích","birthDate":"2003-02-14"}})");
    }
    for (const auto& [member, at] : previous) {
      const std::string to = ward();
      if (to == at || rng() % 3 != 0) {
        lines.push_back(R"({"unit":")" + at + R"(","effectiveDate":"2024-12-20","memberRated":{"memberId":")" +
                        member + R"(","year":2024,"rating":"excellent"}})");
        continue;
      }
      lines.push_back(R"({"unit":")" + at + R"(","effectiveDate":"2024-10-01","memberTransferredOut":{"memberId":")" +
                      member + R"(","toUnit":")" + to + R"("}})");
      lines.push_back(R"({"unit":")" + to + R"(","effectiveDate":"2024-10-03","memberTransferredIn":{"memberId":")" +
                      member + R"(","fromUnit":")" + at + R"("}})");
    }
    const size_t first_report = lines.size();
    lines.push_back(R"({"unit":")" + ward() + R"(","effectiveDate":"2024-11-0)" + std::to_string(1 + message % 9) +
                    R"(","activityReported":{"kind":"eidLevel2","count":)" + std::to_string(10 + message) +
                    R"(,"participants":4}})");
    if (!reports.empty() && message % 4 == 0) {
      lines.push_back(R"({"unit":"001","effectiveDate":"2024-11-20","eventRetracted":{"ref":")" + reports.back() + R"("}})");
      reports.pop_back();
    }
    std::vector<LineOutcome> outcomes;
    try {
      outcomes = submit_lines(**client, lines);
    } catch (...) {
      return;
    }
    if (outcomes.size() != lines.size()) return;  // the node went away
    for (const auto& o : outcomes) acknowledged += o.accepted ? 1 : 0;
    if (outcomes[first_report].accepted) reports.push_back(outcomes[first_report].id);
    previous = std::move(admitted);
  }
}

}  // namespace

TEST_CASE("rollcalld: after kill -9 in the middle of a large stream of submits the projections verify clean, and a rebuild killed halfway is finished by the next",
          "[node][fault][tally]") {
  TempDir dir;
  NodeProcess node("001", dir / "001", units_2024());
  std::mt19937 rng(7);
  std::atomic<uint64_t> acknowledged{0};
  for (int cycle = 0; cycle < 3; ++cycle) {
    REQUIRE(node.start());
    std::thread submitter([&] { submit_until_killed(node, cycle, acknowledged); });
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 700));
    node.kill9();
    submitter.join();
  }
  REQUIRE(acknowledged > 1000);
  auto log = EventLog::open_reader(dir / "001");
  REQUIRE(log.ok());
  CHECK((*log)->last_lsn().value >= acknowledged);
  auto report = (*log)->verify_projections(dir.path(), nullptr);
  REQUIRE(report.ok());
  CHECK(report->events == (*log)->last_lsn().value);
  std::string listed;
  for (const auto& d : report->first) listed += d.what + ": stored " + d.stored + ", recomputed " + d.recomputed + "\n";
  INFO(listed);
  CHECK(report->differences == 0);
  // And the operator's command says the same.
  auto verify = run_command({rollcall_path(), "verify", "--data-dir", dir / "001"});
  INFO(verify.out << verify.err);
  CHECK(verify.exit_code == 0);
  CHECK_THAT(verify.out, Catch::Contains("no differences"));
  // Kill a rebuild once it has marked the data dir (seen through a reader, as an operator's
  // `rollcall verify` would), some way into its replay: rollcalld then refuses the data dir. The
  // wait after the mark shrinks on each try, so one kill lands inside the replay however fast or
  // slow this build is (a sanitizer build is many times slower to start and to run).
  const auto timed_start = std::chrono::steady_clock::now();
  REQUIRE(run_command({rollcall_path(), "rebuild", "--data-dir", dir / "001"}).exit_code == 0);
  const auto whole = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - timed_start);
  const auto marked = [&] {
    auto reader = EventLog::open_reader(dir / "001");
    return reader.ok() && !(*reader)->projections_current().ok();
  };
  bool refused = false;
  // SIGKILL the rebuild; true when rollcalld then refuses the data dir (the kill landed inside
  // the replay), otherwise the node served and stopped again.
  const auto kill_and_try_node = [&](cli::ChildProcess& rebuild) {
    ::kill(rebuild.pid(), SIGKILL);
    rebuild.wait();
    if (!node.start()) {
      CHECK_THAT(node.log(), Catch::Contains("rollcall rebuild"));
      return true;
    }
    REQUIRE(node.stop() == 0);
    return false;
  };
  for (int percent : {40, 20, 10, 0, 0}) {
    auto rebuild = cli::ChildProcess::spawn({rollcall_path(), "rebuild", "--data-dir", dir / "001"}, dir / "rebuild.log");
    REQUIRE(rebuild.ok());
    const auto give_up = std::chrono::steady_clock::now() + whole * 4 + std::chrono::seconds(10);
    bool seen = false;
    while (!seen && std::chrono::steady_clock::now() < give_up) {
      seen = marked();
      if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (seen) std::this_thread::sleep_for(whole * percent / 100);
    if ((refused = kill_and_try_node(*rebuild))) break;
  }
  // Opening a reader to see the mark can take longer than the whole replay (under ASan most of a
  // rebuild is the process starting): then sweep kill times from the spawn, in steps of 4% of a
  // timed rebuild, so one of them falls inside the replay.
  for (int percent = 20; !refused && percent <= 120; percent += 4) {
    auto rebuild = cli::ChildProcess::spawn({rollcall_path(), "rebuild", "--data-dir", dir / "001"}, dir / "rebuild.log");
    REQUIRE(rebuild.ok());
    std::this_thread::sleep_for(whole * percent / 100);
    if ((refused = kill_and_try_node(*rebuild))) break;
  }
  REQUIRE(refused);
  auto finished = run_command({rollcall_path(), "rebuild", "--data-dir", dir / "001"});
  INFO(finished.out << finished.err);
  REQUIRE(finished.exit_code == 0);
  auto again = run_command({rollcall_path(), "verify", "--data-dir", dir / "001"});
  CHECK(again.exit_code == 0);
  // The node opens again: its projections are current.
  REQUIRE(node.start());
  CHECK(node.stop() == 0);
}
