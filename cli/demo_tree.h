// DemoTree: the rollcalld nodes `rollcall demo` runs on loopback, started top first, each with
// the parent it is given, over mutual TLS: the first start makes a CA in WORK/pki (a new one
// each run), then each node gets its certificate there, and the demo's own submits use the
// writer certificate client-demo (client_credentials()). Every node
// listens on 127.0.0.1 at a port the OS picks, serves its status page (`--http`) on a free
// loopback port (cli/ports.h), and keeps its data dir (WORK/UNIT), log file
// (WORK/UNIT.log) and port file (WORK/UNIT.port) under the work dir.
//
// Ownership: owns the node processes; the destructor stops those still running, the last
// started first (children before their parents). Call from one thread, one that outlives the
// nodes (the kernel's SIGTERM to them on our death follows the thread that spawned them).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "cli/cert_maker.h"
#include "cli/child_process.h"
#include "engine/status.h"
#include "engine/types.h"
#include "net/client_credentials.h"

namespace rollcall::cli {

struct DemoNode {
  UnitCode unit;
  std::string data_dir;
  std::string log_file;
  std::string address;  // 127.0.0.1:PORT
  std::string status_page;  // http://127.0.0.1:PORT/ (its --http listener)
  pid_t pid = -1;
};

// A node's exit code as it stopped.
struct DemoNodeExit {
  UnitCode unit;
  int exit_code = 0;  // -signal when a signal ended it
};

class DemoTree {
 public:
  // `rollcalld`: the binary; `units_file`: its --units; `work_dir` must exist.
  DemoTree(std::string rollcalld, std::string units_file, std::string work_dir);
  ~DemoTree();
  DemoTree(const DemoTree&) = delete;
  DemoTree& operator=(const DemoTree&) = delete;

  // Starts rollcalld for `unit` with `parent` (HOST:PORT; none for the top) as its --parent and
  // waits up to 15 s for it to listen. A data dir left by an earlier run is used as it is.
  Result<DemoNode> start(const UnitCode& unit, const std::string& parent);
  // Stops the running nodes with SIGTERM, the last started first, each waiting for its exit.
  std::vector<DemoNodeExit> stop_all();
  // The writer certificate of the demo's own submits (valid after the first start).
  ClientCredentials client_credentials() const;

 private:
  // The CA and the client certificate, made on the first start.
  Status make_pki();

  std::string rollcalld_;
  std::string units_file_;
  std::string work_dir_;
  std::string pki_dir_;            // WORK/pki
  std::optional<Credential> ca_;   // set by make_pki
  std::vector<DemoNode> nodes_;
  std::vector<ChildProcess> processes_;  // nodes_[i] runs as processes_[i] until stopped
};

// rollcalld beside this executable (the build tree's node/, or the same dir), else
// /usr/bin/rollcalld.
std::string find_rollcalld();

}  // namespace rollcall::cli
