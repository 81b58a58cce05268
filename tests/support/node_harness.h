// Runs real rollcalld processes and rollcall commands for integration tests.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <capnp/message.h>

#include "cli/child_process.h"
#include "cli/node_client.h"
#include "engine/event_json.h"
#include "schema/wire.capnp.h"

namespace rollcall::testing {

// Paths of the binaries under test (set by CMake).
std::string rollcalld_path();
std::string rollcall_path();

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs a command to completion (at most `timeout_s`), capturing stdout and stderr; stdin from
// `stdin_file` when given.
CommandResult run_command(const std::vector<std::string>& argv, const std::string& stdin_file = "",
                          int timeout_s = 60);

// `rollcall ARGS...` through run_command.
CommandResult run_rollcall(std::vector<std::string> args);

// Five lines every node of the 2024 map that holds wards 00001 and 00004 accepts: two
// admissions, a transfer from 00001 to 00004 (both halves) and an activity report.
const std::vector<std::string>& sample_submit_lines();

// One rollcalld on 127.0.0.1 with a port picked by the OS.
class NodeProcess {
 public:
  NodeProcess(std::string unit, std::string data_dir, std::string units_file,
              std::vector<std::string> extra_args = {});
  ~NodeProcess();

  // Starts and waits until it listens. Returns false (with the log in `log()`) if it exits.
  // The first start takes a port the OS picks; a restart listens on the same port again.
  bool start();
  // Spawns it and returns at once, without waiting until it listens (e.g. to kill it while it
  // opens its data dir and recovers). The port is the one start() would use.
  bool launch();
  // SIGTERM and wait: the exit status.
  int stop();
  // SIGKILL and wait.
  void kill9();
  bool running();

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // The flags of the next start() (e.g. to restart with another --min-free-mb on the same port).
  void set_extra_args(std::vector<std::string> args) { extra_args_ = std::move(args); }
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  std::string log() const;
  const std::string& data_dir() const { return data_dir_; }

 private:
  std::string unit_, data_dir_, units_file_;
  std::vector<std::string> extra_args_;
  std::string port_file_, log_file_;
  uint16_t port_ = 0;
  std::unique_ptr<cli::ChildProcess> process_;
};

// GET http://127.0.0.1:PORT/PATH: the status code (-1 when nothing answered) and the body.
struct HttpAnswer {
  int status = -1;
  std::string body;
  std::string content_type;
};
HttpAnswer http_get(uint16_t port, const std::string& path);

// The value of the sample `name{labels}` in Prometheus text (nullopt when absent); `labels`
// as written, e.g. R"(unit="001")".
std::optional<double> metric_value(const std::string& text, const std::string& name, const std::string& labels);

// The outcome of one submitted line.
struct LineOutcome {
  bool accepted = false;
  std::string id;          // origin:seq when accepted
  wire::RejectCode code = wire::RejectCode::INVALID;
  std::string message;     // when rejected
};

// Submits JSON lines in one Submit message and waits for the result.
std::vector<LineOutcome> submit_lines(NodeClient& client, const std::vector<std::string>& lines);

}  // namespace rollcall::testing
