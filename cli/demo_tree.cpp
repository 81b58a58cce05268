#include "cli/demo_tree.h"

#include <chrono>
#include <ctime>
#include <filesystem>
#include <utility>

#include "cli/ports.h"

namespace rollcall::cli {

namespace fs = std::filesystem;

DemoTree::DemoTree(std::string rollcalld, std::string units_file, std::string work_dir)
    : rollcalld_(std::move(rollcalld)),
      units_file_(std::move(units_file)),
      work_dir_(std::move(work_dir)),
      pki_dir_(work_dir_ + "/pki") {}

DemoTree::~DemoTree() {
  stop_all();
}

namespace {

// Valid from an hour ago (clocks of one machine, but a CA made at second N must verify at N)
// for a week: a demo's certificates.
Validity demo_validity() { return Validity{std::time(nullptr) - 3600, 7}; }

}  // namespace

Status DemoTree::make_pki() {
  if (ca_) return ok_status();
  std::error_code ec;
  fs::create_directories(pki_dir_, ec);
  if (ec) return Error(ErrorKind::kIo, "cannot make " + pki_dir_ + ": " + ec.message());
  auto ca = make_ca("rollcall demo CA", demo_validity());
  if (!ca.ok()) return ca.error();
  ROLLCALL_TRY(ca->write(pki_dir_ + "/ca.crt", pki_dir_ + "/ca.key"));
  auto client = make_leaf(*ca, CertRole::kWriter, "demo", demo_validity());
  if (!client.ok()) return client.error();
  ROLLCALL_TRY(client->write(pki_dir_ + "/client-demo.crt", pki_dir_ + "/client-demo.key"));
  ca_ = std::move(ca).value();
  return ok_status();
}

ClientCredentials DemoTree::client_credentials() const {
  ClientCredentials credentials;
  credentials.tls = TlsFiles{pki_dir_ + "/client-demo.crt", pki_dir_ + "/client-demo.key", pki_dir_ + "/ca.crt"};
  return credentials;
}

Result<DemoNode> DemoTree::start(const UnitCode& unit, const std::string& parent) {
  ROLLCALL_TRY(make_pki());
  const std::string cert = pki_dir_ + "/" + unit.str() + ".crt", key = pki_dir_ + "/" + unit.str() + ".key";
  auto leaf = make_leaf(*ca_, CertRole::kNode, unit.str(), demo_validity());
  if (!leaf.ok()) return leaf.error();
  ROLLCALL_TRY(leaf->write(cert, key));
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
                                   "64",          "--tls-cert",  cert,          "--tls-key",
                                   key,           "--tls-ca",    pki_dir_ + "/ca.crt"};
  const std::string http = "127.0.0.1:" + std::to_string(free_port_below_ephemeral());
  argv.push_back("--http");
  argv.push_back(http);
  node.status_page = "http://" + http + "/";
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
