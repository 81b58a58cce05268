// End-to-end tests of the projection commands (tally, member, members, verify, rebuild) against a
// real node holding the Ba Đình example year, checked against the tallies computed independently
// of rollcall in shared/examples/ba-dinh-2024.tallies.json.
#include <capnp/message.h>
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <rocksdb/write_batch.h>

#include "engine/keys.h"
#include "engine/store.h"
#include "tests/support/json_doc.h"
#include "tests/support/node_harness.h"
#include "tests/support/test_dirs.h"

using namespace rollcall::testing;

namespace {

const std::string kUnitsFile = units_2024();


std::optional<capnp::JsonValue::Reader> field(capnp::JsonValue::Reader object,
                                              const std::string& name) {
  if (!object.isObject()) return std::nullopt;
  for (auto f : object.getObject())
    if (name == f.getName().cStr()) return f.getValue();
  return std::nullopt;
}

std::map<std::string, int64_t> number_map(capnp::JsonValue::Reader object) {
  std::map<std::string, int64_t> out;
  for (auto f : object.getObject())
    out[f.getName().cStr()] = static_cast<int64_t>(f.getValue().getNumber());
  return out;
}

// The expected tallies of `unit` for `period` ("all", "2024-Q1", "asOf:2024-06-30").
std::map<std::string, int64_t> expected_tallies(const std::string& unit,
                                                const std::string& period) {
  JsonDoc expected(read_text(shared_dir() + "/examples/ba-dinh-2024.tallies.json"));
  auto by_period = field(expected.root(), unit);
  REQUIRE(by_period);
  auto metrics = field(*by_period, period);
  REQUIRE(metrics);
  return number_map(*metrics);
}

// The tally command's flags for an expected-file period name.
std::vector<std::string> period_args(const std::string& period) {
  if (period == "all") return {};
  if (period.starts_with("asOf:")) return {"--as-of", period.substr(5)};
  return {"--period", period};
}

// A province node (01, Hà Nội) that holds the Ba Đình example year: district 001 and its wards.
struct BaDinhNode {
  TempDir dir;
  NodeProcess node{"01", dir / "01", kUnitsFile};

  BaDinhNode() {
    REQUIRE(node.start());
    auto submitted =
        run_rollcall({"submit", "--quiet", "--node", node.address(), ba_dinh_events()});
    INFO(submitted.err);
    REQUIRE(submitted.exit_code == 0);
  }
  const std::string& data_dir() const { return node.data_dir(); }
};

const std::vector<std::string> kPeriods = {
    "all", "2024", "2024-H1", "2024-Q1", "2024-03", "asOf:2023-12-31", "asOf:2024-06-30"};

// "name value" rows of a text tally, after its header line.
std::map<std::string, int64_t> text_rows(const std::string& out) {
  std::map<std::string, int64_t> rows;
  auto lines = split_lines(out);
  for (size_t i = 1; i < lines.size(); ++i) {
    std::istringstream row(lines[i]);
    std::string name;
    int64_t value = 0;
    if (lines[i].starts_with("(")) continue;  // the note on members.inTransit
    REQUIRE(static_cast<bool>(row >> name >> value));
    rows[name] = value;
  }
  return rows;
}

}  // namespace

TEST_CASE(
    "rollcall tally: a province node gives district 001 of the Ba Dinh example its independently "
    "computed tallies for all time, each period and each as-of day, in JSON",
    "[cli][integration][tally]") {
  BaDinhNode n;
  for (const std::string& period : kPeriods) {
    std::vector<std::string> args = {"tally",      "--json", "--data-dir",
                                     n.data_dir(), "--unit", "001"};
    for (const auto& a : period_args(period)) args.push_back(a);
    auto result = run_rollcall(args);
    INFO(period << ": " << result.err);
    REQUIRE(result.exit_code == 0);
    REQUIRE(split_lines(result.out).size() == 1);
    JsonDoc out(result.out);
    CHECK(std::string(field(out.root(), "unit")->getString().cStr()) == "001");
    CHECK(std::string(field(out.root(), "name")->getString().cStr()) == "Quận Ba Đình");
    auto metrics = number_map(*field(out.root(), "metrics"));
    for (const auto& [metric, value] : expected_tallies("001", period)) {
      INFO(metric);
      REQUIRE(metrics.contains(metric));
      CHECK(metrics.at(metric) == value);
    }
    // Every dated metric is listed, 0 included; members.inTransit only over all time.
    CHECK(metrics.contains("members.honorary"));
    CHECK(metrics.contains("activity.digitalTeams.reports"));
    CHECK(metrics.contains("members.inTransit") == (period == "all"));
    if (period == "all") CHECK(metrics.at("members.inTransit") == 0);
  }

  auto quarter = run_rollcall(
      {"tally", "--json", "--data-dir", n.data_dir(), "--unit", "001", "--period", "2024-Q1"});
  CHECK_THAT(quarter.out,
             Catch::StartsWith(
                 R"({"unit":"001","name":"Quận Ba Đình","period":"2024-Q1","asOf":null,)"
                 R"("from":"2024-01-01","to":"2024-03-31","mapAsOf":null,"metrics":{"members.active":13,)"));
  auto as_of = run_rollcall(
      {"tally", "--json", "--data-dir", n.data_dir(), "--unit", "001", "--as-of", "2024-06-30"});
  CHECK_THAT(as_of.out,
             Catch::Contains(
                 R"("period":null,"asOf":"2024-06-30","from":"1900-01-01","to":"2024-06-30")"));
  auto one = run_rollcall({"tally", "--json", "--data-dir", n.data_dir(), "--unit", "00004",
                           "--metric", "members.active"});
  CHECK(
      one.out ==
      R"({"unit":"00004","name":"Phường Trúc Bạch","period":null,"asOf":null,"from":"1900-01-01",)"
      R"("to":"2199-12-31","mapAsOf":null,"metrics":{"members.active":)" +
          std::to_string(expected_tallies("00004", "all").at("members.active")) + "}}\n");
}

TEST_CASE(
    "rollcall tally: the text table names the unit and period, lists members.*, rewards, "
    "disciplines "
    "and the activity kinds in use, and notes that members.inTransit is all time only",
    "[cli][integration][tally]") {
  BaDinhNode n;
  for (const std::string& period :
       {std::string("2024-Q1"), std::string("asOf:2024-06-30"), std::string("all")}) {
    std::vector<std::string> args = {"tally", "--data-dir", n.data_dir(), "--unit", "001"};
    for (const auto& a : period_args(period)) args.push_back(a);
    auto result = run_rollcall(args);
    INFO(period << ": " << result.err);
    REQUIRE(result.exit_code == 0);
    auto rows = text_rows(result.out);
    const auto expected = expected_tallies("001", period);
    std::set<std::string> activity_rows, activity_expected;
    for (const auto& [metric, value] : expected) {
      INFO(metric);
      REQUIRE(rows.contains(metric));
      CHECK(rows.at(metric) == value);
      if (metric.starts_with("activity.")) activity_expected.insert(metric);
    }
    for (const auto& [metric, value] : rows)
      if (metric.starts_with("activity.")) activity_rows.insert(metric);
    CHECK(activity_rows == activity_expected);  // the file lists exactly the kinds that occur
    CHECK(rows.contains("members.trained"));
    CHECK(rows.contains("members.inTransit") == (period == "all"));
    const bool noted = result.out.find("members.inTransit is a current count") != std::string::npos;
    CHECK(noted == (period != "all"));
  }
  auto quarter =
      run_rollcall({"tally", "--data-dir", n.data_dir(), "--unit", "001", "--period", "2024-Q1"});
  CHECK_THAT(quarter.out,
             Catch::StartsWith(
                 "tally of 001 Quận Ba Đình, 2024-Q1 (2024-01-01..2024-03-31), at node 01\n"));
  auto as_of =
      run_rollcall({"tally", "--data-dir", n.data_dir(), "--unit", "001", "--as-of", "2024-06-30"});
  CHECK_THAT(as_of.out,
             Catch::StartsWith("tally of 001 Quận Ba Đình, as of 2024-06-30, at node 01\n"));
  auto all = run_rollcall({"tally", "--data-dir", n.data_dir(), "--unit", "01"});
  CHECK_THAT(all.out, Catch::StartsWith("tally of 01 Thành phố Hà Nội, all time, at node 01\n"));

  auto one = run_rollcall({"tally", "--data-dir", n.data_dir(), "--unit", "001", "--period",
                           "2024-H1", "--metric", "members.active"});
  CHECK(one.exit_code == 0);
  CHECK(one.out == "members.active " +
                       std::to_string(expected_tallies("001", "2024-H1").at("members.active")) +
                       "\n");
  auto unused = run_rollcall({"tally", "--data-dir", n.data_dir(), "--unit", "001", "--period",
                              "2024-Q1", "--metric", "activity.digitalTeams.count"});
  CHECK(unused.exit_code == 0);
  CHECK(unused.out ==
        "activity.digitalTeams.count 0\n");  // a kind without reports is still a metric
  auto transit = run_rollcall(
      {"tally", "--data-dir", n.data_dir(), "--unit", "001", "--metric", "members.inTransit"});
  CHECK(transit.exit_code == 0);
  CHECK(transit.out == "members.inTransit 0\n");
}

TEST_CASE(
    "rollcall tally: a bad period or day, both --period and --as-of, an unknown metric, "
    "members.inTransit "
    "over a period and a unit outside the map or the node's subtree each exit 2 naming the problem",
    "[cli][integration][tally]") {
  BaDinhNode n;
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--unit", "001", "--period", "2024-Q5"},
       "--period: period '2024-Q5' is not one of YYYY, YYYY-H1|H2, YYYY-Q1..Q4, YYYY-MM"},
      {{"--unit", "001", "--as-of", "2024-02-30"}, "--as-of: '2024-02-30' is not a real day"},
      {{"--unit", "001", "--as-of", "30/06/2024"}, "give a day YYYY-MM-DD"},
      {{"--unit", "001", "--period", "2024", "--as-of", "2024-06-30"},
       "--period and --as-of cannot be combined"},
      {{"--unit", "001", "--metric", "members.promoted"},
       "--metric 'members.promoted' is not a metric; `rollcall tally --help` lists them"},
      {{"--unit", "001", "--period", "2024", "--metric", "members.inTransit"},
       "members.inTransit is a current count"},
      {{"--unit", "99999"}, "unit 99999 is not in this node's map"},
      {{"--unit", "79"},
       "unit 79 (Thành phố Hồ Chí Minh) is outside this node's subtree: the node holds only the "
       "tallies and members of its subtree, rooted at 01 Thành phố Hà Nội"},
      {{"--unit", "VN"}, "outside this node's subtree"},
  };
  for (const auto& [flags, message] : cases) {
    std::vector<std::string> args = {"tally", "--data-dir", n.data_dir()};
    args.insert(args.end(), flags.begin(), flags.end());
    auto result = run_rollcall(args);
    INFO(flags.back());
    CHECK(result.exit_code == 2);
    CHECK(result.out.empty());
    CHECK_THAT(result.err, Catch::StartsWith("rollcall tally: ") && Catch::Contains(message));
  }
}

TEST_CASE(
    "rollcall member: shows a transferred member's unit, status, flags and history in text and "
    "JSON, "
    "and exits 1 for a member the node does not know",
    "[cli][integration][members]") {
  BaDinhNode n;
  auto text = run_rollcall({"member", "00025-000119", "--data-dir", n.data_dir()});
  INFO(text.err);
  REQUIRE(text.exit_code == 0);
  CHECK_THAT(text.out, Catch::StartsWith("member:  00025-000119\n"
                                         "name:    Hồ Tuấn Việt\n"
                                         "unit:    00022 Phường Đội Cấn\n"
                                         "status:  active\n"
                                         "since:   2024-01-20\n"
                                         "flags:   none\n"));
  auto lines = split_lines(text.out);
  REQUIRE(lines.size() == 11);  // 7 fields, the history's header and its 3 events
  CHECK(lines[6] == "history: 3 events, in registry order (date, origin, seq)");
  CHECK_THAT(lines[7], Catch::Matches("DATE +ID +KIND +UNIT +OTHER UNIT"));
  CHECK_THAT(lines[8], Catch::Matches("2022-11-23 +01:119 +memberAdmitted +00025"));
  CHECK_THAT(lines[9], Catch::Matches("2024-01-02 +01:161 +memberTransferredOut +00025 +00022"));
  CHECK_THAT(lines[10], Catch::Matches("2024-01-20 +01:169 +memberTransferredIn +00022 +00025"));

  auto json = run_rollcall({"member", "00025-000119", "--json", "--data-dir", n.data_dir()});
  REQUIRE(json.exit_code == 0);
  CHECK_THAT(json.out,
             Catch::StartsWith(
                 R"({"memberId":"00025-000119","fullName":"Hồ Tuấn Việt","unit":"00022",)"
                 R"("status":"active","since":"2024-01-20","toUnit":null,"workingAway":false,)"
                 R"("honorary":false,"outstanding":false,"history":[)"));
  JsonDoc parsed(json.out);
  auto history = field(parsed.root(), "history")->getArray();
  REQUIRE(history.size() == 3);
  CHECK(std::string(field(history[1], "kind")->getString().cStr()) == "memberTransferredOut");
  CHECK(std::string(field(history[1], "id")->getString().cStr()) == "01:161");
  CHECK(std::string(field(history[1], "otherUnit")->getString().cStr()) == "00022");
  CHECK(field(history[0], "otherUnit")->isNull());

  auto flagged = run_rollcall({"member", "00013-000121", "--data-dir", n.data_dir()});
  CHECK_THAT(flagged.out, Catch::Contains("flags:   workingAway, honorary\n"));

  auto unknown = run_rollcall({"member", "00004-999999", "--data-dir", n.data_dir()});
  CHECK(unknown.exit_code == 1);
  CHECK(unknown.out.empty());
  CHECK_THAT(unknown.err, Catch::Contains("no member 00004-999999 at this node"));
}

TEST_CASE(
    "rollcall members: a ward's members as a table with a count line and as JSON lines, filtered "
    "by "
    "status or flag, and a whole district with --subtree matching its members.active tally",
    "[cli][integration][members]") {
  BaDinhNode n;
  const int64_t ward_active = expected_tallies("00004", "all").at("members.active");
  auto table = run_rollcall(
      {"members", "--data-dir", n.data_dir(), "--unit", "00004", "--status", "active"});
  INFO(table.err);
  REQUIRE(table.exit_code == 0);
  auto lines = split_lines(table.out);
  REQUIRE(lines.size() == static_cast<size_t>(ward_active) + 2);  // header, rows, count
  CHECK_THAT(lines.front(), Catch::Matches("ID +NAME +STATUS +SINCE +FLAGS"));
  CHECK_THAT(lines[1], Catch::StartsWith("00004-") && Catch::Contains("  active  "));
  CHECK(lines.back() ==
        std::to_string(ward_active) + " members at 00004 Phường Trúc Bạch with status active");

  auto json = run_rollcall(
      {"members", "--json", "--data-dir", n.data_dir(), "--unit", "00004", "--status", "active"});
  REQUIRE(json.exit_code == 0);
  auto objects = split_lines(json.out);
  REQUIRE(objects.size() == static_cast<size_t>(ward_active));
  for (const auto& line : objects) {
    JsonDoc member(line);
    CHECK(std::string(field(member.root(), "unit")->getString().cStr()) == "00004");
    CHECK(std::string(field(member.root(), "status")->getString().cStr()) == "active");
  }

  const int64_t district_active = expected_tallies("001", "all").at("members.active");
  auto district = run_rollcall({"members", "--json", "--subtree", "--data-dir", n.data_dir(),
                                "--unit", "001", "--status", "active"});
  CHECK(split_lines(district.out).size() == static_cast<size_t>(district_active));
  auto own_only = run_rollcall({"members", "--data-dir", n.data_dir(), "--unit", "001"});
  CHECK(own_only.exit_code == 0);
  CHECK_THAT(own_only.out,
             Catch::StartsWith("0 members at 001 Quận Ba Đình") && Catch::Contains("--subtree"));

  auto honorary = run_rollcall({"members", "--subtree", "--data-dir", n.data_dir(), "--unit", "001",
                                "--status", "honorary"});
  CHECK_THAT(honorary.out,
             Catch::Contains("00013-000121") && Catch::Contains("workingAway, honorary"));
  CHECK_THAT(honorary.out,
             Catch::Contains(" members in the subtree of 001 Quận Ba Đình with status honorary"));

  auto bad = run_rollcall(
      {"members", "--data-dir", n.data_dir(), "--unit", "00004", "--status", "retired"});
  CHECK(bad.exit_code == 2);
  CHECK_THAT(
      bad.err,
      Catch::Contains("--status 'retired' is not one of active, transferredOut, matured, removed, "
                      "workingAway, honorary, outstanding"));
  auto outside = run_rollcall({"members", "--data-dir", n.data_dir(), "--unit", "79"});
  CHECK(outside.exit_code == 2);
  CHECK_THAT(outside.err, Catch::Contains("outside this node's subtree"));
}

TEST_CASE(
    "rollcall verify and rebuild: verify is clean on the running node, rebuild is refused until it "
    "stops, then rebuilds from the log and leaves verify clean, the tallies unchanged and the node "
    "able "
    "to start",
    "[cli][integration][verify]") {
  BaDinhNode n;
  const std::string scratch = n.dir / "scratch";
  std::filesystem::create_directories(scratch);

  auto verify = run_rollcall({"verify", "--data-dir", n.data_dir(), "--scratch-dir", scratch});
  INFO(verify.err);
  REQUIRE(verify.exit_code == 0);
  CHECK_THAT(
      verify.out,
      Catch::Matches(
          "verified: 400 events replayed, [0-9]+ projection keys compared, no differences\n"));
  auto verify_json =
      run_rollcall({"verify", "--json", "--data-dir", n.data_dir(), "--scratch-dir", scratch});
  CHECK(verify_json.exit_code == 0);
  CHECK_THAT(verify_json.out,
             Catch::Matches(R"(\{"events":400,"keys":[0-9]+,"differences":0,"first":\[\]\}\n)"));
  CHECK(std::filesystem::is_empty(scratch));  // the recomputation is removed afterwards

  std::vector<std::string> before;
  for (const std::string& period : kPeriods) {
    std::vector<std::string> args = {"tally",      "--json", "--data-dir",
                                     n.data_dir(), "--unit", "001"};
    for (const auto& a : period_args(period)) args.push_back(a);
    before.push_back(run_rollcall(args).out);
  }
  const std::string members_before =
      run_rollcall({"members", "--json", "--subtree", "--data-dir", n.data_dir(), "--unit", "01"})
          .out;

  auto refused = run_rollcall({"rebuild", "--data-dir", n.data_dir()});
  CHECK(refused.exit_code == 2);
  CHECK_THAT(refused.err, Catch::StartsWith("rollcall rebuild: stop rollcalld first"));
  CHECK(run_rollcall({"verify", "--data-dir", n.data_dir(), "--scratch-dir", scratch}).exit_code ==
        0);

  REQUIRE(n.node.stop() == 0);
  auto rebuilt = run_rollcall({"rebuild", "--data-dir", n.data_dir()});
  INFO(rebuilt.err);
  REQUIRE(rebuilt.exit_code == 0);
  CHECK_THAT(rebuilt.out, Catch::Matches("rebuilt the projections of unit 01 from 400 events in "
                                         "[0-9.]+ s \\([0-9]+ events/s\\)\n"));
  auto rebuilt_json = run_rollcall({"rebuild", "--json", "--data-dir", n.data_dir()});
  CHECK(rebuilt_json.exit_code == 0);
  CHECK_THAT(rebuilt_json.out, Catch::Matches(R"(\{"events":400,"seconds":[0-9.]+\}\n)"));
  CHECK(rebuilt_json.err.empty());  // no progress lines for a small log

  CHECK(run_rollcall({"verify", "--data-dir", n.data_dir(), "--scratch-dir", scratch}).exit_code ==
        0);
  for (size_t i = 0; i < kPeriods.size(); ++i) {
    std::vector<std::string> args = {"tally",      "--json", "--data-dir",
                                     n.data_dir(), "--unit", "001"};
    for (const auto& a : period_args(kPeriods[i])) args.push_back(a);
    INFO(kPeriods[i]);
    CHECK(run_rollcall(args).out == before[i]);
  }
  CHECK(run_rollcall({"members", "--json", "--subtree", "--data-dir", n.data_dir(), "--unit", "01"})
            .out == members_before);

  REQUIRE(n.node.start());  // the rebuilt dir opens as a writer again
  CHECK(run_rollcall({"verify", "--data-dir", n.data_dir(), "--scratch-dir", scratch}).exit_code ==
        0);
}

TEST_CASE(
    "rollcall verify: tampered tallies are listed as stored against recomputed up to the cap, the "
    "rest counted, with exit 1, and rebuild repairs them",
    "[cli][integration][verify]") {
  BaDinhNode n;
  REQUIRE(n.node.stop() == 0);
  const int64_t year_active = expected_tallies("001", "2024").at("members.active");
  {  // Tamper with the stored projections the way only a bug or a bad disk could.
    auto store =
        rollcall::Store::open(n.data_dir(), rollcall::Store::Mode::kWriter, /*create=*/false);
    REQUIRE(store.ok());
    rocksdb::WriteBatch batch;
    const auto tallies = (*store)->cf(rollcall::Cf::kTallies);
    batch.Put(tallies, rollcall::keys::tally_key("001", 'Y', 2024, "members.active"),
              rollcall::keys::encode_i64(999));
    for (uint32_t year = 2100; year < 2150; ++year)
      batch.Put(tallies, rollcall::keys::tally_key("00004", 'Y', year, "rewards"),
                rollcall::keys::encode_i64(1));
    REQUIRE((*store)->write(batch).ok());
  }
  const std::string scratch = n.dir / "scratch";
  std::filesystem::create_directories(scratch);

  auto text = run_rollcall({"verify", "--data-dir", n.data_dir(), "--scratch-dir", scratch});
  CHECK(text.exit_code == 1);
  auto lines = split_lines(text.out);
  CHECK_THAT(text.out, Catch::Contains("tally 001 2024 members.active: stored 999, recomputed " +
                                       std::to_string(year_active) + "\n"));
  CHECK_THAT(text.out, Catch::Contains("tally 00004 2100 rewards: stored 1, recomputed absent\n"));
  REQUIRE(lines.size() == 51 + 1);
  CHECK_THAT(
      lines.back(),
      Catch::Matches("verified: 400 events replayed, [0-9]+ projection keys compared, "
                     "51 differences; stop rollcalld and run `rollcall rebuild --data-dir .*` "
                     "to recompute them"));

  // Over the listed cap, the rest is counted.
  {
    auto store =
        rollcall::Store::open(n.data_dir(), rollcall::Store::Mode::kWriter, /*create=*/false);
    REQUIRE(store.ok());
    rocksdb::WriteBatch batch;
    for (uint32_t year = 2150; year < 2199; ++year)
      batch.Put((*store)->cf(rollcall::Cf::kTallies),
                rollcall::keys::tally_key("00004", 'Y', year, "rewards"),
                rollcall::keys::encode_i64(1));
    for (uint32_t month = 1; month <= 12; ++month)
      batch.Put((*store)->cf(rollcall::Cf::kTallies),
                rollcall::keys::tally_key("00004", 'M', 219900 + month, "rewards"),
                rollcall::keys::encode_i64(1));
    REQUIRE((*store)->write(batch).ok());
  }
  auto capped = run_rollcall({"verify", "--data-dir", n.data_dir(), "--scratch-dir", scratch});
  CHECK(capped.exit_code == 1);
  auto capped_lines = split_lines(capped.out);
  REQUIRE(capped_lines.size() == 100 + 2);
  CHECK(capped_lines[100] == "... and 12 more");
  CHECK_THAT(capped_lines[101], Catch::Contains("112 differences"));
  auto json =
      run_rollcall({"verify", "--json", "--data-dir", n.data_dir(), "--scratch-dir", scratch});
  CHECK(json.exit_code == 1);
  JsonDoc parsed(json.out);
  CHECK(field(parsed.root(), "differences")->getNumber() == 112);
  auto first = field(parsed.root(), "first")->getArray();
  REQUIRE(first.size() == 100);
  // Listed in key order (unit, then month before year buckets): 00004's months come first.
  CHECK(std::string(field(first[0], "what")->getString().cStr()) == "tally 00004 2199-01 rewards");
  CHECK(std::string(field(first[0], "stored")->getString().cStr()) == "1");
  CHECK(std::string(field(first[0], "recomputed")->getString().cStr()) == "absent");

  REQUIRE(run_rollcall({"rebuild", "--data-dir", n.data_dir()}).exit_code == 0);
  auto repaired = run_rollcall({"verify", "--data-dir", n.data_dir(), "--scratch-dir", scratch});
  CHECK(repaired.exit_code == 0);
  CHECK_THAT(repaired.out, Catch::EndsWith("no differences\n"));
}

TEST_CASE(
    "rollcall tally, member, members, verify and rebuild: a missing data dir exits 2 naming it",
    "[cli][tally][members][verify]") {
  TempDir dir;
  const std::string missing = dir / "nowhere";
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"tally", "--unit", "001", "--data-dir", missing},
                                             {"member", "00004-000001", "--data-dir", missing},
                                             {"members", "--unit", "001", "--data-dir", missing},
                                             {"verify", "--data-dir", missing},
                                             {"rebuild", "--data-dir", missing}}) {
    auto result = run_rollcall(args);
    INFO(args.front());
    CHECK(result.exit_code == 2);
    CHECK_THAT(result.err, Catch::StartsWith("rollcall " + args.front() +
                                             ": no rollcall data dir at '" + missing + "'"));
  }
  CHECK_FALSE(std::filesystem::exists(missing));  // rebuild does not create one
  auto no_unit = run_rollcall({"tally", "--data-dir", missing});
  CHECK(no_unit.exit_code == 2);
  CHECK_THAT(no_unit.err, Catch::Contains("--unit is required"));
}

TEST_CASE(
    "rollcall: --help of the projection commands describes periods, metrics, statuses and exit "
    "codes",
    "[cli]") {
  const std::vector<std::pair<std::string, std::vector<std::string>>> helps = {
      {"tally",
       {"YYYY-Q1..Q4", "--as-of", "members.inTransit", "activity.KIND.count", "leafletsDistributed",
        "Exit codes"}},
      {"member", {"transferredOut", "workingAway", "Exit codes: 0 shown; 1 no such member"}},
      {"members",
       {"active, transferredOut, matured, removed", "honorary", "--subtree", "Exit codes"}},
      {"verify", {"--scratch-dir", "Exit codes: 0 no differences; 1 differences found"}},
      {"rebuild", {"Needs the node stopped", "--units", "Exit codes"}},
  };
  for (const auto& [command, phrases] : helps) {
    auto result = run_rollcall({command, "--help"});
    INFO(command);
    CHECK(result.exit_code == 0);
    CHECK_THAT(result.out, Catch::Contains("Usage"));
    for (const auto& phrase : phrases) CHECK_THAT(result.out, Catch::Contains(phrase));
  }
}
