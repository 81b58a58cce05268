// End-to-end tests of the rollcall command line against a real node and its data dir.
#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "tests/support/node_harness.h"
#include "tests/support/test_dirs.h"

using namespace rollcall::testing;


TEST_CASE("rollcall submit: prints one origin:seq per line, and log tail --json shows them while "
          "the node runs", "[cli][integration]") {
  TempDir dir;
  NodeProcess node("001", dir / "001", units_2024());
  REQUIRE(node.start());
  auto result = run_command({rollcall_path(), "submit", "--node", node.address(), write_lines(dir, "in.jsonl", sample_submit_lines())});
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
  std::vector<std::string> lines = sample_submit_lines();
  lines.insert(lines.begin() + 1, R"({"unit":"00001","effectiveDate":"2024-01-05","memberAdmitted":{"memberId":)");
  lines.insert(lines.begin() + 3, R"({"unit":"12345","effectiveDate":"2024-01-05","activityReported":{"kind":"forums","count":5,"participants":40}})");
  lines.push_back(sample_submit_lines()[0]);  // the same admission again
  auto result = run_command({rollcall_path(), "submit", "--node", node.address(), write_lines(dir, "in.jsonl", lines)});
  CHECK(result.exit_code == 1);
  CHECK(split_lines(result.out) == std::vector<std::string>{"001:1", "001:2", "001:3", "001:4", "001:5"});
  CHECK_THAT(result.err, Catch::Contains("line 2: rejected (invalid): not valid JSON"));
  CHECK_THAT(result.err, Catch::Contains("line 4: rejected (unknownUnit): unit: unknown unit '12345'"));
  CHECK_THAT(result.err, Catch::Contains("line 8: rejected (domainRule): member 00001-000001 is already admitted"));
  CHECK_THAT(result.err, Catch::Contains("5 accepted, 3 rejected"));

  auto json = run_command({rollcall_path(), "submit", "--json", "--node", node.address(), write_lines(dir, "again.jsonl", {sample_submit_lines()[1]})});
  CHECK(json.exit_code == 1);
  CHECK_THAT(json.out, Catch::Contains(R"({"line":1,"code":"domainRule","error":"member 00004-000001 is already admitted)"));
}

TEST_CASE("rollcall submit: reads standard input", "[cli][integration]") {
  TempDir dir;
  NodeProcess node("001", dir / "001", units_2024());
  REQUIRE(node.start());
  auto result = run_command({rollcall_path(), "submit", "--node", node.address(), "-"}, write_lines(dir, "in.jsonl", sample_submit_lines()));
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
  REQUIRE(run_command({rollcall_path(), "submit", "--node", node.address(), write_lines(dir, "in.jsonl", sample_submit_lines())}).exit_code == 0);
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
           {"demo", "--help"}, {"units", "--help"}, {"export", "--help"}, {"import", "--help"}, {"status", "--help"}}) {
    std::vector<std::string> full = {rollcall_path()};
    full.insert(full.end(), argv.begin(), argv.end());
    auto result = run_command(full);
    INFO(argv.front());
    CHECK(result.exit_code == 0);
    CHECK_THAT(result.out, Catch::Contains("Usage"));
  }
  auto daemon = run_command({rollcalld_path(), "--help"});
  CHECK(daemon.exit_code == 0);
  CHECK_THAT(daemon.out, Catch::Contains("--parent") && Catch::Contains("SIGTERM") && Catch::Contains("--http") &&
                            Catch::Contains("--request-window-events"));
}

TEST_CASE("rollcall log tail --follow prints events as the running node appends them", "[cli][integration]") {
  TempDir dir;
  NodeProcess node("001", dir / "001", units_2024());
  REQUIRE(node.start());
  REQUIRE(run_command({rollcall_path(), "submit", "--node", node.address(),
                       write_lines(dir, "first.jsonl", {sample_submit_lines()[0]})}).exit_code == 0);
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
                       write_lines(dir, "more.jsonl", {sample_submit_lines()[1], sample_submit_lines()[4]})}).exit_code == 0);
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
      "plaintext = true",
  });
  // --unit on the command line wins over the file's 002.
  NodeProcess node("001", dir / "from-flags", units_2024(), {"--config", config});
  REQUIRE(node.start());
  auto result = run_command({rollcall_path(), "submit", "--node", node.address(), write_lines(dir, "in.jsonl", {sample_submit_lines()[0]})});
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

namespace {

// The pid in a "== started rollcalld for ..." line of the demo.
pid_t started_pid(const std::string& line) { return std::stoi(line.substr(line.find("(pid ") + 5)); }

// The cells of a text table's row: runs of text split by two or more spaces.
std::vector<std::string> cells(const std::string& row) {
  std::vector<std::string> out;
  size_t at = row.find_first_not_of(' ');
  while (at != std::string::npos) {
    size_t end = row.find("  ", at);
    out.push_back(row.substr(at, end == std::string::npos ? std::string::npos : end - at));
    at = end == std::string::npos ? end : row.find_first_not_of(' ', end);
  }
  return out;
}

}  // namespace

TEST_CASE("rollcall demo: ten nodes of real units on loopback take a year of events, one ward's link is cut and "
          "returns, and the roll-ups at VN equal what the submitted files hold, the same at every level",
          "[cli][integration]") {
  TempDir dir;
  const std::string work = dir / "demo";
  auto demo = run_command({rollcall_path(), "demo", "--dir", work}, "", 180);
  INFO(demo.out << demo.err);
  REQUIRE(demo.exit_code == 0);
  const auto lines = split_lines(demo.out);
  // The lines that start with `prefix` and contain `part`.
  const auto matching = [&lines](const std::string& prefix, const std::string& part = "") {
    std::vector<std::string> out;
    for (const auto& l : lines)
      if (l.starts_with(prefix) && l.find(part) != std::string::npos) out.push_back(l);
    return out;
  };
  const auto line = [&](const std::string& prefix, const std::string& part = "") {
    auto all = matching(prefix, part);
    return all.empty() ? std::string() : all.front();
  };
  const auto address = [](const std::string& s) {
    const size_t at = s.find(" on 127.0.0.1:") + 4;
    return s.substr(at, s.find_first_of(", ", at) - at);
  };

  // Ten nodes, the top first; each district's parent is the province, each ward's a proxy to its
  // district (so that its link can be cut).
  const auto started = matching("== started rollcalld for ");
  REQUIRE(started.size() == 10);
  CHECK_THAT(started[0], Catch::StartsWith("== started rollcalld for VN ") && !Catch::Contains("parent"));
  CHECK_THAT(started[1], Catch::Contains("01    Thành phố Hà Nội") && Catch::Contains(", parent VN "));
  CHECK_THAT(started[2], Catch::Contains("001   Quận Ba Đình") && Catch::Contains(", parent 01 "));
  CHECK_THAT(started[3], Catch::Contains("002   Quận Hoàn Kiếm") && Catch::Contains(", parent 01 "));
  CHECK_THAT(line("== started rollcalld for 00001 "), Catch::Contains("Phường Phúc Xá") && Catch::Contains(", parent 001 through link 127.0.0.1:"));
  CHECK_THAT(line("== started rollcalld for 00037 "), Catch::Contains("Phường Phúc Tân") && Catch::Contains(", parent 002 through link 127.0.0.1:"));

  // Two submits at each ward, every line accepted.
  for (const auto& s : std::vector<std::string>(started.begin() + 4, started.end())) {
    const std::string node = s.substr(25, 5) + " at " + address(s);
    size_t submits = 0;
    for (const auto& e : split_lines(demo.err))
      if (e.find("(node " + node + ")") != std::string::npos) {
        ++submits;
        CHECK_THAT(e, Catch::Contains(", 0 rejected"));
      }
    CHECK(submits == 2);
  }
  CHECK(matching("   every level holds them all, ").size() == 1);

  // With 00037's link cut: its district and everything above hold less of it than it has.
  const auto cut_row = [&](size_t which) { return cells(matching("   00037  Phường Phúc Tân  ")[which]); };
  REQUIRE(matching("   00037  Phường Phúc Tân  ").size() == 5);  // holdings, roll-ups, holdings, roll-ups... see below
  const auto held_cut = cut_row(1);  // the holdings table while cut: ward, name, own, at 002, at 01, at VN
  REQUIRE(held_cut.size() == 6);
  CHECK(std::stoi(held_cut[3]) < std::stoi(held_cut[2]));
  CHECK(held_cut[3] == held_cut[5]);
  CHECK_THAT(demo.out, Catch::Contains("origins VN holds whose node is not connected to the tree now") &&
                           Catch::Contains("   00037 Phường Phúc Tân: holds seq " + held_cut[3]));
  // Once it returns, every node holds all of it.
  const auto held_after = cut_row(3);
  REQUIRE(held_after.size() == 6);
  CHECK(held_after[3] == held_after[2]);
  CHECK(held_after[5] == held_after[2]);
  CHECK(matching("   every level holds every event, ").size() == 1);

  // The final roll-ups at VN against the files the demo submitted, counted here: admissions,
  // transfers in and out, maturings, ratings and reports dated 2024; nothing in transit.
  std::map<std::string, int> counted;
  for (const auto& entry : std::filesystem::directory_iterator(work))
    if (entry.path().extension() == ".jsonl") {
      std::ifstream in(entry.path());
      for (std::string l; std::getline(in, l);) {
        if (l.find("\"effectiveDate\":\"2024-") == std::string::npos) continue;
        for (const char* type : {"memberAdmitted", "memberTransferredIn", "memberTransferredOut", "memberMatured",
                                 "memberRated", "activityReported"})
          if (l.find(std::string("\"") + type + "\":") != std::string::npos) ++counted[type];
      }
    }
  REQUIRE(counted["memberAdmitted"] > 0);
  REQUIRE(counted["memberTransferredIn"] > 0);
  const auto final_vn = cells(matching("   VN     Trung ương Đoàn  ").back());
  REQUIRE(final_vn.size() == 10);  // unit, name, active, admitted, in, out, matured, rated, in transit, reports
  CHECK(std::stoi(final_vn[3]) == counted["memberAdmitted"]);
  CHECK(std::stoi(final_vn[4]) == counted["memberTransferredIn"]);
  CHECK(std::stoi(final_vn[5]) == counted["memberTransferredOut"]);
  CHECK(std::stoi(final_vn[6]) == counted["memberMatured"]);
  CHECK(std::stoi(final_vn[7]) == counted["memberRated"]);
  CHECK(final_vn[8] == "0");
  CHECK(std::stoi(final_vn[9]) == counted["activityReported"]);
  // The province is the whole of VN's tree here.
  auto final_01 = cells(matching("   01     Thành phố Hà Nội  ").back());
  final_01[0] = final_vn[0], final_01[1] = final_vn[1];
  CHECK(final_01 == final_vn);
  // And VN agrees with rollcall tally run afresh on its data dir.
  auto tally = run_rollcall({"tally", "--data-dir", work + "/VN", "--unit", "VN", "--period", "2024", "--json"});
  CHECK(tally.exit_code == 0);
  CHECK_THAT(tally.out, Catch::Contains("\"members.admitted\":" + final_vn[3]));

  // Every ward's and district's figures are the same at every node above it; the tree's status
  // shows all ten; verify is clean at every node; every node exits 0 and none is left running.
  CHECK_THAT(demo.out, Catch::Contains("   identical: 22 unit and node pairs"));
  CHECK_THAT(demo.out, Catch::Contains("10 nodes answered"));
  const auto verified = matching("   ", " verified: ");
  CHECK(verified.size() == 10);
  for (const auto& v : verified) CHECK_THAT(v, Catch::EndsWith("no differences"));
  CHECK_THAT(demo.out, Catch::Contains("children first: 00043 exit 0, 00040 exit 0, 00037 exit 0, 00006 exit 0, "
                                       "00004 exit 0, 00001 exit 0, 002 exit 0, 001 exit 0, 01 exit 0, VN exit 0"));
  for (const auto& s : started) CHECK(kill(started_pid(s), 0) == -1);
  for (const char* unit : {"VN", "01", "001", "002", "00001", "00043"}) CHECK(std::filesystem::exists(work + "/" + unit));
}

TEST_CASE("rollcall demo refuses a --dir that is not empty (its data dirs would take the year twice)",
          "[cli]") {
  TempDir dir;
  std::ofstream(dir / "earlier") << "x";
  auto demo = run_command({rollcall_path(), "demo", "--dir", dir.path()}, "", 30);
  CHECK(demo.exit_code == 2);
  CHECK_THAT(demo.err, Catch::Contains("--dir " + dir.path() + " is not empty"));
  CHECK_THAT(demo.out, !Catch::Contains("== started"));
}

TEST_CASE("rollcall demo: SIGINT (Ctrl-C) while it runs stops every node, children first, and exits 130",
          "[cli][integration]") {
  TempDir dir;
  const std::string log = dir / "demo.log";
  auto demo = rollcall::cli::ChildProcess::spawn({rollcall_path(), "demo", "--dir", dir / "demo"}, log);
  REQUIRE(demo.ok());
  const auto read_log = [&log] {
    std::ifstream in(log);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (read_log().find("== started rollcalld for 00043 ") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  REQUIRE_THAT(read_log(), Catch::Contains("== started rollcalld for 00043 "));  // the last node, mid-run
  REQUIRE(kill(demo->pid(), SIGINT) == 0);
  CHECK(demo->wait(std::chrono::seconds(60)) == 130);
  const std::string out = read_log();
  INFO(out);
  CHECK_THAT(out, Catch::Contains("== interrupted\n== stopping the nodes with SIGTERM, children first: 00043 exit 0"));
  CHECK_THAT(out, Catch::Contains("01 exit 0, VN exit 0"));
  size_t pids = 0;
  for (const auto& l : split_lines(out))
    if (l.starts_with("== started rollcalld for ")) {
      ++pids;
      CHECK(kill(started_pid(l), 0) == -1);
    }
  CHECK(pids == 10);
}
