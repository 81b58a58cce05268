// rollcall status [--data-dir DIR] [--node HOST:PORT]: a node's watermarks per origin with how
// current each is ("data as of"), its parent links and lag, the children connected to it and
// its alerts (DESIGN.md "Interfaces", "Projections": Completeness).
//
// The data dir is read beside the running node (a RocksDB secondary instance, as the other read
// commands do). What only the running node knows (links, children, heads reported from below,
// alerts) is asked of it over the wire (cli/status_query.h): at --node, or at the address the
// node wrote to DIR/rollcalld.address when it started listening. A node of a data dir that does
// not answer is reported in one line and the data dir part is still shown.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>

#include "cli/commands.h"
#include "cli/credential_options.h"
#include "cli/data_dir_reader.h"
#include "cli/status_query.h"
#include "cli/status_tree.h"
#include "report/status_view.h"
#include "engine/replication.h"

namespace rollcall::cli {
namespace {

constexpr std::string_view kCommand = "status";
constexpr const char* kAddressFile = "rollcalld.address";

struct StatusOptions {
  std::string data_dir;
  std::string node;
  bool json = false;
  bool tree = false;
  int timeout_ms = 2000;
  ClientCredentials credentials;
};

std::optional<std::string> address_from_file(const std::string& dir) {
  std::ifstream in(std::filesystem::path(dir) / kAddressFile);
  if (!in) return std::nullopt;
  std::string line;
  std::getline(in, line);
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!line.empty() && blank(line.back())) line.pop_back();
  line.erase(line.begin(), std::find_if_not(line.begin(), line.end(), blank));
  return dialable_address(line);
}

// Empty when the node that answered is the node of the data dir; else why it is not. A node
// that does not send its incarnation is taken at its unit's word.
std::string identity_mismatch(const NodeState& dir, const NodeState& node,
                              const std::string& address) {
  if (node.unit == dir.unit && (node.incarnation.empty() || node.incarnation == dir.incarnation))
    return "";
  return "node " + address + " is unit " + node.unit + " (incarnation " +
         incarnation_hex(node.incarnation).substr(0, 8) + "...), not this data dir's unit " + dir.unit +
         " (incarnation " + incarnation_hex(dir.incarnation).substr(0, 8) + "...)";
}

// The node's answer over what the data dir holds. The node was asked after the dir was read, so
// its values are as new or newer; a chain hash from the dir is kept where the seq is the same.
void ask_node(StatusView& view, const std::string& address, bool from_dir, bool explicit_node,
              std::chrono::milliseconds timeout, const ClientCredentials& credentials) {
  view.node.address = address;
  auto answer = ask_node_status(address, timeout, credentials);
  if (!answer.ok()) {
    view.node.refused = answer.error().kind() == ErrorKind::kUnavailable;
    view.node.problem = answer.error().message();
    return;
  }
  if (from_dir) {
    if (auto other = identity_mismatch(view.state, *answer, address); !other.empty()) {
      view.node.problem = explicit_node ? other : other + "; " + kAddressFile + " is stale";
      return;
    }
    view.state = merge_held(view.state, std::move(answer).value());
  } else {
    view.state = std::move(answer).value();
  }
  view.node.reachable = view.live = true;
}

int run_status(const StatusOptions& o) {
  if (o.data_dir.empty() && o.node.empty())
    return report(kCommand,
                  "give --data-dir DIR (a node's data dir, read beside the running node) or "
                  "--node HOST:PORT (ask a running node), or both");
  if (o.timeout_ms <= 0) return report(kCommand, "--timeout-ms must be a positive number of ms");

  StatusView view;
  view.name_of = [](const std::string&) { return std::string(); };
  std::optional<DataDirReader> reader;
  if (!o.data_dir.empty()) {
    auto opened = DataDirReader::open(o.data_dir, /*need_projections=*/false);
    if (!opened.ok()) return report(kCommand, opened.error().message());
    reader.emplace(std::move(opened).value());
    auto held = held_state_of(reader->log());
    if (!held.ok()) return report(kCommand, held.error().message());
    view.state = std::move(held).value();
    view.name_of = [&reader](const std::string& code) { return reader->unit_name(code); };
  }

  const bool explicit_node = !o.node.empty();
  std::optional<std::string> address = explicit_node ? o.node : address_from_file(o.data_dir);
  if (o.tree) {
    if (!address) return report(kCommand, "--tree asks the running node: no " + std::string(kAddressFile) + " in " + o.data_dir + " (is the node running?); give --node");
    const StatusTree tree = ask_status_tree(*address, std::chrono::milliseconds(o.timeout_ms), 500,
                                            o.credentials.with_env_defaults());
    if (!tree.top.reachable) return report(kCommand, tree.top.problem);
    if (o.json)
      print_status_tree_json(tree, view.name_of, std::cout);
    else
      print_status_tree(tree, view.name_of, std::cout);
    return kExitOk;
  }
  if (address)
    ask_node(view, *address, reader.has_value(), explicit_node, std::chrono::milliseconds(o.timeout_ms),
             o.credentials.with_env_defaults());
  else
    view.node.problem = "no " + std::string(kAddressFile) + " in " + o.data_dir;
  if (explicit_node && !view.node.reachable && !reader) return report(kCommand, view.node.problem);

  view.now = view.live && view.state.now.micros != 0 ? view.state.now : Timestamp::of(std::chrono::system_clock::now());
  sort_for_display(view.state);
  if (o.json)
    print_status_json(view, std::cout);
  else
    print_status_text(view, std::cout);
  if (explicit_node && !view.node.reachable) return report(kCommand, view.node.problem);
  return kExitOk;
}

}  // namespace

void add_status_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<StatusOptions>();
  auto* cmd = app.add_subcommand(
      "status",
      "Show a node's state: its unit and last LSN; per origin the watermark (seq held), the head "
      "its children reported and the lag, and how current the data is (data as of: the newest "
      "event's recordedAt, and its age); its parent links with their lag; the children connected "
      "to it, and the progress of taking its own events back from a parent (after its data dir "
      "was re-created or restored); the forks recorded in its data dir (another history of an "
      "origin on a link, with the first seq that differs); and its alerts (forks, re-created logs).");
  cmd->add_option("--data-dir", o->data_dir,
                  "the node's data dir, read safely while the node runs; the running node is then "
                  "asked at the address in DIR/rollcalld.address")
      ->type_name("DIR");
  cmd->add_option("--node", o->node,
                  "ask the running node at HOST:PORT (with --data-dir: instead of the address "
                  "file; it must be that data dir's node)")
      ->type_name("HOST:PORT");
  cmd->add_flag("--json", o->json,
                "one JSON object: unit, name, incarnation, lastLsn, now, dataAsOf, node "
                "({address, reachable, error}, or null when no address is known), parents, "
                "children, origins ({origin, name, seq, chainHash, newestRecordedAt, headSeq, "
                "headRecordedAt, lagEvents, parentSeq}), forks ({origin, peer, firstDifferingSeq, "
                "seenAt}) and alerts ({at, message}); a parent's takingBack is {from, next, to} or "
                "null; times are ISO-8601 UTC or null");
  cmd->add_flag("--tree", o->tree,
                "the node's whole subtree of nodes: each child node connected to it is asked in turn (at the "
                "address it says it serves clients on), and so on down; one line per node (connected since, "
                "events behind its parent, how current its data is, forks, alerts), then the origins held whose "
                "node is not connected now, stalest first. Needs the running node. --json: {now, nodesReached, "
                "top: {unit, name, address, reachable, error, connectedSince, lagEvents, dataAsOf, forks, "
                "alerts, children: [...]}, unreached: [{origin, seq, dataAsOf}]}");
  cmd->add_option("--timeout-ms", o->timeout_ms,
                  "how long to wait for the node's answer, connecting included (default 2000)")
      ->type_name("MS");
  cmd->footer(
      "Give --data-dir, --node or both. Parent links, children, the heads reported from below "
      "and alerts are known only to the running node: when it does not answer, status says so "
      "in one line (node: not running ...) and shows what the data dir holds; they are then "
      "empty in --json, with node null (no address known) or node.reachable false. Unit names "
      "come from the data dir's map, so --node alone shows codes only. A parent's lag is the sum "
      "over origins of the events this node holds that its current parent does not (shown for "
      "the connected parent); an origin's lag is the head reported from below minus the seq "
      "held.\n"
      "Exit codes: 0 shown (also when the node of --data-dir does not answer); 2 could not run "
      "(neither flag, a missing or non-rollcall data dir, a --node that gives no status).");
  add_credential_options(cmd, o->credentials);
  cmd->callback([o, &exit_code] { exit_code = run_status(*o); });
}

}  // namespace rollcall::cli
