// End-to-end tests of the operator commands: log tail's filters, units, export and import, and
// status --tree, on real nodes and their data dirs, with their --json shapes and exit codes.
#include <catch2/catch.hpp>

#include <fstream>
#include <regex>

#include "tests/support/json_doc.h"
#include "tests/support/node_harness.h"
#include "tests/support/test_dirs.h"
#include "tests/support/tree_checks.h"

using namespace rollcall;
using namespace rollcall::testing;

namespace {

capnp::JsonValue::Reader field(capnp::JsonValue::Reader object, const std::string& name) {
  REQUIRE(object.isObject());
  for (auto f : object.getObject())
    if (name == f.getName().cStr()) return f.getValue();
  FAIL("no field " << name);
  return object;
}

// A node 001 holding sample_submit_lines() (001:1..5), running.
struct RunningNode {
  TempDir dir;
  NodeProcess node{"001", dir / "001", units_2024()};
  RunningNode() {
    REQUIRE(node.start());
    auto client = NodeClient::connect(node.address(), std::chrono::seconds(5));
    REQUIRE(client.ok());
    for (const auto& outcome : submit_lines(**client, sample_submit_lines())) REQUIRE(outcome.accepted);
  }
};

std::vector<std::string> ids_in(const std::string& json_lines) {
  std::vector<std::string> ids;
  for (const auto& line : split_lines(json_lines)) {
    JsonDoc doc(line);
    ids.push_back(std::string(field(doc.root(), "origin").getString().cStr()) + ":" +
                  std::to_string(static_cast<uint64_t>(field(doc.root(), "seq").getNumber())));
  }
  return ids;
}

}  // namespace

TEST_CASE("rollcall log tail: filters by a unit's subtree, member, origin and effective dates, and names bad ones",
          "[cli][integration]") {
  RunningNode n;
  const std::string dir = n.node.data_dir();
  auto tail = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"log", "tail", "--json", "--data-dir", dir});
    return run_rollcall(args);
  };
  CHECK(ids_in(tail({"--unit", "00004"}).out) == std::vector<std::string>{"001:2", "001:4", "001:5"});
  CHECK(ids_in(tail({"--unit", "001"}).out).empty());
  CHECK(ids_in(tail({"--unit", "001", "--subtree"}).out).size() == 5);
  // A member's events wherever they were recorded: the admission and both transfer halves.
  CHECK(ids_in(tail({"--member", "00001-000001"}).out) == std::vector<std::string>{"001:1", "001:3", "001:4"});
  CHECK(ids_in(tail({"--from", "2024-02-01", "--to", "2024-02-03"}).out) == std::vector<std::string>{"001:3", "001:4"});
  CHECK(ids_in(tail({"--origin", "001", "--type", "activityReported"}).out) == std::vector<std::string>{"001:5"});
  // And the text table, on the stopped node's data dir too.
  REQUIRE(n.node.stop() == 0);
  auto text = run_rollcall({"log", "tail", "--data-dir", dir, "--member", "00004-000001"});
  CHECK(text.exit_code == 0);
  CHECK_THAT(text.out, Catch::Contains("001:2") && Catch::Contains("memberAdmitted"));

  for (const auto& [args, message] :
       std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--subtree"}, "--subtree needs --unit"},
           {{"--unit", "99999", "--subtree"}, "unknown unit '99999'"},
           {{"--unit", "99999"}, "unknown unit '99999'"},
           {{"--origin", "99999"}, "--origin: unknown unit '99999'"},
           {{"--from", "2024-13-01"}, "--from"},
           {{"--from", "2024-03-01", "--to", "2024-02-01"}, "--from 2024-03-01 is after --to 2024-02-01"}}) {
    auto bad = tail(args);
    CAPTURE(args);
    CHECK(bad.exit_code == 2);
    CHECK_THAT(bad.err, Catch::Contains(message));
  }
}

TEST_CASE("rollcall units: the map as a tree with the units below each, members active and data as of, from a "
          "data dir or a units file",
          "[cli][integration]") {
  RunningNode n;
  auto tree = run_rollcall({"units", "--data-dir", n.node.data_dir(), "--depth", "1"});
  INFO(tree.out << tree.err);
  REQUIRE(tree.exit_code == 0);
  CHECK(std::regex_search(tree.out, std::regex(R"(\n001 +Quận Ba Đình +district +ward 13 +2 +20\d\d-)")));
  CHECK(std::regex_search(tree.out, std::regex(R"(\n  00004 +Phường Trúc Bạch +ward +2\n)")));
  CHECK_THAT(tree.out, Catch::Contains("14 units shown of the 14 in the subtree of 001 Quận Ba Đình"));

  auto json = run_rollcall({"units", "--json", "--data-dir", n.node.data_dir(), "--unit", "00001"});
  REQUIRE(json.exit_code == 0);
  const auto lines = split_lines(json.out);
  REQUIRE(lines.size() == 1);
  JsonDoc doc(lines[0]);
  CHECK(std::string(field(doc.root(), "name").getString().cStr()) == "Phường Phúc Xá");
  CHECK(std::string(field(doc.root(), "parent").getString().cStr()) == "001");
  CHECK(field(doc.root(), "membersActive").getNumber() == 0);  // its member moved to 00004
  CHECK(field(doc.root(), "dataAsOf").isNull());                // no node of its own

  auto national = run_rollcall({"units", "--units", units_2024(), "--depth", "0"});
  CHECK(national.exit_code == 0);
  CHECK_THAT(national.out, Catch::Contains("province 63, district 696, ward 10035"));

  for (const auto& [args, message] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"units"}, "give --data-dir DIR"},
           {{"units", "--data-dir", n.dir / "nowhere"}, "no rollcall data dir"},
           {{"units", "--units", units_2024(), "--unit", "99999"}, "unknown unit '99999'"}}) {
    auto bad = run_rollcall(args);
    CAPTURE(args);
    CHECK(bad.exit_code == 2);
    CHECK_THAT(bad.err, Catch::Contains(message));
  }
}

TEST_CASE("rollcall export and import: a node's log carried to another node, idempotent by origin:seq, forks and "
          "foreign events refused, to a running node and into a stopped one's data dir",
          "[cli][integration]") {
  RunningNode n;
  const std::string file = n.dir / "001.jsonl";
  auto exported = run_rollcall({"export", "--data-dir", n.node.data_dir(), "-o", file});
  INFO(exported.err);
  REQUIRE(exported.exit_code == 0);
  CHECK_THAT(exported.err, Catch::Contains("5 events of 1 origin from node 001"));
  CHECK(ids_in(read_text(file)) == std::vector<std::string>{"001:1", "001:2", "001:3", "001:4", "001:5"});

  // Into the province's node, running: then again (nothing new), then a forked copy.
  NodeProcess province("01", n.dir / "01", units_2024());
  REQUIRE(province.start());
  auto first = run_rollcall({"import", "--node", province.address(), file});
  INFO(first.err);
  CHECK(first.exit_code == 0);
  CHECK_THAT(first.err, Catch::Contains("5 lines read, 5 events imported, 0 already held (node 01)"));
  auto again = run_rollcall({"import", "--json", "--node", province.address(), file});
  CHECK(again.exit_code == 0);
  JsonDoc summary(again.out);
  CHECK(field(summary.root(), "applied").getNumber() == 0);
  CHECK(field(summary.root(), "duplicates").getNumber() == 5);
  CHECK(field(summary.root(), "error").isNull());
  std::string forked = read_text(file);
  forked.replace(forked.find("\"count\":119"), 11, "\"count\":120");
  std::ofstream(n.dir / "forked.jsonl") << forked;
  auto fork = run_rollcall({"import", "--node", province.address(), n.dir / "forked.jsonl"});
  CHECK(fork.exit_code == 1);
  CHECK_THAT(fork.err, Catch::Contains("lines 1..5 not imported") && Catch::Contains("fork: origin 001 seq 5"));
  // The province holds each event once, with the district's content, and tallies them.
  CHECK(exactly_once_problems(province.data_dir(), {{UnitCode::trusted("001"), 5}}, {{UnitCode::trusted("001"), n.node.data_dir()}})
            .empty());
  CHECK(all_time_tally(province.data_dir(), UnitCode::trusted("001")) ==
        all_time_tally(n.node.data_dir(), UnitCode::trusted("001")));

  // Events outside a node's subtree are refused: the district's log into another district.
  NodeProcess other("002", n.dir / "002", units_2024());
  REQUIRE(other.start());
  auto foreign = run_rollcall({"import", "--node", other.address(), file});
  CHECK(foreign.exit_code == 1);
  CHECK_THAT(foreign.err, Catch::Contains("is not from the subtree of 002"));
  REQUIRE(other.stop() == 0);

  // Into a stopped node's data dir; refused while the node runs.
  auto busy = run_rollcall({"import", "--data-dir", province.data_dir(), file});
  CHECK(busy.exit_code == 2);
  CHECK_THAT(busy.err, Catch::Contains("the node runs: import with --node"));
  NodeProcess city("01", n.dir / "01-copy", units_2024());
  REQUIRE(city.start());
  REQUIRE(city.stop() == 0);
  auto offline = run_rollcall({"import", "--data-dir", city.data_dir(), file});
  INFO(offline.err);
  CHECK(offline.exit_code == 0);
  CHECK(watermark_of(city.data_dir(), UnitCode::trusted("001")) == 5);

  // Bad input: lines of submit (no origin), bad JSON, neither target, an unreachable node.
  std::ofstream(n.dir / "submitted.jsonl") << sample_submit_lines()[4] << "\n";
  auto unnumbered = run_rollcall({"import", "--node", province.address(), n.dir / "submitted.jsonl"});
  CHECK(unnumbered.exit_code == 1);
  CHECK_THAT(unnumbered.err, Catch::Contains("line 1: an imported event needs its origin and seq"));
  std::ofstream(n.dir / "broken.jsonl") << "{not json\n";
  auto broken = run_rollcall({"import", "--node", province.address(), n.dir / "broken.jsonl"});
  CHECK(broken.exit_code == 1);
  CHECK_THAT(broken.err, Catch::Contains("line 1:"));
  CHECK(run_rollcall({"import", file}).exit_code == 2);
  auto unreachable = run_rollcall({"import", "--node", "127.0.0.1:1", file});
  CHECK(unreachable.exit_code == 2);
  CHECK_THAT(unreachable.err, Catch::Contains("127.0.0.1:1"));
  auto missing = run_rollcall({"export", "--data-dir", n.dir / "nowhere"});
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.err, Catch::Contains("no rollcall data dir"));
  auto only = run_rollcall({"export", "--data-dir", n.node.data_dir(), "--origin", "00001"});
  CHECK(only.exit_code == 0);
  CHECK(only.out.empty());
}

TEST_CASE("rollcall status --tree: every node of a chain asked in turn, with its link and lag, and a child that "
          "went away listed as not connected",
          "[cli][integration]") {
  TempDir dir;
  NodeProcess top("VN", dir / "vn", units_2024());
  REQUIRE(top.start());
  NodeProcess city("01", dir / "01", units_2024(), {"--parent", top.address()});
  REQUIRE(city.start());
  NodeProcess district("001", dir / "001", units_2024(), {"--parent", city.address()});
  REQUIRE(district.start());
  {
    auto client = NodeClient::connect(district.address(), std::chrono::seconds(5));
    REQUIRE(client.ok());
    for (const auto& outcome : submit_lines(**client, sample_submit_lines())) REQUIRE(outcome.accepted);
  }
  REQUIRE(wait_for_watermarks(top.data_dir(), {{UnitCode::trusted("001"), 5}}, std::chrono::seconds(20)));

  auto tree = run_rollcall({"status", "--tree", "--data-dir", top.data_dir()});
  INFO(tree.out << tree.err);
  REQUIRE(tree.exit_code == 0);
  CHECK_THAT(tree.out, Catch::StartsWith("VN Trung ương Đoàn, at " + top.address()));
  CHECK(std::regex_search(tree.out, std::regex("└─ 01 Thành phố Hà Nội, connected since [^,]+, 0 behind, at " +
                                               city.address())));
  CHECK(std::regex_search(tree.out, std::regex("   └─ 001 Quận Ba Đình, connected since [^,]+, 0 behind, data as "
                                               "of [0-9]+s ago, at " + district.address())));
  CHECK_THAT(tree.out, Catch::Contains("3 nodes answered"));

  auto json = run_rollcall({"status", "--tree", "--json", "--node", top.address()});
  REQUIRE(json.exit_code == 0);
  JsonDoc doc(json.out);
  CHECK(field(doc.root(), "nodesReached").getNumber() == 3);
  auto city_json = field(field(doc.root(), "top"), "children").getArray()[0];
  CHECK(std::string(field(city_json, "unit").getString().cStr()) == "01");
  CHECK(field(city_json, "lagEvents").getNumber() == 0);
  auto district_json = field(city_json, "children").getArray()[0];
  CHECK(field(district_json, "reachable").getBoolean());
  CHECK(field(district_json, "forks").getNumber() == 0);

  // The district goes away: it is no longer in the tree, and its origin is listed as stale.
  REQUIRE(district.stop() == 0);
  auto cut = run_rollcall({"status", "--tree", "--node", top.address()});
  INFO(cut.out);
  CHECK(cut.exit_code == 0);
  CHECK_THAT(cut.out, Catch::Contains("2 nodes answered"));
  CHECK(std::regex_search(cut.out, std::regex("origins VN holds whose node is not connected to the tree now[^\\n]*\\n   "
                                              "001: holds seq 5, data as of ")));  // --node alone: codes, no names

  auto down = run_rollcall({"status", "--tree", "--node", "127.0.0.1:1"});
  CHECK(down.exit_code == 2);
  CHECK_THAT(down.err, Catch::Contains("cannot reach node at 127.0.0.1:1"));
}

TEST_CASE("rollcall: every command exits 2 naming the problem for a missing data dir, an unreachable node, an "
          "unknown unit and a bad period, on a running node's data dir and a stopped one's",
          "[cli][integration]") {
  RunningNode n;
  const std::string dir = n.node.data_dir();
  const std::string lines = n.dir / "lines.jsonl";
  {
    std::ofstream out(lines);
    for (const auto& l : sample_submit_lines()) out << l << "\n";
  }
  const auto expect = [](const std::vector<std::string>& args, const std::string& message) {
    auto result = run_rollcall(args);
    CAPTURE(args, result.out, result.err);
    CHECK(result.exit_code == 2);
    CHECK_THAT(result.err, Catch::StartsWith("rollcall ") && Catch::Contains(message));
  };
  const std::string nowhere = n.dir / "nowhere";
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"log", "tail"}, {"log", "show", "001:1"}, {"tally", "--unit", "001"},
        {"member", "00001-000001"}, {"members", "--unit", "001"}, {"units"}, {"status"}, {"status", "--tree"},
        {"export"}, {"verify"}, {"rebuild"}, {"import", lines}}) {
    auto args = command;
    args.insert(args.end(), {"--data-dir", nowhere});
    expect(args, "no rollcall data dir at '" + nowhere + "'");
  }
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"submit", lines}, {"import", lines}, {"status"}}) {
    auto args = command;
    args.insert(args.end(), {"--node", "127.0.0.1:1", "--timeout-ms", "2000"});
    expect(args, "cannot reach node at 127.0.0.1:1");
  }
  // Unknown units and bad periods, while the node runs and after it stopped.
  for (bool running : {true, false}) {
    CAPTURE(running);
    if (!running) REQUIRE(n.node.stop() == 0);
    for (const std::vector<std::string>& command :
         {std::vector<std::string>{"tally", "--unit", "99999"}, {"members", "--unit", "99999"},
          {"units", "--unit", "99999"}, {"log", "tail", "--unit", "99999"}, {"export", "--origin", "99999"}}) {
      auto args = command;
      args.insert(args.end(), {"--data-dir", dir});
      expect(args, "99999");
    }
    expect({"tally", "--unit", "001", "--period", "2024-Q5", "--data-dir", dir}, "period '2024-Q5'");
    expect({"tally", "--unit", "001", "--as-of", "2024-02-30", "--data-dir", dir}, "--as-of");
    expect({"log", "tail", "--to", "2024-00-10", "--data-dir", dir}, "--to");
    // And the same commands with good arguments succeed, with their JSON shapes.
    auto tally = run_rollcall({"tally", "--unit", "001", "--period", "2024", "--json", "--data-dir", dir});
    CHECK(tally.exit_code == 0);
    JsonDoc doc(tally.out);
    CHECK(std::string(field(doc.root(), "unit").getString().cStr()) == "001");
    CHECK(field(field(doc.root(), "metrics"), "members.admitted").getNumber() == 2);
    auto units = run_rollcall({"units", "--unit", "001", "--json", "--data-dir", dir});
    CHECK(units.exit_code == 0);
    CHECK_THAT(units.out, Catch::Contains("\"code\":\"00004\""));
  }
}
