// The node's HTTP listener beyond /metrics: /api/status and /api/tally give the JSON of
// `rollcall status --json` and `rollcall tally --json`, and bad requests (unknown paths and
// parameters, other methods, bodies, huge URIs, slow clients) are answered or cut off without
// holding up submits.
#include <catch2/catch.hpp>

#include <chrono>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <asio.hpp>

#include "cli/ports.h"
#include "tests/support/node_harness.h"
#include "tests/support/test_dirs.h"

using namespace rollcall;
using namespace rollcall::testing;
using namespace std::chrono_literals;
using rollcall::cli::free_port_below_ephemeral;

namespace {

std::string admit(const std::string& unit, const std::string& member, const std::string& date) {
  return R"({"unit":")" + unit + R"(","effectiveDate":")" + date + R"(","memberAdmitted":{"memberId":")" + member +
         R"(","fullName":"Nguyễn Văn An","birthDate":"2001-05-02"}})";
}

// The node's clock at the answer is the one field two asks cannot share.
std::string without_now(const std::string& json) {
  return std::regex_replace(json, std::regex(R"("now":"[^"]*")"), R"("now":"-")");
}

// Sends `bytes` on a raw connection and returns what the server sends before closing (at most
// `wait` in all).
std::string raw_exchange(uint16_t port, const std::string& bytes, std::chrono::seconds wait) {
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), port});
  asio::write(socket, asio::buffer(bytes));
  std::string answer;
  const auto deadline = std::chrono::steady_clock::now() + wait;
  socket.non_blocking(true);
  while (std::chrono::steady_clock::now() < deadline) {
    char buf[4096];
    asio::error_code ec;
    const size_t n = socket.read_some(asio::buffer(buf), ec);
    if (ec == asio::error::would_block) {
      std::this_thread::sleep_for(20ms);
      continue;
    }
    if (ec) return answer + "<closed>";
    answer.append(buf, n);
  }
  return answer;
}

}  // namespace

TEST_CASE("rollcalld: /api/status and /api/tally are the JSON of rollcall status --json and rollcall tally --json",
          "[node][integration][http]") {
  TempDir dir;
  const uint16_t port = free_port_below_ephemeral();
  NodeProcess node("001", dir / "001", units_2024(), {"--http", "127.0.0.1:" + std::to_string(port)});
  REQUIRE(node.start());
  {
    auto client = NodeClient::connect(node.address(), 5s);
    REQUIRE(client.ok());
    for (const auto& outcome : submit_lines(**client, {admit("00001", "00001-000001", "2024-03-01"),
                                                       admit("00004", "00004-000001", "2024-05-02"),
                                                       admit("00004", "00004-000002", "2025-01-10")}))
      REQUIRE(outcome.accepted);
  }

  const auto status = http_get(port, "/api/status");
  const auto cli_status = run_rollcall({"status", "--data-dir", node.data_dir(), "--json"});
  INFO(status.body << "\n" << cli_status.out << node.log());
  REQUIRE(status.status == 200);
  CHECK(status.content_type == "application/json");
  REQUIRE(cli_status.exit_code == 0);
  CHECK_THAT(status.body, Catch::Contains(R"("lastLsn":3)"));
  CHECK(without_now(status.body) == without_now(cli_status.out));

  for (const auto& [query, flags] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"unit=001", {"--unit", "001"}},
           {"unit=00004&period=2024", {"--unit", "00004", "--period", "2024"}},
           {"unit=001&asOf=2024-12-31&metric=members.active", {"--unit", "001", "--as-of", "2024-12-31", "--metric", "members.active"}},
           {"unit=001&mapAsOf=2024-06-30", {"--unit", "001", "--map-as-of", "2024-06-30"}}}) {
    std::vector<std::string> args = {"tally", "--data-dir", node.data_dir(), "--json"};
    args.insert(args.end(), flags.begin(), flags.end());
    const auto tally = http_get(port, "/api/tally?" + query);
    const auto cli_tally = run_rollcall(args);
    INFO(query << "\n" << tally.body << "\n" << cli_tally.out);
    CHECK(tally.status == 200);
    CHECK(cli_tally.exit_code == 0);
    CHECK(tally.body == cli_tally.out);
  }
  CHECK_THAT(http_get(port, "/api/tally?unit=001").body, Catch::Contains(R"("members.admitted":3)"));
  CHECK(node.stop() == 0);
}

TEST_CASE("rollcalld: the HTTP listener answers bad requests with 404, 400 naming the parameter, 405, 400 or 414 for oversized ones, "
          "cuts slow clients off, and submits go on meanwhile",
          "[node][integration][http]") {
  TempDir dir;
  const uint16_t port = free_port_below_ephemeral();
  NodeProcess node("001", dir / "001", units_2024(), {"--http", "127.0.0.1:" + std::to_string(port)});
  REQUIRE(node.start());

  const auto missing = http_get(port, "/api/nope");
  CHECK(missing.status == 404);
  CHECK_THAT(missing.body, Catch::Contains("no such path: /api/nope"));
  const auto unknown = http_get(port, "/api/tally?unit=001&perod=2024");
  CHECK(unknown.status == 400);
  CHECK_THAT(unknown.body, Catch::Contains("unknown query parameter 'perod'"));
  const auto bad_period = http_get(port, "/api/tally?unit=001&period=2024-Q5");
  CHECK(bad_period.status == 400);
  CHECK_THAT(bad_period.body, Catch::Contains(R"({"error":"period: )"));
  const auto bad_date = http_get(port, "/api/tally?unit=001&asOf=yesterday");
  CHECK(bad_date.status == 400);
  CHECK_THAT(bad_date.body, Catch::Contains(R"({"error":"asOf: )"));
  const auto both = http_get(port, "/api/tally?unit=001&asOf=2024-01-01&period=2024");
  CHECK(both.status == 400);
  CHECK_THAT(both.body, Catch::Contains("period and asOf cannot be combined"));
  const auto bad_metric = http_get(port, "/api/tally?unit=001&metric=members.nope");
  CHECK(bad_metric.status == 400);
  CHECK_THAT(bad_metric.body, Catch::Contains(R"({"error":"metric 'members.nope' is not a metric)"));
  const auto no_unit = http_get(port, "/api/tally");
  CHECK(no_unit.status == 400);
  CHECK_THAT(no_unit.body, Catch::Contains("unit is required"));
  const auto outside = http_get(port, "/api/tally?unit=01");
  CHECK(outside.status == 400);
  CHECK_THAT(outside.body, Catch::Contains("outside this node's subtree"));
  const auto twice = http_get(port, "/api/tally?unit=001&unit=00001");
  CHECK(twice.status == 400);
  CHECK_THAT(twice.body, Catch::Contains("'unit' is given more than once"));
  CHECK(http_get(port, "/metrics?x=1").status == 400);

  CHECK_THAT(raw_exchange(port, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 3s),
             Catch::StartsWith("HTTP/1.1 405"));
  CHECK_THAT(raw_exchange(port, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n", 3s),
             Catch::StartsWith("HTTP/1.1 400"));
  CHECK_THAT(raw_exchange(port, "GET /metrics?" + std::string(20000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", 3s),
             Catch::StartsWith("HTTP/1.1 414"));

  // Slow clients take the HTTP workers, never the node: submits are answered while they hang,
  // and each is cut off after the 5 s read timeout.
  std::vector<std::thread> slow;
  std::vector<std::string> slow_answers(2);
  for (size_t i = 0; i < slow_answers.size(); ++i)
    slow.emplace_back([&, i] { slow_answers[i] = raw_exchange(port, "GET /metr", 8s); });
  std::this_thread::sleep_for(500ms);
  {
    auto client = NodeClient::connect(node.address(), 2s);
    REQUIRE(client.ok());
    const auto started = std::chrono::steady_clock::now();
    for (const auto& outcome : submit_lines(**client, {admit("00001", "00001-000009", "2024-03-01")}))
      CHECK(outcome.accepted);
    CHECK(std::chrono::steady_clock::now() - started < 3s);
  }
  for (auto& t : slow) t.join();
  for (const auto& answer : slow_answers) CHECK_THAT(answer, Catch::EndsWith("<closed>"));
  CHECK(http_get(port, "/metrics").status == 200);  // and the listener serves again
  CHECK(node.stop() == 0);
}
