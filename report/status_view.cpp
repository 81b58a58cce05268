// Rendering of `rollcall status`: aligned text tables (cli/text_table.h) or one JSON object
// (cli/json_out.h). Times are shown in UTC, ages against StatusView::now.
#include "report/status_view.h"

#include <algorithm>
#include <cstdio>

#include "report/json_out.h"
#include "report/text_table.h"
#include "engine/replication.h"

namespace rollcall::cli {
namespace {

std::string hex64(uint64_t value) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(value));
  return buf;
}

std::string null_if_empty(const std::string& text) {
  return text.empty() ? "null" : json_string(text);
}

uint64_t origin_lag(const OriginState& o) {
  return o.head_seq > o.seq ? o.head_seq - o.seq : 0;
}

const ParentLinkState* connected_parent(const NodeState& s) {
  for (const ParentLinkState& p : s.parents)
    if (p.connected) return &p;
  return nullptr;
}

std::string node_line(const NodeContact& node) {
  if (node.reachable) return "node: running at " + node.address;
  if (node.address.empty()) return "node: not running (" + node.problem + ")";
  if (node.refused) return "node: not running (no answer at " + node.address + ")";
  return "node: no status (" + node.problem + ")";
}

void print_parents(const StatusView& v, std::ostream& out) {
  if (v.state.parents.empty()) {
    out << "\nparents: none (the node runs without --parent)\n";
    return;
  }
  out << "\nparents, in order of preference:\n";
  TextTable table(
      {"RANK", "ADDRESS", "UNIT", "CONNECTED", "LAST ACK", "LAG (EVENTS)", "LAST ERROR"});
  table.align_right(0);
  table.align_right(5);
  const std::string lag = std::to_string(parent_lag_events(v.state));
  for (const ParentLinkState& p : v.state.parents)
    table.add({std::to_string(p.rank), p.address, p.unit.empty() ? "?" : p.unit,
               p.connected ? "since " + when(p.connected_since) : "no", ago(p.last_ack_at, v.now),
               p.connected ? lag : "-", p.last_error});
  table.print(out);
  for (const ParentLinkState& p : v.state.parents) {
    if (p.taking_back_to == 0) continue;
    out << "taking back seqs " << p.taking_back_from << ".." << p.taking_back_to << " of this node's own origin "
        << v.state.unit << " from parent " << (p.unit.empty() ? p.address : p.unit) << ": "
        << p.taking_back_next - p.taking_back_from << " of " << p.taking_back_to - p.taking_back_from + 1
        << " taken; submits are refused until then\n";
  }
  if (!connected_parent(v.state))
    out << "no parent connected: what this node appends waits here until one answers\n";
}

void print_children(const StatusView& v, std::ostream& out) {
  if (v.state.children.empty()) {
    out << "\nchildren: none connected\n";
    return;
  }
  out << "\nchildren connected: " << v.state.children.size() << "\n";
  TextTable table({"UNIT", "NAME", "ADDRESS", "CONNECTED SINCE", "LAST MESSAGE", "APPLIED",
                   "DUPLICATES", "INCARNATION"});
  table.align_right(5);
  table.align_right(6);
  for (const ChildLinkState& c : v.state.children)
    table.add({c.unit, v.name_of(c.unit), c.address, when(c.connected_since),
               ago(c.last_message_at, v.now), std::to_string(c.events_applied),
               std::to_string(c.events_duplicate), incarnation_hex(c.incarnation).substr(0, 8)});
  table.print(out);
}

void print_origins(const StatusView& v, std::ostream& out) {
  if (v.state.origins.empty()) {
    out << "\norigins: none held\n";
    return;
  }
  out << "\norigins: " << v.state.origins.size() << "\n";
  // Heads reported from below are known only to the running node.
  TextTable table(
      v.live ? std::vector<std::string>{"ORIGIN", "NAME", "SEQ", "HEAD BELOW", "LAG",
                                        "DATA AS OF (UTC)", "AGE"}
             : std::vector<std::string>{"ORIGIN", "NAME", "SEQ", "DATA AS OF (UTC)", "AGE"});
  for (size_t column = 2; column < (v.live ? 5u : 3u); ++column) table.align_right(column);
  for (const OriginState& o : v.state.origins) {
    std::vector<std::string> row = {o.origin, v.name_of(o.origin), std::to_string(o.seq)};
    if (v.live) {
      row.push_back(o.head_seq > 0 ? std::to_string(o.head_seq) : "");
      row.push_back(o.head_seq > 0 ? std::to_string(origin_lag(o)) : "");
    }
    row.push_back(when(o.newest_recorded_at));
    row.push_back(age(o.newest_recorded_at, v.now));
    table.add(std::move(row));
  }
  table.print(out);
}

void print_forks(const StatusView& v, std::ostream& out) {
  if (v.state.forks.empty()) {
    out << "\nforks: none\n";
    return;
  }
  out << "\nFORKS: " << v.state.forks.size()
      << " (another history of an origin on a link: refused, never merged, kept until resolved)\n";
  TextTable table({"ORIGIN", "PEER", "FIRST DIFFERING SEQ", "SEEN (UTC)"});
  table.align_right(2);
  for (const ForkState& f : v.state.forks)
    table.add({f.origin, f.peer, f.first_seq > 0 ? std::to_string(f.first_seq) : "unknown", when(f.seen_at)});
  table.print(out);
}

void print_alerts(const StatusView& v, std::ostream& out) {
  if (v.state.alerts.empty()) {
    out << "\nalerts: none\n";
    return;
  }
  out << "\nalerts: " << v.state.alerts.size() << ", oldest first\n";
  for (const AlertState& a : v.state.alerts) out << when(a.at) << " UTC  " << a.message << "\n";
}

std::string array(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ",") + item;
  return "[" + out + "]";
}

}  // namespace

// "2026-11-25 12:30:00"; "-" for 0 (never, unknown).
std::string when(Timestamp t) {
  if (t.micros == 0) return "-";
  std::string text = t.to_string().substr(0, 19);
  text[10] = ' ';
  return text;
}

// "45s", "12m", "3h 05m", "2d 04h": how long before `now`; "-" for 0.
std::string age(Timestamp t, Timestamp now) {
  if (t.micros == 0) return "-";
  const int64_t s = std::max<int64_t>(0, (now.micros - t.micros) / 1'000'000);
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%lldm", static_cast<long long>(s / 60));
  else if (s < 86400)
    std::snprintf(buf, sizeof buf, "%lldh %02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60));
  else
    std::snprintf(buf, sizeof buf, "%lldd %02lldh", static_cast<long long>(s / 86400),
                  static_cast<long long>(s / 3600 % 24));
  return buf;
}

std::string ago(Timestamp t, Timestamp now) {
  return t.micros == 0 ? "never" : age(t, now) + " ago";
}

std::string iso_or_null(Timestamp t) {
  return t.micros == 0 ? "null" : json_string(t.to_string());
}
// The newest event held of any origin: how current the node's data is.
Timestamp data_as_of(const NodeState& s) {
  Timestamp newest;
  for (const OriginState& o : s.origins) newest = std::max(newest, o.newest_recorded_at);
  return newest;
}

std::string dialable_address(std::string address) {
  if (address.starts_with("0.0.0.0:")) return "127.0.0.1" + address.substr(7);
  if (address.starts_with("[::]:")) return "[::1]" + address.substr(4);
  return address;
}

uint64_t parent_lag_events(const NodeState& state) {
  uint64_t lag = 0;
  for (const OriginState& o : state.origins) lag += o.seq > o.parent_seq ? o.seq - o.parent_seq : 0;
  return lag;
}

void print_status_text(const StatusView& v, std::ostream& out) {
  const NodeState& s = v.state;
  const std::string name = v.name_of(s.unit);
  out << "unit " << s.unit << (name.empty() ? "" : " " + name) << ", last LSN " << s.last_lsn.value
      << ", incarnation " << (s.incarnation.empty() ? "unknown" : incarnation_hex(s.incarnation)) << "\n";
  const Timestamp newest = data_as_of(s);
  if (newest.micros == 0)
    out << "data as of: no events held yet\n";
  else
    out << "data as of " << when(newest) << " UTC (" << age(newest, v.now) << " ago)\n";
  out << node_line(v.node) << "\n";
  if (v.live) {
    print_parents(v, out);
    print_children(v, out);
  } else {
    out << "\nparents, children and alerts: unknown (only the running node knows them)\n";
  }
  print_origins(v, out);
  print_forks(v, out);
  if (v.live) print_alerts(v, out);
}

void print_status_json(const StatusView& v, std::ostream& out) {
  const NodeState& s = v.state;
  const ParentLinkState* current = connected_parent(s);
  std::vector<std::string> parents, children, origins, alerts, forks;
  for (const ParentLinkState& p : s.parents) {
    JsonObject o;
    o.add("rank", uint64_t{p.rank})
        .add("address", p.address)
        .raw("unit", null_if_empty(p.unit))
        .add("connected", p.connected)
        .raw("connectedSince", iso_or_null(p.connected_since))
        .raw("lastAckAt", iso_or_null(p.last_ack_at))
        .add("eventsAcked", p.events_acked)
        .raw("lagEvents", &p == current ? std::to_string(parent_lag_events(s)) : "null")
        .raw("lastError", null_if_empty(p.last_error));
    if (p.taking_back_to > 0)
      o.raw("takingBack", JsonObject()
                              .add("from", p.taking_back_from)
                              .add("next", p.taking_back_next)
                              .add("to", p.taking_back_to)
                              .str());
    else
      o.raw("takingBack", "null");
    parents.push_back(o.str());
  }
  for (const ChildLinkState& c : s.children) {
    JsonObject o;
    o.add("unit", c.unit)
        .raw("name", null_if_empty(v.name_of(c.unit)))
        .add("address", c.address)
        .add("incarnation", incarnation_hex(c.incarnation))
        .raw("connectedSince", iso_or_null(c.connected_since))
        .raw("lastMessageAt", iso_or_null(c.last_message_at))
        .add("eventsApplied", c.events_applied)
        .add("eventsDuplicate", c.events_duplicate);
    children.push_back(o.str());
  }
  for (const OriginState& os : s.origins) {
    JsonObject o;
    o.add("origin", os.origin)
        .raw("name", null_if_empty(v.name_of(os.origin)))
        .add("seq", os.seq)
        .raw("chainHash", os.chain_hash ? json_string(hex64(*os.chain_hash)) : "null")
        .raw("newestRecordedAt", iso_or_null(os.newest_recorded_at))
        .add("headSeq", os.head_seq)
        .raw("headRecordedAt", iso_or_null(os.head_recorded_at))
        .add("lagEvents", origin_lag(os))
        .add("parentSeq", os.parent_seq);
    origins.push_back(o.str());
  }
  for (const ForkState& f : s.forks)
    forks.push_back(JsonObject()
                        .add("origin", f.origin)
                        .add("peer", f.peer)
                        .raw("firstDifferingSeq", f.first_seq > 0 ? std::to_string(f.first_seq) : "null")
                        .raw("seenAt", iso_or_null(f.seen_at))
                        .str());
  for (const AlertState& a : s.alerts)
    alerts.push_back(JsonObject().raw("at", iso_or_null(a.at)).add("message", a.message).str());

  std::string node = "null";
  if (!v.node.address.empty())
    node = JsonObject()
               .add("address", v.node.address)
               .add("reachable", v.node.reachable)
               .raw("error", v.node.reachable ? "null" : json_string(v.node.problem))
               .str();
  JsonObject o;
  o.add("unit", s.unit)
      .raw("name", null_if_empty(v.name_of(s.unit)))
      .raw("incarnation", s.incarnation.empty() ? "null" : json_string(incarnation_hex(s.incarnation)))
      .add("lastLsn", s.last_lsn.value)
      .raw("now", iso_or_null(v.now))
      .raw("dataAsOf", iso_or_null(data_as_of(s)))
      .raw("node", node)
      .raw("parents", array(parents))
      .raw("children", array(children))
      .raw("origins", array(origins))
      .raw("forks", array(forks))
      .raw("alerts", array(alerts));
  out << o.str() << "\n";
}

}  // namespace rollcall::cli
