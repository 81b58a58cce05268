// rollcall: the operator's command line.
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "engine/protocol.h"

int main(int argc, char** argv) {
  CLI::App app{"rollcall: inspect and feed rollcall nodes.\n"
               "Exit codes: 0 success; 1 the command found a problem (rejected lines, no such "
               "event or member, projections that differ from the log); 2 it could not run (bad "
               "usage, missing data dir, node unreachable)."};
  app.require_subcommand(1);
  app.set_version_flag("--version", rollcall::kSoftwareVersion);
  int exit_code = rollcall::cli::kExitOk;
  rollcall::cli::add_submit_command(app, exit_code);
  rollcall::cli::add_log_command(app, exit_code);
  rollcall::cli::add_tally_command(app, exit_code);
  rollcall::cli::add_status_command(app, exit_code);
  rollcall::cli::add_member_commands(app, exit_code);
  rollcall::cli::add_verify_commands(app, exit_code);
  rollcall::cli::add_units_command(app, exit_code);
  rollcall::cli::add_reorganize_command(app, exit_code);
  rollcall::cli::add_export_import_commands(app, exit_code);
  rollcall::cli::add_certs_command(app, exit_code);
  rollcall::cli::add_demo_command(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : rollcall::cli::kExitCannotRun;
  }
  return exit_code;
}
