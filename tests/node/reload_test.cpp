// Integration tests of rollcalld's SIGHUP (systemctl reload): the --config file is re-read,
// log_level applies at once, other changed keys are named as needing a restart, and a broken
// file or a node without --config keeps running on its old settings.
#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "tests/support/node_harness.h"
#include "tests/support/test_dirs.h"

using namespace rollcall;
using namespace rollcall::testing;

namespace {

// True once the node's log holds `text` (within 10 s): SIGHUP is handled asynchronously.
bool log_shows(const NodeProcess& node, const std::string& text) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < until) {
    if (node.log().find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

void write_file(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

}  // namespace

TEST_CASE("rollcalld: SIGHUP re-reads --config, applies log_level and names the keys that need a restart, "
          "and keeps running on the old settings when the file is broken",
          "[node][integration]") {
  TempDir dir;
  const std::string config = dir / "001.toml";
  write_file(config, "log_level = \"info\"\n");
  NodeProcess node("001", dir / "001", units_2024(), {"--config", config});
  REQUIRE(node.start());

  write_file(config, "log_level = \"debug\"\nparents = [\"127.0.0.1:7499\"]\n");
  REQUIRE(::kill(node.pid(), SIGHUP) == 0);
  CHECK(log_shows(node, "log_level changed from info to debug"));
  CHECK(log_shows(node, "'parents' changed in the config; it takes effect after a restart"));
  CHECK(node.log().find("'listen' changed") == std::string::npos);  // only what changed is named

  write_file(config, "log_level = \"debug\"\nparents = [\n");
  REQUIRE(::kill(node.pid(), SIGHUP) == 0);
  CHECK(log_shows(node, "SIGHUP: config not applied, the node keeps its settings"));
  write_file(config, "log_level = \"chatty\"\n");
  REQUIRE(::kill(node.pid(), SIGHUP) == 0);
  CHECK(log_shows(node, "log level 'chatty' is not one of"));
  CHECK(node.running());
  auto client = NodeClient::connect(node.address(), std::chrono::seconds(5));
  CHECK(client.ok());  // still serving
  CHECK(node.stop() == 0);
}

TEST_CASE("rollcalld: SIGHUP without --config logs that there is nothing to re-read and keeps running",
          "[node][integration]") {
  TempDir dir;
  NodeProcess node("001", dir / "001", units_2024());
  REQUIRE(node.start());
  REQUIRE(::kill(node.pid(), SIGHUP) == 0);
  CHECK(log_shows(node, "started without --config; there is nothing to re-read"));
  CHECK(node.running());
  CHECK(node.stop() == 0);
}
