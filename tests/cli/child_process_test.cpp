#include "cli/child_process.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <thread>

using rollcall::cli::ChildProcess;

TEST_CASE("ChildProcess: a program that cannot be started is an error naming it", "[cli]") {
  auto spawned = ChildProcess::spawn({"/nonexistent/rollcalld", "--help"}, "");
  REQUIRE_FALSE(spawned.ok());
  CHECK_THAT(spawned.error().message(), Catch::Contains("/nonexistent/rollcalld") && Catch::Contains("No such file"));
}

TEST_CASE("ChildProcess: a child does not outlive the thread that started it", "[cli]") {
  std::optional<ChildProcess> child;
  std::thread starter([&] {
    auto spawned = ChildProcess::spawn({"/bin/sleep", "30"}, "");
    REQUIRE(spawned.ok());
    child.emplace(std::move(spawned).value());
  });
  starter.join();  // the spawning thread is gone: the kernel sends the child SIGTERM
  REQUIRE(child.has_value());
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {
    gone = !child->running();
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(gone);
}

TEST_CASE("ChildProcess: stop() ends a running child and reports its exit", "[cli]") {
  auto spawned = ChildProcess::spawn({"/bin/sleep", "30"}, "");
  REQUIRE(spawned.ok());
  CHECK(spawned->running());
  CHECK(spawned->stop(std::chrono::seconds(5)) == -15);  // killed by SIGTERM
  CHECK_FALSE(spawned->running());
}
