#include "node/metrics_text.h"

#include <capnp/schema.h>

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
  // A histogram's _bucket (cumulative, with +Inf), _sum and _count samples.
  void histogram(const char* name, const std::string& labels, const LatencyHistogram& h) {
    const std::string bucket = std::string(name) + "_bucket";
    const std::string prefix = labels.empty() ? "" : labels + ",";
    char bound[40];
    for (size_t i = 0; i < LatencyHistogram::kBounds.size(); ++i) {
      std::snprintf(bound, sizeof bound, "%g", LatencyHistogram::kBounds[i]);
      sample(bucket.c_str(), prefix + "le=\"" + bound + "\"", static_cast<double>(h.cumulative(i)));
    }
    // Read the total once: the +Inf bucket and _count must agree even while observations land.
    const uint64_t count = h.count();
    sample(bucket.c_str(), prefix + "le=\"+Inf\"", static_cast<double>(count));
    sample((std::string(name) + "_sum").c_str(), labels, h.sum_seconds());
    sample((std::string(name) + "_count").c_str(), labels, static_cast<double>(count));
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

double number(uint64_t n) { return static_cast<double>(n); }

// The capnp name of a reject code (invalid, unknownUnit...): the label is the wire's own word.
std::string reject_reason(size_t code) {
  const auto enumerants = capnp::Schema::from<wire::RejectCode>().getEnumerants();
  return code < enumerants.size() ? enumerants[code].getProto().getName().cStr() : std::to_string(code);
}

}  // namespace

std::string prometheus_text(wire::NodeStatus::Reader s, const NodeMetrics& m, const StorageFigures& storage) {
  Exposition out;
  const std::string node = label("unit", s.getUnit().cStr());

  out.family("rollcall_log_last_lsn", "gauge", "LSN of the newest event in the node's log (events it holds).");
  out.sample("rollcall_log_last_lsn", node, static_cast<double>(s.getLastLsn()));
  out.family("rollcall_log_size_bytes", "gauge", "Bytes of every file under the node's data dir.");
  out.sample("rollcall_log_size_bytes", node, number(storage.dir_bytes));
  out.family("rollcall_disk_free_bytes", "gauge", "Bytes free on the data dir's file system.");
  if (storage.free_bytes) out.sample("rollcall_disk_free_bytes", node, number(*storage.free_bytes));
  out.family("rollcall_disk_min_free_bytes", "gauge",
             "The free-space reserve: below it the node refuses appends (storageFull) rather than fill the disk.");
  out.sample("rollcall_disk_min_free_bytes", node, number(storage.min_free_bytes));
  out.family("rollcall_disk_cap_bytes", "gauge", "The configured cap on the data dir's bytes (0: none).");
  out.sample("rollcall_disk_cap_bytes", node, number(storage.max_dir_bytes));

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
  out.family("rollcall_origin_lag_seconds", "gauge",
             "Per origin, how much older the newest event the node holds is than the head its children reported (0 when none reported).");
  for (auto o : s.getOrigins())
    if (o.getNewestRecordedAt() != 0)  // nothing held yet: no "as of" to measure from
      out.sample("rollcall_origin_lag_seconds", node + "," + label("origin", o.getOrigin().cStr()),
                 o.getHeadSeq() > o.getSeq() && o.getHeadRecordedAt() > o.getNewestRecordedAt()
                     ? seconds_between(o.getNewestRecordedAt(), o.getHeadRecordedAt())
                     : 0.0);
  out.family("rollcall_origin_unsent_events", "gauge",
             "Per origin, events the node holds that its parent does not yet (only on a node with parents).");
  if (s.getParents().size() > 0)
    for (auto o : s.getOrigins())
      out.sample("rollcall_origin_unsent_events", node + "," + label("origin", o.getOrigin().cStr()),
                 o.getSeq() > o.getParentSeq() ? static_cast<double>(o.getSeq() - o.getParentSeq()) : 0.0);
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

  out.family("rollcall_events_appended_total", "counter",
             "Events the node appended since it started: its own submits, and relayed (children's batches, imports, events taken back).");
  out.sample("rollcall_events_appended_total", node + "," + label("source", "own"), number(NodeMetrics::get(m.appended_own)));
  out.sample("rollcall_events_appended_total", node + "," + label("source", "relayed"),
             number(NodeMetrics::get(m.appended_relayed)));
  out.family("rollcall_events_rejected_total", "counter", "Submitted events the node refused since it started, by reason.");
  for (size_t code = 0; code < m.rejected.size(); ++code)
    out.sample("rollcall_events_rejected_total", node + "," + label("reason", reject_reason(code)),
               number(NodeMetrics::get(m.rejected[code])));
  out.family("rollcall_events_duplicate_total", "counter",
             "Relayed events the node already held (a batch resent after a lost acknowledgement).");
  out.sample("rollcall_events_duplicate_total", node, number(NodeMetrics::get(m.duplicates)));

  out.family("rollcall_replication_bytes_total", "counter",
             "Replication bytes on the wire since the node started, on its parent links and its children's.");
  const auto bytes = [&](const char* link, const char* direction, const NodeMetrics::Counter& c) {
    out.sample("rollcall_replication_bytes_total", node + "," + label("link", link) + "," + label("direction", direction),
               number(NodeMetrics::get(c)));
  };
  bytes("parent", "sent", m.parent_bytes_sent);
  bytes("parent", "received", m.parent_bytes_received);
  bytes("child", "sent", m.child_bytes_sent);
  bytes("child", "received", m.child_bytes_received);

  out.family("rollcall_ingest_in_flight_bytes", "gauge", "Bytes of submits and child batches taken and not answered yet.");
  out.sample("rollcall_ingest_in_flight_bytes", node, number(m.in_flight_bytes.load(std::memory_order_relaxed)));
  out.family("rollcall_ingest_in_flight_limit_bytes", "gauge",
             "The in-flight budget: past it the node stops reading its peers until the writer catches up.");
  out.sample("rollcall_ingest_in_flight_limit_bytes", node, number(m.in_flight_limit_bytes));
  out.family("rollcall_ingest_backpressure_total", "counter",
             "Times a session stopped reading its peer because the in-flight budget was spent.");
  out.sample("rollcall_ingest_backpressure_total", node, number(NodeMetrics::get(m.backpressure)));
  out.family("rollcall_commit_queue_requests", "gauge", "Requests waiting for the node's writer.");
  out.sample("rollcall_commit_queue_requests", node, number(m.commit_queue_requests.load(std::memory_order_relaxed)));

  out.family("rollcall_commit_duration_seconds", "histogram",
             "Time the writer took to apply and sync one commit: a run of submits, or one child's batch.");
  out.histogram("rollcall_commit_duration_seconds", node + "," + label("kind", "submit"), m.commit_submit);
  out.histogram("rollcall_commit_duration_seconds", node + "," + label("kind", "ingest"), m.commit_ingest);
  out.family("rollcall_uplink_round_trip_seconds", "histogram", "Time from sending a batch to a parent until its acknowledgement.");
  out.histogram("rollcall_uplink_round_trip_seconds", node, m.uplink_round_trip);
  out.family("rollcall_relay_latency_seconds", "histogram",
             "Time from a relayed batch's newest event being recorded at its origin until this node held it.");
  out.histogram("rollcall_relay_latency_seconds", node, m.relay_latency);

  out.family("rollcall_rocksdb_pending_compaction_bytes", "gauge",
             "RocksDB's estimate of bytes compaction must rewrite; when it grows, write stalls follow.");
  out.sample("rollcall_rocksdb_pending_compaction_bytes", node, number(storage.pending_compaction_bytes));
  out.family("rollcall_rocksdb_running_compactions", "gauge", "RocksDB compactions running now.");
  out.sample("rollcall_rocksdb_running_compactions", node, number(storage.running_compactions));
  out.family("rollcall_rocksdb_memtable_bytes", "gauge", "Bytes of RocksDB's memtables.");
  out.sample("rollcall_rocksdb_memtable_bytes", node, number(storage.memtable_bytes));
  out.family("rollcall_rocksdb_write_stopped", "gauge", "1 while RocksDB stops writes (too many memtables or L0 files).");
  out.sample("rollcall_rocksdb_write_stopped", node, storage.write_stopped ? 1 : 0);
  out.family("rollcall_rocksdb_write_delayed", "gauge", "1 while RocksDB slows writes down.");
  out.sample("rollcall_rocksdb_write_delayed", node, storage.write_delayed ? 1 : 0);
  out.family("rollcall_rocksdb_write_stall_seconds_total", "counter", "Seconds writes were held back by RocksDB since the node started.");
  out.sample("rollcall_rocksdb_write_stall_seconds_total", node, static_cast<double>(storage.stall_micros) / 1e6);

  out.family("rollcall_start_time_seconds", "gauge", "When the node started, in seconds since the Unix epoch.");
  out.sample("rollcall_start_time_seconds", node, static_cast<double>(m.start_time_us) / 1e6);
  return out.take();
}

}  // namespace rollcall
