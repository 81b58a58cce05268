// The rollcall CLI's subcommands. Each add_*_command registers its subcommand on the app and
// sets `exit_code` when it runs.
//
// Exit codes, the same for every command:
//   0  success
//   1  the command ran and found a problem: rejected lines, no such event or member,
//      projections that differ from the log
//   2  the command could not run: bad usage or input, missing data dir, node unreachable
#pragma once

#include <iostream>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "net/client_credentials.h"

namespace rollcall::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitProblem = 1;
inline constexpr int kExitCannotRun = 2;

// Prints "rollcall COMMAND: MESSAGE" on stderr and returns `exit_code`, for `return report(...)`.
inline int report(std::string_view command, const std::string& message, int exit_code = kExitCannotRun) {
  std::cerr << "rollcall " << command << ": " << message << "\n";
  return exit_code;
}

struct SubmitOptions {
  std::string node;
  std::string file = "-";
  bool json = false;
  bool quiet = false;  // print rejections and the summary only
  int timeout_ms = 5000;
  ClientCredentials credentials;  // unset ones from the environment
};
// Submits a JSON-lines file through a node; returns the exit code.
int run_submit(const SubmitOptions& options);

void add_submit_command(CLI::App& app, int& exit_code);
void add_log_command(CLI::App& app, int& exit_code);
void add_demo_command(CLI::App& app, int& exit_code);
void add_tally_command(CLI::App& app, int& exit_code);
void add_status_command(CLI::App& app, int& exit_code);
// member and members
void add_member_commands(CLI::App& app, int& exit_code);
// verify and rebuild
void add_verify_commands(CLI::App& app, int& exit_code);
void add_units_command(CLI::App& app, int& exit_code);
void add_reorganize_command(CLI::App& app, int& exit_code);
// export and import
void add_export_import_commands(CLI::App& app, int& exit_code);
// certs: the CA and the certificates of mutual TLS
void add_certs_command(CLI::App& app, int& exit_code);

}  // namespace rollcall::cli
