// rollcall submit --node HOST:PORT [FILE|-]: appends JSON-lines events through a node.
#include <deque>
#include <fstream>
#include <iostream>
#include <memory>

#include <capnp/message.h>

#include "cli/commands.h"
#include "cli/credential_options.h"
#include "report/json_out.h"
#include "cli/node_client.h"
#include "engine/capnp_guard.h"
#include "engine/enum_name.h"
#include "engine/event_fields.h"
#include "engine/event_json.h"
#include "engine/types.h"

namespace rollcall::cli {
namespace {

constexpr size_t kChunkEvents = 1000;
constexpr size_t kWindow = 4;

// One line's fate as printed.
struct LineResult {
  size_t line = 0;
  bool sent = false;  // parsed and sent; else `error` holds the parse error
  std::string error;
};

// Lines read and parsed together, sent as one Submit.
struct Chunk {
  std::vector<LineResult> lines;
  capnp::MallocMessageBuilder scratch;
  std::vector<capnp::Orphan<schema::Event>> events;
};

class Printer {
 public:
  Printer(bool json, bool quiet) : json_(json), quiet_(quiet) {}

  void accepted(size_t line, const std::string& id, bool repeated) {
    ++accepted_;
    if (repeated) ++repeated_;
    if (quiet_) return;
    if (json_) {
      JsonObject o;
      o.add("line", static_cast<uint64_t>(line)).add("id", id);
      if (repeated) o.add("repeated", true);
      std::cout << o.str() << "\n";
    } else {
      std::cout << id << (repeated ? " (already appended)" : "") << "\n";
    }
  }
  void rejected(size_t line, const std::string& code, const std::string& message) {
    ++rejected_;
    if (json_) {
      std::cout << JsonObject().add("line", static_cast<uint64_t>(line)).add("code", code).add("error", message).str()
                << "\n";
    } else {
      std::cerr << "line " << line << ": rejected (" << code << "): " << message << "\n";
    }
  }
  size_t accepted_count() const { return accepted_; }
  size_t rejected_count() const { return rejected_; }
  size_t repeated_count() const { return repeated_; }

 private:
  bool json_;
  bool quiet_;
  size_t accepted_ = 0;
  size_t repeated_ = 0;
  size_t rejected_ = 0;
};

}  // namespace

int run_submit(const SubmitOptions& options) {
  std::ifstream file_stream;
  std::istream* in = &std::cin;
  if (options.file != "-") {
    file_stream.open(options.file);
    if (!file_stream) return report("submit", "cannot open '" + options.file + "'");
    in = &file_stream;
  }
  auto client = NodeClient::connect(options.node, std::chrono::milliseconds(options.timeout_ms),
                                    options.credentials.with_env_defaults());
  if (!client.ok()) return report("submit", client.error().message());

  EventJson json;
  Printer printer(options.json, options.quiet);
  std::deque<std::unique_ptr<Chunk>> in_flight;
  size_t line_number = 0;
  uint64_t tag = 0;
  bool eof = false;

  auto finish_chunk = [&](Chunk& chunk, wire::SubmitResult::Reader* result) -> Status {
    size_t next_outcome = 0;
    for (const LineResult& line : chunk.lines) {
      if (!line.sent) {
        printer.rejected(line.line, "invalid", line.error);
        continue;
      }
      if (result == nullptr || next_outcome >= result->getOutcomes().size())
        return Error(ErrorKind::kProtocol, "the node answered fewer outcomes than events sent");
      auto outcome = result->getOutcomes()[static_cast<unsigned>(next_outcome++)];
      if (outcome.isAccepted()) {
        auto ref = outcome.getAccepted();
        printer.accepted(line.line, OriginSeq{UnitCode::trusted(text_view(ref.getOrigin())), ref.getSeq()}.to_string(),
                         ref.getRepeated());
      } else {
        auto r = outcome.getRejected();
        printer.rejected(line.line, enum_name(r.getCode()), r.getMessage().cStr());
      }
    }
    return ok_status();
  };

  auto receive_one = [&]() -> Status {
    auto frame = (*client)->receive();
    if (!frame.ok()) return frame.error();
    auto chunk = std::move(in_flight.front());
    in_flight.pop_front();
    return guard_capnp("submit result", [&]() -> Status {
      auto message = (*frame)->root<wire::Message>();
      if (message.which() != wire::Message::SUBMIT_RESULT)
        return Error(ErrorKind::kProtocol, "the node answered a submit with another message");
      auto result = message.getSubmitResult();
      return finish_chunk(*chunk, &result);
    });
  };

  // Chunks at the front that sent nothing have no answer to wait for.
  auto print_unsent_front = [&] {
    while (!in_flight.empty() && in_flight.front()->events.empty()) {
      (void)finish_chunk(*in_flight.front(), nullptr);
      in_flight.pop_front();
    }
  };

  while (!eof || !in_flight.empty()) {
    if (!eof && in_flight.size() < kWindow) {
      auto chunk = std::make_unique<Chunk>();
      std::string line;
      while (chunk->events.size() < kChunkEvents && std::getline(*in, line)) {
        ++line_number;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        LineResult result{line_number, false, {}};
        auto orphan = chunk->scratch.getOrphanage().newOrphan<schema::Event>();
        if (auto parsed = json.parse(line, orphan.get()); parsed.ok()) {
          result.sent = true;
          chunk->events.push_back(kj::mv(orphan));
        } else {
          result.error = parsed.error().message();
        }
        chunk->lines.push_back(std::move(result));
      }
      if (!*in) eof = true;
      if (chunk->events.empty()) {
        // Parse errors only: print in line order, after the chunks still out.
        if (!chunk->lines.empty()) in_flight.push_back(std::move(chunk));
        print_unsent_front();
        continue;
      }
      capnp::MallocMessageBuilder message;
      auto submit = message.initRoot<wire::Message>().initSubmit();
      submit.setRequestTag(++tag);
      auto list = submit.initEvents(static_cast<unsigned>(chunk->events.size()));
      for (unsigned i = 0; i < chunk->events.size(); ++i) list.setWithCaveats(i, chunk->events[i].getReader());
      if (auto s = (*client)->send(message); !s.ok()) return report("submit", s.error().message());
      in_flight.push_back(std::move(chunk));
      continue;
    }
    if (auto s = receive_one(); !s.ok()) {
      std::cerr << "rollcall submit: " << s.error().message() << "; lines after "
                << (printer.accepted_count() + printer.rejected_count())
                << " results were not confirmed; some of them may have been appended. Lines with a requestId can be "
                   "sent again safely (a repeat gets its original ORIGIN:SEQ); check the others with `rollcall log "
                   "tail` before submitting them again\n";
      return kExitCannotRun;
    }
    print_unsent_front();
  }
  std::cerr << "rollcall submit: " << line_number << " lines read, " << printer.accepted_count() << " accepted";
  if (printer.repeated_count() > 0)
    std::cerr << " (" << printer.repeated_count() << " of them already appended before: repeated requestIds)";
  std::cerr << ", " << printer.rejected_count() << " rejected (node " << (*client)->node_unit()
            << " at " << options.node << ")\n";
  return printer.rejected_count() == 0 ? kExitOk : kExitProblem;
}

void add_submit_command(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<SubmitOptions>();
  auto* cmd = app.add_subcommand(
      "submit",
      "Append JSON-lines events through a node. Prints ORIGIN:SEQ for each accepted line (stdout) "
      "and 'line N: rejected (code): why' for each rejected one (stderr). Exit 1 if any line was "
      "rejected.");
  cmd->add_option("--node", options->node, "HOST:PORT of the node")->required();
  cmd->add_option("file", options->file, "JSON-lines file, or - for standard input (default)");
  cmd->add_flag("--json", options->json, "one JSON object per line on stdout: {line, id} or {line, code, error}");
  cmd->add_flag("--quiet,-q", options->quiet, "print only rejected lines and the summary");
  cmd->add_option("--timeout-ms", options->timeout_ms, "how long to wait for the node to answer a connect (default 5000)");
  add_credential_options(cmd, options->credentials);
  cmd->callback([options, &exit_code] { exit_code = run_submit(*options); });
}

}  // namespace rollcall::cli
