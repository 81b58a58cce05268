#include "node/metrics_text.h"

#include <cstdio>
#include <string_view>

namespace rollcall {
namespace {

// A label value with \, " and newlines escaped, as the exposition format wants.
std::string label_value(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

class Exposition {
 public:
  // HELP and TYPE lines, once per metric family.
  void family(const char* name, const char* type, const char* help) {
    text_ += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  }
  // One sample: name{labels} value. `labels` is already `key="value",...` or empty.
  void sample(const char* name, const std::string& labels, double value) {
    char number[40];
    std::snprintf(number, sizeof number, "%.17g", value);
    text_ += name;
    if (!labels.empty()) text_ += "{" + labels + "}";
    text_ += " ";
    text_ += number;
    text_ += "\n";
  }
  std::string take() { return std::move(text_); }

 private:
  std::string text_;
};

std::string label(const char* key, std::string_view value) {
  return std::string(key) + "=\"" + label_value(value) + "\"";
}

double seconds_between(int64_t from_us, int64_t to_us) {
  return static_cast<double>(to_us - from_us) / 1e6;
}

}  // namespace

std::string prometheus_text(wire::NodeStatus::Reader s) {
  Exposition out;
  const std::string node = label("unit", s.getUnit().cStr());

  out.family("rollcall_log_last_lsn", "gauge", "LSN of the newest event in the node's log (events it holds).");
  out.sample("rollcall_log_last_lsn", node, static_cast<double>(s.getLastLsn()));

  out.family("rollcall_origin_watermark_seq", "gauge",
             "Per origin, the highest seq the node holds with no gap below it.");
  for (auto o : s.getOrigins())
    out.sample("rollcall_origin_watermark_seq", node + "," + label("origin", o.getOrigin().cStr()),
               static_cast<double>(o.getSeq()));
  out.family("rollcall_origin_lag_events", "gauge",
             "Per origin, events its children reported that the node does not hold yet (0 when none reported).");
  for (auto o : s.getOrigins())
    out.sample("rollcall_origin_lag_events", node + "," + label("origin", o.getOrigin().cStr()),
               o.getHeadSeq() > o.getSeq() ? static_cast<double>(o.getHeadSeq() - o.getSeq()) : 0.0);
  out.family("rollcall_origin_data_age_seconds", "gauge",
             "Per origin, how old the newest event the node holds is (its recordedAt against the node's clock).");
  for (auto o : s.getOrigins())
    if (o.getNewestRecordedAt() != 0)
      out.sample("rollcall_origin_data_age_seconds", node + "," + label("origin", o.getOrigin().cStr()),
                 seconds_between(o.getNewestRecordedAt(), s.getNow()));

  out.family("rollcall_parent_connected", "gauge", "Per configured parent, 1 while a replication session streams to it.");
  for (auto p : s.getParents())
    out.sample("rollcall_parent_connected",
               node + "," + label("parent", p.getAddress().cStr()) + "," + label("rank", std::to_string(p.getRank())),
               p.getConnected() ? 1 : 0);
  out.family("rollcall_parent_acked_events_total", "counter",
             "Per configured parent, events it acknowledged since the node started.");
  for (auto p : s.getParents())
    out.sample("rollcall_parent_acked_events_total", node + "," + label("parent", p.getAddress().cStr()),
               static_cast<double>(p.getEventsAcked()));
  out.family("rollcall_taking_back_remaining_events", "gauge",
             "Events of the node's own origin it still has to take back from a parent (its data dir was re-created or restored).");
  uint64_t remaining = 0;
  for (auto p : s.getParents())
    if (p.getTakingBackTo() >= p.getTakingBackNext() && p.getTakingBackTo() > 0)
      remaining += p.getTakingBackTo() - p.getTakingBackNext() + 1;
  out.sample("rollcall_taking_back_remaining_events", node, static_cast<double>(remaining));

  out.family("rollcall_children_connected", "gauge", "Child nodes with a replication session to this node now.");
  out.sample("rollcall_children_connected", node, static_cast<double>(s.getChildren().size()));

  out.family("rollcall_forks", "gauge",
             "Forks recorded in the data dir (another history of an origin on a link), kept until an operator resolves them.");
  out.sample("rollcall_forks", node, static_cast<double>(s.getForks().size()));
  out.family("rollcall_fork_first_seq", "gauge",
             "Per recorded fork, the first seq whose events differ (0: not known).");
  for (auto f : s.getForks())
    out.sample("rollcall_fork_first_seq",
               node + "," + label("origin", f.getOrigin().cStr()) + "," + label("peer", f.getPeer().cStr()),
               static_cast<double>(f.getFirstSeq()));

  out.family("rollcall_alerts", "gauge", "Alerts the node keeps (the newest 100 since it started).");
  out.sample("rollcall_alerts", node, static_cast<double>(s.getAlerts().size()));
  return out.take();
}

}  // namespace rollcall
