#include "cli/demo_tree.h"

#include <chrono>
#include <filesystem>
#include <utility>

namespace rollcall::cli {

namespace fs = std::filesystem;

DemoTree::DemoTree(std::string rollcalld, std::string units_file, std::string work_dir)
    : rollcalld_(std::move(rollcalld)),
      units_file_(std::move(units_file)),
      work_dir_(std::move(work_dir)) {}

DemoTree::~DemoTree() {
  stop_all();
}

Result<DemoNode> DemoTree::start(const UnitCode& unit, const std::string& parent) {
  DemoNode node;
  node.unit = unit;
  node.data_dir = work_dir_ + "/" + unit.str();
  node.log_file = node.data_dir + ".log";
  const std::string port_file = node.data_dir + ".port";
  std::error_code ec;
  fs::remove(port_file, ec);  // a port file of an earlier run would be read as this one's

  std::vector<std::string> argv = {rollcalld_,    "--unit",      unit.str(),    "--data-dir",
                                   node.data_dir, "--listen",    "127.0.0.1:0", "--units",
                                   units_file_,   "--port-file", port_file,     "--min-free-mb",
                                   "64",          "--plaintext"};
  if (!parent.empty()) {
    argv.push_back("--parent");
    argv.push_back(parent);
  }
  auto process = ChildProcess::spawn(argv, node.log_file);
  if (!process.ok()) return process.error();
  auto port = process->wait_for_port_file(port_file, std::chrono::seconds(15));
  if (!port.ok())
    return Error(ErrorKind::kUnavailable, "rollcalld for " + unit.str() + ": " +
                                              port.error().message() + " (see " + node.log_file +
                                              ")");
  node.address = "127.0.0.1:" + std::to_string(*port);
  node.pid = process->pid();
  nodes_.push_back(node);
  processes_.push_back(std::move(process).value());
  return node;
}

std::vector<DemoNodeExit> DemoTree::stop_all() {
  std::vector<DemoNodeExit> exits;
  while (!processes_.empty()) {
    exits.push_back({nodes_[processes_.size() - 1].unit, processes_.back().stop()});
    processes_.pop_back();
  }
  return exits;
}

std::string find_rollcalld() {
  for (const std::string& candidate :
       {executable_dir() + "/../node/rollcalld", executable_dir() + "/rollcalld"})
    if (fs::exists(candidate)) return candidate;
  return "/usr/bin/rollcalld";
}

}  // namespace rollcall::cli
