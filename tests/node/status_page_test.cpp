// The status page (`/` and `/api/tree` of rollcalld --http) on a running tree: district 001 with
// wards 00001 and 00004, each ward's link through a LinkProxy. One link is cut; the page, loaded
// in headless Chromium (CI installs it; a missing one fails the test), must show the connected
// ward live and the cut one stale. The screenshot is kept in build/tests/artifacts/ (ROLLCALL_TEST_ARTIFACTS_DIR).
// Threads: the test's own; the nodes and Chromium are child processes.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <regex>
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

const UnitCode kWardLive = UnitCode::trusted("00001");
const UnitCode kWardCut = UnitCode::trusted("00004");

// Admissions at `ward` in the current year (so they count in admittedThisYear), ids from `first`.
std::vector<std::string> admissions(const UnitCode& ward, int first, int count) {
  const auto today = std::chrono::year_month_day(std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now()));
  const std::string date = std::to_string(static_cast<int>(today.year())) + "-01-02";
  std::vector<std::string> lines;
  for (int i = first; i < first + count; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "%06d", i);
    lines.push_back(R"({"unit":")" + ward.str() + R"(","effectiveDate":")" + date +
                    R"(","memberAdmitted":{"memberId":")" + ward.str() + "-" + id +
                    R"(","fullName":"Nguyễn Văn An","birthDate":"2004-03-01"}})");
  }
  return lines;
}

uint64_t submit(const NodeProcess& node, const std::vector<std::string>& lines) {
  auto client = NodeClient::connect(node.address(), 5s);
  REQUIRE(client.ok());
  uint64_t accepted = 0;
  for (const auto& outcome : submit_lines(**client, lines)) {
    INFO(outcome.message);
    CHECK(outcome.accepted);
    accepted += outcome.accepted ? 1 : 0;
  }
  return accepted;
}

// The JSON object of `unit` in /api/tree's text (units are flat objects without nesting).
std::string unit_object(const std::string& json, const UnitCode& unit) {
  const auto at = json.find("{\"code\":\"" + unit.str() + "\"");
  if (at == std::string::npos) return "";
  return json.substr(at, json.find('}', at) - at + 1);
}

// The opening tag of the page element carrying data-unit="CODE" in a dumped DOM.
std::string unit_element(const std::string& dom, const UnitCode& unit) {
  std::smatch m;
  if (!std::regex_search(dom, m, std::regex("<li[^>]*data-unit=\"" + unit.str() + "\"[^>]*>"))) return "";
  return m.str();
}

bool chromium_present() { return std::filesystem::exists("/usr/bin/chromium"); }

}  // namespace

TEST_CASE("rollcalld: status page shows a cut ward stale and a connected ward live, in /api/tree and in Chromium",
          "[integration][http]") {
  TempDir dir;
  const uint16_t http = free_port_below_ephemeral();
  NodeProcess district("001", dir / "district", units_2024(), {"--http", "127.0.0.1:" + std::to_string(http)});
  REQUIRE(district.start());
  LinkProxy link_live(district.address()), link_cut(district.address());
  NodeProcess ward_live(kWardLive.str(), dir / "live", units_2024(), {"--parent", link_live.address()});
  NodeProcess ward_cut(kWardCut.str(), dir / "cut", units_2024(), {"--parent", link_cut.address()});
  REQUIRE(ward_live.start());
  REQUIRE(ward_cut.start());

  const uint64_t live_events = submit(ward_live, admissions(kWardLive, 1, 3));
  const uint64_t cut_events = submit(ward_cut, admissions(kWardCut, 1, 2));
  REQUIRE(wait_for_watermarks(district.data_dir(), {{kWardLive, live_events}, {kWardCut, cut_events}}, 20s));
  link_cut.cut();
  submit(ward_cut, admissions(kWardCut, 3, 2));

  // The district sees the cut once the session ends; the page's freshness follows.
  std::string json;
  for (auto deadline = std::chrono::steady_clock::now() + 20s; std::chrono::steady_clock::now() < deadline;) {
    const auto answer = http_get(http, "/api/tree");
    REQUIRE(answer.status == 200);
    json = answer.body;
    if (unit_object(json, kWardCut).find("\"connected\":false") != std::string::npos) break;
    std::this_thread::sleep_for(200ms);
  }
  INFO(json);
  CHECK_THAT(json, Catch::Contains("\"unit\":\"001\"") && Catch::Contains("\"name\":\"Quận Ba Đình\""));
  const auto live = unit_object(json, kWardLive), cut = unit_object(json, kWardCut);
  CHECK_THAT(live, Catch::Contains("\"connected\":true") && Catch::Contains("\"freshness\":\"live\"") &&
                       Catch::Contains("\"lagEvents\":0") && Catch::Contains("\"membersActive\":3") &&
                       Catch::Contains("\"admittedThisYear\":3") && Catch::Contains("\"level\":"));
  CHECK_THAT(cut, Catch::Contains("\"connected\":false") && Catch::Contains("\"freshness\":\"minutes\"") &&
                      Catch::Contains("\"membersActive\":2") && Catch::Contains("\"lastEventAt\":\"20"));
  CHECK_THAT(json, Catch::Contains("\"summary\":{"));

  const auto missing = http_get(http, "/nope");
  CHECK(missing.status == 404);
  const auto page = http_get(http, "/");
  CHECK(page.status == 200);
  CHECK_THAT(page.content_type, Catch::Contains("text/html"));

  // The page itself, rendered by a real browser.
  if (!chromium_present()) FAIL("chromium is missing (/usr/bin/chromium): scripts/install-deps.sh installs it");
  const std::string url = "http://127.0.0.1:" + std::to_string(http) + "/";
  const auto dom = run_command({"/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
                                "--virtual-time-budget=5000", "--dump-dom", url}, "", 60);
  INFO(dom.err);
  REQUIRE(dom.exit_code == 0);
  const auto live_el = unit_element(dom.out, kWardLive), cut_el = unit_element(dom.out, kWardCut);
  CHECK_THAT(live_el, Catch::Contains("fresh-live"));
  CHECK_THAT(cut_el, Catch::Contains("fresh-minutes"));
  CHECK_THAT(dom.out, Catch::Contains("Phường Phúc Xá"));
  std::filesystem::create_directories(ROLLCALL_TEST_ARTIFACTS_DIR);
  const std::string shot = std::string(ROLLCALL_TEST_ARTIFACTS_DIR) + "/status-page-ward-cut.png";
  const auto screenshot = run_command({"/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
                                       "--virtual-time-budget=5000", "--window-size=1280,900",
                                       "--screenshot=" + shot, url}, "", 60);
  CHECK(screenshot.exit_code == 0);
  CHECK(std::filesystem::exists(shot));
}
