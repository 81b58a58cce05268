// End-to-end tests of the rollcall command line against a real node and its data dir.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/node_harness.h"
#include "tests/support/test_dirs.h"

using namespace rollcall::testing;

namespace {

std::string write_lines(const TempDir& dir, const std::string& name, const std::vector<std::string>& lines) {
  const std::string path = dir / name;
  std::ofstream out(path);
  for (const auto& line : lines) out << line << "\n";
  return path;
}


const std::vector<std::string> kGoodLines = {
    R"({"unit":"00001","effectiveDate":"2024-01-05","memberAdmitted":{"memberId":"00001-000001","fullName":"Trần Thị Bình","birthDate":"2003-02-11"}})",
    R"({"unit":"00004","effectiveDate":"2024-01-06","memberAdmitted":{"memberId":"00004-000001","fullName":"Lê Văn Cường","birthDate":"2002-08-30"}})",
    R"({"unit":"00001","effectiveDate":"2024-02-01","memberTransferredOut":{"memberId":"00001-000001","toUnit":"00004"}})",
    R"({"unit":"00004","effectiveDate":"2024-02-03","memberTransferredIn":{"memberId":"00001-000001","fromUnit":"00001"}})",
    R"({"unit":"00004","effectiveDate":"2024-02-10","activityReported":{"kind":"eidLevel2","count":119,"participants":8}})",
};

}  // namespace

TEST_CASE("rollcall submit: prints one origin:seq per line, and log tail --json shows them while "
          "the node runs", "[cli][integration]") {
  TempDir dir;
  NodeProcess node("001", dir / "001", units_2024());
  REQUIRE(node.start());
  auto result = run_command({rollcall_path(), "submit", "--node", node.address(), write_lines(dir, "in.jsonl", kGoodLines)});
  INFO(result.err);
  CHECK(result.exit_code == 0);
  CHECK(split_lines(result.out) == std::vector<std::string>{"001:1", "001:2", "001:3", "001:4", "001:5"});
  CHECK_THAT(result.err, Catch::Contains("5 accepted, 0 rejected"));

  auto tail = run_command({rollcall_path(), "log", "tail", "--json", "--data-dir", node.data_dir()});
  CHECK(tail.exit_code == 0);
  auto lines = split_lines(tail.out);
  REQUIRE(lines.size() == 5);
  CHECK_THAT(lines[0], Catch::StartsWith(R"({"lsn":1,"origin":"001","seq":1,"recordedAt":")"));
  CHECK_THAT(lines[0], Catch::Contains(R"("unit":"00001","effectiveDate":"2024-01-05","memberAdmitted":{"memberId":"00001-000001","fullName":"Trần Thị Bình","birthDate":"2003-02-11"}})"));
  CHECK_THAT(lines[4], Catch::Contains(R"("activityReported":{"kind":"eidLevel2","count":119,"participants":8})"));

  auto filtered = run_command({rollcall_path(), "log", "tail", "--data-dir", node.data_dir(), "--unit", "00004",
                               "--type", "memberTransferredIn"});
  CHECK(filtered.exit_code == 0);
  auto table = split_lines(filtered.out);
  REQUIRE(table.size() == 2);  // header + one event
  CHECK_THAT(table[1], Catch::Contains("001:4") && Catch::Contains("fromUnit=00001"));

  auto show = run_command({rollcall_path(), "log", "show", "001:3", "--data-dir", node.data_dir()});
  CHECK(show.exit_code == 0);
  CHECK_THAT(show.out, Catch::Contains("memberTransferredOut") && Catch::Contains("toUnit=00004"));
  auto show_json = run_command({rollcall_path(), "log", "show", "001:3", "--json", "--data-dir", node.data_dir()});
  CHECK_THAT(show_json.out, Catch::StartsWith(R"({"lsn":3,"origin":"001","seq":3,)"));
}

TEST_CASE("rollcall submit: a malformed line, an unknown unit and a second admission are each "
          "named, the other lines land and the exit status is 1", "[cli][integration]") {
  TempDir dir;
  NodeProcess node("001", dir / "001", units_2024());
  REQUIRE(node.start());
  std::vector<std::string> lines = kGoodLines;
  lines.insert(lines.begin() + 1, R"({"unit":"00001","effectiveDate":"2024-01-05","memberAdmitted":{"memberId":)");
  lines.insert(lines.begin() + 3, R"({"unit":"12345","effectiveDate":"2024-01-05","activityReported":{"kind":"forums","count":5,"participants":40}})");
  lines.push_back(kGoodLines[0]);  // the same admission again
  auto result = run_command({rollcall_path(), "submit", "--node", node.address(), write_lines(dir, "in.jsonl", lines)});
  CHECK(result.exit_code == 1);
  CHECK(split_lines(result.out) == std::vector<std::string>{"001:1", "001:2", "001:3", "001:4", "001:5"});
  CHECK_THAT(result.err, Catch::Contains("line 2: rejected (invalid): not valid JSON"));
  CHECK_THAT(result.err, Catch::Contains("line 4: rejected (unknownUnit): unit: unknown unit '12345'"));
  CHECK_THAT(result.err, Catch::Contains("line 8: rejected (domainRule): member 00001-000001 is already admitted"));
  CHECK_THAT(result.err, Catch::Contains("5 accepted, 3 rejected"));

  auto json = run_command({rollcall_path(), "submit", "--json", "--node", node.address(), write_lines(dir, "again.jsonl", {kGoodLines[1]})});
  CHECK(json.exit_code == 1);
  CHECK_THAT(json.out, Catch::Contains(R"({"line":1,"code":"domainRule","error":"member 00004-000001 is already admitted)"));
}

TEST_CASE("rollcall submit: reads standard input", "[cli][integration]") {
  TempDir dir;
  NodeProcess node("001", dir / "001", units_2024());
  REQUIRE(node.start());
  auto result = run_command({rollcall_path(), "submit", "--node", node.address(), "-"}, write_lines(dir, "in.jsonl", kGoodLines));
  CHECK(result.exit_code == 0);
  CHECK(split_lines(result.out).size() == 5);
}

TEST_CASE("rollcall submit: the whole Ba Dinh example is accepted line by line", "[cli][integration]") {
  TempDir dir;
  NodeProcess node("001", dir / "001", units_2024());
  REQUIRE(node.start());
  auto result = run_command({rollcall_path(), "submit", "--node", node.address(), ba_dinh_events()});
  INFO(result.err);
  CHECK(result.exit_code == 0);
  auto ids = split_lines(result.out);
  REQUIRE(ids.size() == 400);
  CHECK(ids.front() == "001:1");
  CHECK(ids.back() == "001:400");
}

TEST_CASE("rollcall: errors name the problem and exit 2 when a command cannot run", "[cli]") {
  TempDir dir;
  auto missing = run_command({rollcall_path(), "log", "tail", "--data-dir", dir / "nowhere"});
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.err, Catch::Contains("no rollcall data dir at") && Catch::Contains("nowhere"));

  auto unreachable = run_command({rollcall_path(), "submit", "--node", "127.0.0.1:1", "--timeout-ms", "2000", ba_dinh_events()});
  CHECK(unreachable.exit_code == 2);
  CHECK_THAT(unreachable.err, Catch::Contains("cannot reach node at 127.0.0.1:1"));

  auto no_file = run_command({rollcall_path(), "submit", "--node", "127.0.0.1:1", dir / "absent.jsonl"});
  CHECK(no_file.exit_code == 2);
  CHECK_THAT(no_file.err, Catch::Contains("cannot open"));

  auto bad_id = run_command({rollcall_path(), "log", "show", "001-7", "--data-dir", dir.path()});
  CHECK(bad_id.exit_code == 2);
  CHECK_THAT(bad_id.err, Catch::Contains("is not ORIGIN:SEQ"));

  auto level = run_command({rollcalld_path(), "--unit", "001", "--data-dir", dir / "d", "--units", units_2024(),
                            "--log-level", "loud"});
  CHECK(level.exit_code == 2);
  CHECK_THAT(level.err, Catch::Contains("log level 'loud'"));

  auto foreign = run_command({rollcalld_path(), "--unit", "XYZ", "--data-dir", dir / "d", "--units", units_2024()});
  CHECK(foreign.exit_code == 2);
  CHECK_THAT(foreign.err, Catch::Contains("--unit 'XYZ' is not a unit of"));

  auto usage = run_command({rollcall_path(), "log", "tail"});
  CHECK(usage.exit_code == 2);
  CHECK_THAT(usage.err, Catch::Contains("--data-dir is required"));
}

TEST_CASE("rollcall log: bad filters and absent events on a stopped node's data dir", "[cli][integration]") {
  TempDir dir;
  NodeProcess node("001", dir / "001", units_2024());
  REQUIRE(node.start());
  REQUIRE(run_command({rollcall_path(), "submit", "--node", node.address(), write_lines(dir, "in.jsonl", kGoodLines)}).exit_code == 0);
  REQUIRE(node.stop() == 0);

  auto type = run_command({rollcall_path(), "log", "tail", "--data-dir", node.data_dir(), "--type", "memberPromoted"});
  CHECK(type.exit_code == 2);
  CHECK_THAT(type.err, Catch::Contains("'memberPromoted' is not an event kind"));

  auto absent = run_command({rollcall_path(), "log", "show", "001:99", "--data-dir", node.data_dir()});
  CHECK(absent.exit_code == 1);
  CHECK_THAT(absent.err, Catch::Contains("no event 001:99"));

  auto tail = run_command({rollcall_path(), "log", "tail", "-n", "2", "--json", "--data-dir", node.data_dir()});
  CHECK(tail.exit_code == 0);
  auto lines = split_lines(tail.out);
  REQUIRE(lines.size() == 2);
  CHECK_THAT(lines[0], Catch::StartsWith(R"({"lsn":4,)"));
}

TEST_CASE("rollcall: --help of every command tells what it does", "[cli]") {
  for (const auto& argv : std::vector<std::vector<std::string>>{
           {"--help"}, {"submit", "--help"}, {"log", "--help"}, {"log", "tail", "--help"}, {"log", "show", "--help"},
           {"demo", "--help"}}) {
    std::vector<std::string> full = {rollcall_path()};
    full.insert(full.end(), argv.begin(), argv.end());
    auto result = run_command(full);
    INFO(argv.front());
    CHECK(result.exit_code == 0);
    CHECK_THAT(result.out, Catch::Contains("Usage"));
  }
  auto daemon = run_command({rollcalld_path(), "--help"});
  CHECK(daemon.exit_code == 0);
  CHECK_THAT(daemon.out, Catch::Contains("--parent") && Catch::Contains("SIGTERM"));
}

TEST_CASE("rollcall log tail --follow prints events as the running node appends them", "[cli][integration]") {
  TempDir dir;
  NodeProcess node("001", dir / "001", units_2024());
  REQUIRE(node.start());
  REQUIRE(run_command({rollcall_path(), "submit", "--node", node.address(),
                       write_lines(dir, "first.jsonl", {kGoodLines[0]})}).exit_code == 0);
  const std::string out = dir / "follow.out";
  auto follower = rollcall::cli::ChildProcess::spawn(
      {rollcall_path(), "log", "tail", "--follow", "--json", "--data-dir", node.data_dir()}, out);
  REQUIRE(follower.ok());
  auto lines_in = [&] {
    std::ifstream in(out);
    std::stringstream s;
    s << in.rdbuf();
    return split_lines(s.str());
  };
  for (int i = 0; i < 100 && lines_in().size() < 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  REQUIRE(lines_in().size() == 1);
  REQUIRE(run_command({rollcall_path(), "submit", "--node", node.address(),
                       write_lines(dir, "more.jsonl", {kGoodLines[1], kGoodLines[4]})}).exit_code == 0);
  for (int i = 0; i < 150 && lines_in().size() < 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto lines = lines_in();
  REQUIRE(lines.size() == 3);
  CHECK_THAT(lines[1], Catch::StartsWith(R"({"lsn":2,"origin":"001","seq":2,)"));
  CHECK_THAT(lines[2], Catch::Contains("eidLevel2"));
  CHECK(follower->stop() == 0);  // SIGTERM ends --follow cleanly
}

TEST_CASE("rollcalld: settings come from a TOML config file, flags win, unknown keys are named",
          "[cli][integration]") {
  TempDir dir;
  const std::string config = write_lines(dir, "node.toml", {
      "unit = \"002\"",
      "data_dir = \"" + (dir / "from-config") + "\"",
      "units = \"" + units_2024() + "\"",
      "listen = \"127.0.0.1:0\"",
      "min_free_mb = 0",
      "max_in_flight_mb = 64",
  });
  // --unit on the command line wins over the file's 002.
  NodeProcess node("001", dir / "from-flags", units_2024(), {"--config", config});
  REQUIRE(node.start());
  auto result = run_command({rollcall_path(), "submit", "--node", node.address(), write_lines(dir, "in.jsonl", {kGoodLines[0]})});
  CHECK(result.exit_code == 0);
  CHECK(split_lines(result.out) == std::vector<std::string>{"001:1"});
  CHECK(node.stop() == 0);

  // The file alone is enough.
  const std::string port_file = dir / "config-only.port";
  auto only = rollcall::cli::ChildProcess::spawn({rollcalld_path(), "--config", config, "--port-file", port_file},
                                                 dir / "config-only.log");
  REQUIRE(only.ok());
  auto port = only->wait_for_port_file(port_file, std::chrono::seconds(20));
  REQUIRE(port.ok());
  auto client = rollcall::NodeClient::connect("127.0.0.1:" + std::to_string(*port), std::chrono::seconds(5));
  REQUIRE(client.ok());
  CHECK((*client)->node_unit() == "002");
  CHECK(std::filesystem::exists(dir / "from-config"));
  CHECK(only->stop() == 0);

  const std::string bad = write_lines(dir, "bad.toml", {"unit = \"001\"", "listen_port = 7400"});
  auto refused = run_command({rollcalld_path(), "--config", bad});
  CHECK(refused.exit_code == 2);
  CHECK_THAT(refused.err, Catch::Contains("unknown key 'listen_port'"));
}

TEST_CASE("rollcall demo runs a province node, submits the Ba Dinh year and prints roll-ups that add up and verify",
          "[cli][integration]") {
  TempDir dir;
  auto demo = run_command({rollcall_path(), "demo", "--dir", dir / "demo"}, "", 120);
  INFO(demo.out << demo.err);
  REQUIRE(demo.exit_code == 0);
  CHECK_THAT(demo.out + demo.err, Catch::Contains("400 accepted, 0 rejected"));
  // The wards' sum, the district and the province agree with the independently computed file:
  // 193 active at the end of 2024 (all time: nothing is dated later), 40 admitted, 23 in and
  // out, 74 reports, 395 eID level 1.
  const std::string figures = "193        40  23   23       74        395";
  CHECK_THAT(demo.out, Catch::Contains("(sum of the wards)     " + figures));
  CHECK_THAT(demo.out, Catch::Contains("001    Quận Ba Đình           " + figures));
  CHECK_THAT(demo.out, Catch::Contains("01     Thành phố Hà Nội       " + figures));
  CHECK_THAT(demo.out, Catch::Contains("no differences"));
}
