// /metrics of a running 3-level tree: ward 00001 -> district 001 (through a LinkProxy) -> the
// city of Hà Nội 01, every node with --http. Each node's exposition passes Prometheus's own
// `promtool check metrics` (Debian's prometheus package; CI installs it, a missing one fails),
// its families are exactly those docs/metrics.txt documents (names, types, labels), and the
// figures move as the link is cut and healed: the ward's unsent events grow while the district
// is out of reach and drain to 0 after, the district's data of the ward grows old, and the
// appended, relayed, bytes and latency counters count what really went through.
// Threads: the test's own; the nodes are child processes.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "cli/link_proxy.h"
#include "cli/ports.h"
#include "tests/support/node_harness.h"
#include "tests/support/test_dirs.h"
#include "tests/support/tree_checks.h"

using namespace rollcall;
using namespace rollcall::testing;
using rollcall::cli::free_port_below_ephemeral;
using rollcall::cli::LinkProxy;
using namespace std::chrono_literals;

namespace {

const UnitCode kWard = UnitCode::trusted("00001");

std::vector<std::string> admissions(int first, int count) {
  std::vector<std::string> lines;
  for (int i = first; i < first + count; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "%06d", i);
    lines.push_back(R"({"unit":"00001","effectiveDate":"2024-03-02","memberAdmitted":{"memberId":"00001-)" +
                    std::string(id) + R"(","fullName":"Trần Thị Bình","birthDate":"2003-05-01"}})");
  }
  return lines;
}

// A node with its HTTP port.
struct HttpNode {
  uint16_t http = 0;
  std::unique_ptr<NodeProcess> process;

  HttpNode(const std::string& unit, const std::string& dir, std::vector<std::string> args) {
    http = free_port_below_ephemeral();
    args.insert(args.end(), {"--http", "127.0.0.1:" + std::to_string(http)});
    process = std::make_unique<NodeProcess>(unit, dir, units_2024(), std::move(args));
  }
  std::string metrics() const {
    const auto answer = http_get(http, "/metrics");
    REQUIRE(answer.status == 200);
    return answer.body;
  }
  double value(const std::string& name, const std::string& labels) const {
    const auto v = metric_value(metrics(), name, labels);
    INFO(name << "{" << labels << "}");
    REQUIRE(v.has_value());
    return *v;
  }
};

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return condition();
}

// `promtool check metrics` on one exposition: its exit code and what it said.
CommandResult promtool_check(const TempDir& dir, const std::string& name, const std::string& text) {
  const std::string file = dir / (name + ".prom");
  {
    std::ofstream out(file);
    out << text;
  }
  return run_command({"/usr/bin/promtool", "check", "metrics"}, file, 30);
}

// What an exposition or docs/metrics.txt says of each family: its type and label names
// (without unit and le).
struct Family {
  std::string type;
  std::set<std::string> labels;
  bool operator==(const Family&) const = default;
};
using Families = std::map<std::string, Family>;

std::ostream& operator<<(std::ostream& out, const Families& families) {
  for (const auto& [name, f] : families) {
    out << name << " " << f.type << " {";
    for (const auto& l : f.labels) out << l << " ";
    out << "}\n";
  }
  return out;
}

Families documented_families() {
  Families families;
  const std::string path = std::string(ROLLCALL_SOURCE_DIR) + "/docs/metrics.txt";
  REQUIRE(std::filesystem::exists(path));
  for (const auto& line : split_lines(read_text(path))) {
    if (line.empty() || line[0] == '#') continue;
    std::smatch m;
    INFO(line);
    REQUIRE(std::regex_match(line, m, std::regex(R"((rollcall_[a-z_]+) (gauge|counter|histogram) (\S+) .+)")));
    Family f{m[2], {}};
    if (m[3] != "-") {
      std::stringstream names(m[3]);
      for (std::string l; std::getline(names, l, ',');) f.labels.insert(l);
    }
    families[m[1]] = f;
  }
  return families;
}

// Families from the TYPE lines, labels from the samples of each of them.
Families exported_families(const std::string& text) {
  Families families;
  const std::regex type_line(R"(# TYPE (rollcall_[a-z_]+) ([a-z]+))");
  const std::regex sample_line(R"((rollcall_[a-z_]+)\{([^}]*)\} \S+)");
  const std::regex label_name(R"(([a-z_]+)=\"(?:[^"\\]|\\.)*\")");
  for (const auto& line : split_lines(text)) {
    std::smatch m;
    if (std::regex_match(line, m, type_line)) {
      families[m[1]].type = m[2];
      continue;
    }
    if (!std::regex_match(line, m, sample_line)) continue;
    std::string name = m[1];
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string base = name.substr(0, name.size() - std::min(name.size(), std::strlen(suffix)));
      if (name.ends_with(suffix) && families.count(base) && families[base].type == "histogram") name = base;
    }
    const std::string labels = m[2];
    for (auto it = std::sregex_iterator(labels.begin(), labels.end(), label_name); it != std::sregex_iterator(); ++it)
      if ((*it)[1] != "unit" && (*it)[1] != "le") families[name].labels.insert((*it)[1]);
  }
  return families;
}

}  // namespace

TEST_CASE("rollcalld: /metrics of a running 3-level tree passes promtool check metrics, has exactly the families "
          "docs/metrics.txt lists, and its lag figures move when a link is cut and healed",
          "[integration][http]") {
  REQUIRE(std::filesystem::exists("/usr/bin/promtool"));  // Debian's prometheus package
  TempDir dir;
  HttpNode city("01", dir / "city", {});
  REQUIRE(city.process->start());
  HttpNode district("001", dir / "district", {"--parent", city.process->address()});
  REQUIRE(district.process->start());
  LinkProxy link(district.process->address());
  HttpNode ward(kWard.str(), dir / "ward", {"--parent", link.address()});
  REQUIRE(ward.process->start());
  const auto logs = [&] {
    return "--- ward ---\n" + ward.process->log() + "--- district ---\n" + district.process->log() + "--- city ---\n" +
           city.process->log();
  };

  auto client = NodeClient::connect(ward.process->address(), 5s);
  REQUIRE(client.ok());
  const auto submit = [&](const std::vector<std::string>& lines) {
    for (const auto& outcome : submit_lines(**client, lines)) {
      INFO(outcome.message);
      REQUIRE(outcome.accepted);
    }
  };
  submit(admissions(1, 20));
  // One refused line: a unit the ward does not hold.
  const auto refused = submit_lines(**client, {R"({"unit":"00004","effectiveDate":"2024-03-02","memberAdmitted":)"
                                               R"({"memberId":"00004-000001","fullName":"Lê Văn C","birthDate":"2003-05-01"}})"});
  REQUIRE(refused.size() == 1);
  REQUIRE_FALSE(refused[0].accepted);
  CHECK(refused[0].code == wire::RejectCode::OUTSIDE_SUBTREE);
  INFO(logs());
  REQUIRE(wait_for_watermarks(city.process->data_dir(), {{kWard, 20}}, 20s));

  const std::string ward_label = R"(unit="00001")";
  const std::string ward_origin = R"(unit="00001",origin="00001")";
  const std::string district_origin = R"(unit="001",origin="00001")";
  const std::string city_origin = R"(unit="01",origin="00001")";
  REQUIRE(eventually([&] { return metric_value(ward.metrics(), "rollcall_origin_unsent_events", ward_origin) == 0.0; }, 10s));
  CHECK(ward.value("rollcall_parent_connected", R"(unit="00001",parent=")" + link.address() + R"(",rank="0")") == 1);
  CHECK(ward.value("rollcall_events_appended_total", R"(unit="00001",source="own")") == 20);
  CHECK(ward.value("rollcall_events_rejected_total", R"(unit="00001",reason="outsideSubtree")") == 1);
  CHECK(ward.value("rollcall_events_rejected_total", R"(unit="00001",reason="storageFull")") == 0);
  CHECK(ward.value("rollcall_commit_duration_seconds_count", R"(unit="00001",kind="submit")") >= 1);
  CHECK(ward.value("rollcall_uplink_round_trip_seconds_count", ward_label) >= 1);
  CHECK(ward.value("rollcall_replication_bytes_total", R"(unit="00001",link="parent",direction="sent")") > 0);
  CHECK(ward.value("rollcall_log_size_bytes", ward_label) > 0);
  CHECK(district.value("rollcall_events_appended_total", R"(unit="001",source="relayed")") == 20);
  CHECK(district.value("rollcall_children_connected", R"(unit="001")") == 1);
  CHECK(district.value("rollcall_relay_latency_seconds_count", R"(unit="001")") >= 1);
  CHECK(district.value("rollcall_commit_duration_seconds_count", R"(unit="001",kind="ingest")") >= 1);
  CHECK(district.value("rollcall_replication_bytes_total", R"(unit="001",link="child",direction="received")") > 0);
  CHECK(city.value("rollcall_events_appended_total", R"(unit="01",source="relayed")") == 20);
  CHECK(city.value("rollcall_origin_watermark_seq", city_origin) == 20);
  // The top of this tree has no parent: nothing to be unsent to.
  CHECK_FALSE(metric_value(city.metrics(), "rollcall_origin_unsent_events", city_origin).has_value());

  SECTION("every node's exposition passes promtool and documents exactly docs/metrics.txt") {
    const Families documented = documented_families();
    for (const HttpNode* node : {&ward, &district, &city}) {
      const std::string text = node->metrics();
      INFO(text);
      const auto checked = promtool_check(dir, "node" + std::to_string(node->http), text);
      INFO("promtool: " << checked.out << checked.err);
      CHECK(checked.exit_code == 0);
      CHECK(checked.err.empty());
      // The ward has a parent and every family with samples there; the others lack some
      // samples (no parent, no forks), never a TYPE line.
      Families exported = exported_families(text);
      if (node == &ward) {
        // No forks at the ward: the one family without samples there.
        exported["rollcall_fork_first_seq"].labels = documented.at("rollcall_fork_first_seq").labels;
        CHECK(exported == documented);
      } else {
        CHECK(exported.size() == documented.size());
        for (const auto& [name, f] : exported) {
          INFO(name);
          REQUIRE(documented.count(name));
          CHECK(f.type == documented.at(name).type);
          for (const auto& l : f.labels) CHECK(documented.at(name).labels.count(l));
        }
      }
    }
  }

  SECTION("cut: the ward's unsent events and the district's data age grow; healed: they drain to 0") {
    const double age_before = district.value("rollcall_origin_data_age_seconds", district_origin);
    link.cut();
    REQUIRE(eventually(
        [&] {
          return metric_value(ward.metrics(), "rollcall_parent_connected",
                              R"(unit="00001",parent=")" + link.address() + R"(",rank="0")") == 0.0;
        },
        10s));
    submit(admissions(21, 15));
    CHECK(ward.value("rollcall_origin_unsent_events", ward_origin) == 15);
    CHECK(ward.value("rollcall_origin_watermark_seq", ward_origin) == 35);
    std::this_thread::sleep_for(1500ms);
    CHECK(district.value("rollcall_origin_watermark_seq", district_origin) == 20);
    CHECK(district.value("rollcall_origin_data_age_seconds", district_origin) >= age_before + 1.0);
    CHECK(district.value("rollcall_children_connected", R"(unit="001")") == 0);
    CHECK(ward.value("rollcall_origin_unsent_events", ward_origin) == 15);

    INFO(logs());
    link.heal();
    REQUIRE(eventually([&] { return metric_value(ward.metrics(), "rollcall_origin_unsent_events", ward_origin) == 0.0; },
                       20s));
    REQUIRE(wait_for_watermarks(city.process->data_dir(), {{kWard, 35}}, 20s));
    CHECK(district.value("rollcall_origin_watermark_seq", district_origin) == 35);
    CHECK(district.value("rollcall_origin_lag_events", district_origin) == 0);
    CHECK(district.value("rollcall_origin_lag_seconds", district_origin) == 0);
    CHECK(district.value("rollcall_origin_data_age_seconds", district_origin) < 60);
    CHECK(district.value("rollcall_events_appended_total", R"(unit="001",source="relayed")") == 35);
    CHECK(eventually([&] { return metric_value(city.metrics(), "rollcall_origin_watermark_seq", city_origin) == 35.0; }, 5s));
  }

  CHECK(ward.process->stop() == 0);
  CHECK(district.process->stop() == 0);
  CHECK(city.process->stop() == 0);
}
