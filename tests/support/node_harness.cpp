#include "tests/support/node_harness.h"

#include "cli/ports.h"

#include <algorithm>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <httplib.h>

#include "engine/capnp_guard.h"
#include "engine/types.h"

extern char** environ;

namespace rollcall::testing {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

std::string rollcalld_path() { return ROLLCALLD_PATH; }
std::string rollcall_path() { return ROLLCALL_PATH; }

CommandResult run_command(const std::vector<std::string>& argv, const std::string& stdin_file,
                          int timeout_s) {
  char out_tmpl[] = "/tmp/rollcall-out-XXXXXX";
  char err_tmpl[] = "/tmp/rollcall-err-XXXXXX";
  const int out_fd = mkstemp(out_tmpl);
  const int err_fd = mkstemp(err_tmpl);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
  posix_spawn_file_actions_addopen(&actions, 0, stdin_file.empty() ? "/dev/null" : stdin_file.c_str(),
                                   O_RDONLY, 0);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  CommandResult result;
  if (posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, args.data(), environ) == 0) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  posix_spawn_file_actions_destroy(&actions);
  close(out_fd);
  close(err_fd);
  result.out = read_file(out_tmpl);
  result.err = read_file(err_tmpl);
  unlink(out_tmpl);
  unlink(err_tmpl);
  return result;
}

CommandResult run_rollcall(std::vector<std::string> args) {
  args.insert(args.begin(), rollcall_path());
  return run_command(args);
}

const std::vector<std::string>& sample_submit_lines() {
  static const std::vector<std::string> lines = {
      R"({"unit":"00001","effectiveDate":"2024-01-05","memberAdmitted":{"memberId":"00001-000001","fullName":"Trần Thị Bình","birthDate":"2003-02-11"}})",
      R"({"unit":"00004","effectiveDate":"2024-01-06","memberAdmitted":{"memberId":"00004-000001","fullName":"Lê Văn Cường","birthDate":"2002-08-30"}})",
      R"({"unit":"00001","effectiveDate":"2024-02-01","memberTransferredOut":{"memberId":"00001-000001","toUnit":"00004"}})",
      R"({"unit":"00004","effectiveDate":"2024-02-03","memberTransferredIn":{"memberId":"00001-000001","fromUnit":"00001"}})",
      R"({"unit":"00004","effectiveDate":"2024-02-10","activityReported":{"kind":"eidLevel2","count":119,"participants":8}})",
  };
  return lines;
}

NodeProcess::NodeProcess(std::string unit, std::string data_dir, std::string units_file,
                         std::vector<std::string> extra_args)
    : unit_(std::move(unit)),
      data_dir_(std::move(data_dir)),
      units_file_(std::move(units_file)),
      extra_args_(std::move(extra_args)),
      port_file_(data_dir_ + ".port"),
      log_file_(data_dir_ + ".log") {}

NodeProcess::~NodeProcess() {
  if (process_) process_->stop(std::chrono::seconds(5));
}

bool NodeProcess::launch() {
  if (port_ == 0) port_ = cli::free_port_below_ephemeral();
  std::remove(port_file_.c_str());
  // A restart listens on the port the node had, so that its children find it again.
  const std::string listen = "127.0.0.1:" + std::to_string(port_);
  std::vector<std::string> argv = {rollcalld_path(), "--unit", unit_, "--data-dir", data_dir_,
                                   "--listen", listen, "--units", units_file_,
                                   "--port-file", port_file_};
  if (std::find(extra_args_.begin(), extra_args_.end(), "--min-free-mb") == extra_args_.end())
    argv.insert(argv.end(), {"--min-free-mb", "0"});
  // Plain TCP unless the test gives TLS files (tests/node/security_test.cpp).
  if (std::find(extra_args_.begin(), extra_args_.end(), "--tls-cert") == extra_args_.end())
    argv.push_back("--plaintext");
  argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
  auto spawned = cli::ChildProcess::spawn(argv, log_file_);
  if (!spawned.ok()) return false;
  process_ = std::make_unique<cli::ChildProcess>(std::move(spawned).value());
  return true;
}

bool NodeProcess::start() {
  if (!launch()) return false;
  auto port = process_->wait_for_port_file(port_file_, std::chrono::seconds(20));
  if (!port.ok()) {
    if (!process_->running()) process_.reset();
    std::fprintf(stderr, "rollcalld did not start: %s; its log:\n%s\n", port.error().message().c_str(), log().c_str());
    return false;
  }
  port_ = *port;
  return true;
}

int NodeProcess::stop() {
  if (!process_) return -1;
  const int status = process_->stop(std::chrono::seconds(10));
  process_.reset();
  return status;
}

void NodeProcess::kill9() {
  if (!process_) return;
  ::kill(process_->pid(), SIGKILL);
  process_->stop(std::chrono::seconds(5));  // reaps
  process_.reset();
}

bool NodeProcess::running() { return process_ && process_->running(); }

std::string NodeProcess::log() const { return read_file(log_file_); }

std::vector<LineOutcome> submit_lines(NodeClient& client, const std::vector<std::string>& lines) {
  static const EventJson json;
  capnp::MallocMessageBuilder message;
  auto submit = message.initRoot<wire::Message>().initSubmit();
  submit.setRequestTag(1);
  auto list = submit.initEvents(static_cast<unsigned>(lines.size()));
  for (unsigned i = 0; i < lines.size(); ++i) {
    auto parsed = json.parse(lines[i], list[i]);
    if (!parsed.ok()) throw std::runtime_error("test line does not parse: " + parsed.error().message());
  }
  if (auto s = client.send(message); !s.ok()) throw std::runtime_error(s.error().message());
  auto frame = client.receive();
  if (!frame.ok()) throw std::runtime_error(frame.error().message());
  std::vector<LineOutcome> outcomes;
  auto message_reader = (*frame)->root<wire::Message>();
  for (auto o : message_reader.getSubmitResult().getOutcomes()) {
    LineOutcome line;
    if (o.isAccepted()) {
      line.accepted = true;
      line.id = rollcall::OriginSeq{rollcall::UnitCode::trusted(o.getAccepted().getOrigin().cStr()), o.getAccepted().getSeq()}.to_string();
    } else {
      line.code = o.getRejected().getCode();
      line.message = o.getRejected().getMessage().cStr();
    }
    outcomes.push_back(line);
  }
  return outcomes;
}

HttpAnswer http_get(uint16_t port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(std::chrono::seconds(2));
  client.set_read_timeout(std::chrono::seconds(5));
  HttpAnswer answer;
  if (auto response = client.Get(path.c_str())) {
    answer.status = response->status;
    answer.body = response->body;
    answer.content_type = response->get_header_value("Content-Type");
  }
  return answer;
}

std::optional<double> metric_value(const std::string& text, const std::string& name, const std::string& labels) {
  const std::string head = name + "{" + labels + "} ";
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind(head, 0) == 0) return std::stod(line.substr(head.size()));
  return std::nullopt;
}

}  // namespace rollcall::testing
