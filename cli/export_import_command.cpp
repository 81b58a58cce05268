// rollcall export | import: a node's log as JSON lines, and those lines into another node.
//
// export reads a data dir beside the running node (or a stopped one) and writes every event it
// holds, in log order, as the event JSON with origin, seq and recordedAt: each origin's events
// in seq order, which is what import needs.
//
// import hands such lines to a node as a child's batches would be: all or nothing per batch of
// 1,000, an origin:seq the node already holds skipped when its content is the same (so an
// import is idempotent, and an interrupted one is simply run again), a fork or a gap refused,
// and only events of the node's subtree. To a running node (--node, the `import` message of
// docs/protocol.md) or into a stopped node's data dir (--data-dir, which it opens as the writer).
// The use: carrying a commune's log to its district by hand while the link is down for days,
// or refilling a node.
#include <capnp/message.h>
#include <sys/stat.h>

#include <deque>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <set>

#include "cli/commands.h"
#include "cli/credential_options.h"
#include "report/json_out.h"
#include "cli/node_client.h"
#include "cli/progress_line.h"
#include "engine/event_fields.h"
#include "engine/event_json.h"
#include "engine/event_log.h"
#include "engine/protocol.h"
#include "engine/replication.h"

namespace rollcall::cli {
namespace {

struct ExportOptions {
  std::string data_dir;
  std::vector<std::string> origins;
  std::string output = "-";
};

struct ImportOptions {
  std::string data_dir;
  std::string node;
  std::string file = "-";
  bool json = false;
  int timeout_ms = 5000;
  ClientCredentials credentials;
};

constexpr size_t kImportBatchEvents = 1000;
constexpr size_t kImportBatchBytes = 1u << 20;

int run_export(const ExportOptions& o) {
  constexpr std::string_view kCommand = "export";
  if (o.data_dir.empty()) return report(kCommand, "--data-dir is required");
  auto log = EventLog::open_reader(o.data_dir);
  if (!log.ok()) return report(kCommand, log.error().message());
  std::set<std::string> origins;
  for (const std::string& text : o.origins) {
    auto origin = UnitCode::parse(text);
    if (!origin.ok()) return report(kCommand, "--origin: " + origin.error().message());
    const auto map = (*log)->map();  // the current map: units registered by map events too
    if (!map) return report(kCommand, (*log)->seed_map().error().message());
    if (!map->contains(*origin)) return report(kCommand, "--origin: unknown unit '" + text + "' in this data dir's map");
    origins.insert(origin->str());
  }
  std::ofstream file;
  std::ostream* out = &std::cout;
  if (o.output != "-") {
    file.open(o.output, std::ios::trunc);
    if (!file) return report(kCommand, "cannot write '" + o.output + "'");
    out = &file;
  }
  // Up to the LSN held now: a node that goes on appending meanwhile does not make it endless.
  const uint64_t last = (*log)->last_lsn().value;
  const EventJson json;
  ProgressLine progress("exported");
  const auto report_progress = progress.callback();
  uint64_t written = 0;
  std::set<std::string> seen;
  for (uint64_t next = 1; next <= last;) {
    auto events = (*log)->read(Lsn{next}, 10000);
    if (!events.ok()) return report(kCommand, events.error().message());
    if (events->empty()) break;
    for (const LoggedEvent& logged : *events) {
      if (logged.lsn.value > last) break;
      auto e = logged.event();
      const std::string origin(text_view(e.getOrigin()));
      if (!origins.empty() && origins.count(origin) == 0) continue;
      *out << json.format(e) << "\n";
      seen.insert(origin);
      ++written;
    }
    next = events->back().lsn.value + 1;
    report_progress(std::min(next - 1, last), last);
  }
  out->flush();
  if (!*out) return report(kCommand, "writing '" + o.output + "' failed");
  std::cerr << "rollcall export: " << written << " events of " << seen.size() << (seen.size() == 1 ? " origin" : " origins") << " from node "
            << (*log)->unit().str() << " (LSN 1.." << last << ")\n";
  return kExitOk;
}

// One batch of parsed lines. The events are orphans of `message`, so they are declared after it
// (destroyed first) and cleared before it is replaced.
struct ImportBatch {
  size_t first_line = 0, last_line = 0;
  std::unique_ptr<capnp::MallocMessageBuilder> message = std::make_unique<capnp::MallocMessageBuilder>();
  std::vector<capnp::Orphan<schema::Event>> events;
  size_t bytes = 0;

  void reset() {
    events.clear();
    message = std::make_unique<capnp::MallocMessageBuilder>();
    bytes = 0;
  }
};

// Where import writes: a running node over the wire, or a stopped node's data dir.
class ImportTarget {
 public:
  virtual ~ImportTarget() = default;
  virtual const std::string& unit() const = 0;
  virtual Result<IngestReport> ingest(const std::vector<schema::Event::Reader>& events) = 0;
};

class NodeTarget : public ImportTarget {
 public:
  explicit NodeTarget(std::unique_ptr<NodeClient> client) : client_(std::move(client)) {}
  const std::string& unit() const override { return client_->node_unit(); }
  Result<IngestReport> ingest(const std::vector<schema::Event::Reader>& events) override {
    capnp::MallocMessageBuilder message;
    auto import = message.initRoot<wire::Message>().initImport();
    import.setRequestTag(++tag_);
    auto list = import.initEvents(static_cast<unsigned>(events.size()));
    for (unsigned i = 0; i < events.size(); ++i) list.setWithCaveats(i, events[i]);
    ROLLCALL_TRY(client_->send(message));
    auto frame = client_->receive();
    if (!frame.ok()) return frame.error();
    auto reply = (*frame)->root<wire::Message>();
    if (!reply.isImportResult() || reply.getImportResult().getRequestTag() != tag_)
      return Error(ErrorKind::kProtocol, "the node answered the import with something else");
    auto result = reply.getImportResult();
    if (!result.getOk())
      return Error(ErrorKind::kConflict, result.getMessage().cStr());
    return IngestReport{result.getApplied(), result.getDuplicates()};
  }

 private:
  std::unique_ptr<NodeClient> client_;
  uint64_t tag_ = 0;
};

class DataDirTarget : public ImportTarget {
 public:
  static Result<std::unique_ptr<DataDirTarget>> open(const std::string& dir) {
    auto target = std::unique_ptr<DataDirTarget>(new DataDirTarget());
    {
      auto reader = EventLog::open_reader(dir);  // closed again before the writer opens
      if (!reader.ok()) return reader.error();
      target->unit_ = (*reader)->unit().str();
      auto map = (*reader)->seed_map();
      if (!map.ok()) return map.error();
      target->map_ = std::make_unique<UnitMap>(std::move(map).value());
    }
    LogOptions options;
    options.dir = dir;
    options.unit = UnitCode::trusted(target->unit_);
    auto log = EventLog::open_writer(options, *target->map_);
    if (!log.ok()) {
      if (log.error().kind() == ErrorKind::kUnavailable)
        return Error(ErrorKind::kUnavailable, "the node runs: import with --node HOST:PORT, or stop rollcalld first (" +
                                                  log.error().message() + ")");
      return log.error();
    }
    target->log_ = std::move(log).value();
    return target;
  }
  const std::string& unit() const override { return unit_; }
  Result<IngestReport> ingest(const std::vector<schema::Event::Reader>& events) override {
    SubtreeCheck subtree(log_->map(), log_->unit());
    for (auto e : events)
      if (auto outside = subtree.outside(e)) return Error(ErrorKind::kUnauthorized, *outside);
    return log_->ingest(events);
  }

 private:
  DataDirTarget() = default;
  std::string unit_;
  std::unique_ptr<UnitMap> map_;  // outlives the log
  std::unique_ptr<EventLog> log_;
};

int run_import(const ImportOptions& o) {
  constexpr std::string_view kCommand = "import";
  if (o.data_dir.empty() == o.node.empty())
    return report(kCommand, "give --node HOST:PORT (a running node) or --data-dir DIR (a stopped node's data dir)");
  std::ifstream file_stream;
  std::istream* in = &std::cin;
  uint64_t total_bytes = 0;
  if (o.file != "-") {
    file_stream.open(o.file);
    if (!file_stream) return report(kCommand, "cannot open '" + o.file + "'");
    in = &file_stream;
    struct stat info{};
    if (::stat(o.file.c_str(), &info) == 0 && S_ISREG(info.st_mode)) total_bytes = static_cast<uint64_t>(info.st_size);
  }
  std::unique_ptr<ImportTarget> target;
  if (!o.node.empty()) {
    auto client = NodeClient::connect(o.node, std::chrono::milliseconds(o.timeout_ms), o.credentials.with_env_defaults());
    if (!client.ok()) return report(kCommand, client.error().message());
    target = std::make_unique<NodeTarget>(std::move(client).value());
  } else {
    auto opened = DataDirTarget::open(o.data_dir);
    if (!opened.ok()) return report(kCommand, opened.error().message());
    target = std::move(opened).value();
  }

  const EventJson json;
  ProgressLine progress("imported", "bytes");
  const auto report_progress = progress.callback();
  uint64_t lines = 0, applied = 0, duplicates = 0, bytes_read = 0;
  std::string problem;
  const auto finish = [&](int code) {
    if (o.json) {
      std::cout << JsonObject()
                       .add("lines", lines)
                       .add("applied", applied)
                       .add("duplicates", duplicates)
                       .raw("error", problem.empty() ? "null" : json_string(problem))
                       .str()
                << "\n";
    } else if (!problem.empty()) {
      std::cerr << "rollcall import: " << problem << "\n";
    }
    std::cerr << "rollcall import: " << lines << " lines read, " << applied << " events imported, " << duplicates
              << " already held (node " << target->unit() << ")"
              << (problem.empty() || applied + duplicates == 0
                      ? ""
                      : "; the batches before the problem are imported, and running the import again skips them")
              << "\n";
    return code;
  };
  const auto flush = [&](ImportBatch& batch) -> bool {
    if (batch.events.empty()) return true;
    std::vector<schema::Event::Reader> readers;
    for (auto& orphan : batch.events) readers.push_back(orphan.getReader());
    auto result = target->ingest(readers);
    if (!result.ok()) {
      problem = "lines " + std::to_string(batch.first_line) + ".." + std::to_string(batch.last_line) +
                " not imported: " + result.error().message();
      return false;
    }
    applied += result->applied;
    duplicates += result->duplicates;
    report_progress(bytes_read, total_bytes);
    batch.reset();
    return true;
  };

  ImportBatch batch;
  for (std::string line; std::getline(*in, line);) {
    ++lines;
    bytes_read += line.size() + 1;
    if (line.empty()) continue;
    auto orphan = batch.message->getOrphanage().newOrphan<schema::Event>();
    auto parsed = json.parse(line, orphan.get());
    if (!parsed.ok()) {
      if (!flush(batch)) return finish(kExitProblem);
      problem = "line " + std::to_string(lines) + ": " + parsed.error().message();
      return finish(kExitProblem);
    }
    if (!orphan.get().hasOrigin() || orphan.get().getSeq() == 0) {
      if (!flush(batch)) return finish(kExitProblem);
      problem = "line " + std::to_string(lines) +
                ": an imported event needs its origin and seq (lines of `rollcall export`, not of `submit`)";
      return finish(kExitProblem);
    }
    if (batch.events.empty()) batch.first_line = lines;
    batch.last_line = lines;
    batch.bytes += line.size();
    batch.events.push_back(std::move(orphan));
    if (batch.events.size() >= kImportBatchEvents || batch.bytes >= kImportBatchBytes)
      if (!flush(batch)) return finish(kExitProblem);
  }
  if (!flush(batch)) return finish(kExitProblem);
  return finish(kExitOk);
}

}  // namespace

void add_export_import_commands(CLI::App& app, int& exit_code) {
  auto e = std::make_shared<ExportOptions>();
  auto* exp = app.add_subcommand(
      "export",
      "Write every event a node holds as JSON lines (the event JSON with origin, seq and recordedAt), in log "
      "order: what `rollcall import` takes. Reads the data dir safely while the node runs; stops at the newest "
      "event held when it starts.");
  exp->add_option("--data-dir", e->data_dir, "the node's data dir")->required()->type_name("DIR");
  exp->add_option("--origin", e->origins, "only the events first appended by this unit's node (repeatable)")
      ->type_name("CODE");
  exp->add_option("--output,-o", e->output, "write to this file instead of standard output")->type_name("FILE");
  exp->footer("A summary goes to stderr, and progress on long runs. Exit codes: 0 written; 2 could not run (a "
              "missing data dir, a bad --origin, an unwritable output).");
  exp->callback([e, &exit_code] { exit_code = run_export(*e); });

  auto i = std::make_shared<ImportOptions>();
  auto* imp = app.add_subcommand(
      "import",
      "Hand JSON lines of `rollcall export` (events with their origin and seq) to a node: to a running node "
      "(--node) or into a stopped node's data dir (--data-dir). Batches of 1,000 are written all or nothing; "
      "an event the node already holds with the same content is skipped, so an import can be run again; a fork "
      "(the same origin:seq with other content), a gap in an origin's seqs and an event from outside the node's "
      "subtree are refused, naming the lines.");
  imp->add_option("file", i->file, "JSON-lines file, or - for standard input (default)");
  imp->add_option("--node", i->node, "HOST:PORT of a running node")->type_name("HOST:PORT");
  imp->add_option("--data-dir", i->data_dir, "a stopped node's data dir, opened as its writer")->type_name("DIR");
  imp->add_flag("--json", i->json, "one JSON object on stdout: {lines, applied, duplicates, error}");
  imp->add_option("--timeout-ms", i->timeout_ms, "how long to wait for the node to answer a connect (default 5000)");
  add_credential_options(imp, i->credentials);
  imp->footer("Exit codes: 0 every line imported or already held; 1 a line or a batch was refused (the batches "
              "before it are imported); 2 could not run (neither or both of --node and --data-dir, an unreadable "
              "file, an unreachable node, a data dir in use by a running node).");
  imp->callback([i, &exit_code] { exit_code = run_import(*i); });
}

}  // namespace rollcall::cli
