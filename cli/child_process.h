// ChildProcess: a program the CLI starts and stops (the demo's nodes). Never leaves it
// running: the destructor sends SIGTERM, waits, and kills after a grace period; and if this
// process dies first (killed, crashed), the child gets SIGTERM from the kernel
// (PR_SET_PDEATHSIG). That signal follows the *thread* that called spawn(): spawn from a
// thread that outlives the child.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/status.h"

namespace rollcall::cli {

class ChildProcess {
 public:
  // Starts argv[0] (a path) with argv; stdout/stderr go to `log_file` when not empty.
  static Result<ChildProcess> spawn(const std::vector<std::string>& argv, const std::string& log_file);
  ChildProcess(ChildProcess&& other) noexcept : pid_(other.pid_) { other.pid_ = -1; }
  ChildProcess& operator=(ChildProcess&&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  // SIGTERM, then wait up to `grace`; SIGKILL after. Returns the exit status (or -signal).
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(10));
  // Waits for the child to exit by itself, up to `timeout` (then stop()). Returns the exit
  // status (or -signal).
  int wait(std::chrono::milliseconds timeout = std::chrono::minutes(10));
  // True while it runs.
  bool running();
  // Waits for the child to write its listening port to `path` (rollcalld --port-file: the
  // number and a newline). kUnavailable if it exits first or takes longer than `timeout`.
  Result<uint16_t> wait_for_port_file(const std::string& path, std::chrono::milliseconds timeout);

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
};

// The directory holding the running executable.
std::string executable_dir();

}  // namespace rollcall::cli
