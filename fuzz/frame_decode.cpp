// Fuzz target: arbitrary bytes as a TCP stream into a node, split in arbitrary chunks.
//
// Input: one byte of mode, then the stream. Mode bit 0 picks the side: 0 is the node's server
// (node/server.cpp ClientSession: a client's or a child's frames), 1 is the node's uplink to its
// parent (node/uplink.cpp: the parent's frames). The other bits seed the chunk sizes.
//
// The stream goes through FrameDecoder with the node's FrameLimits (ServerOptions and
// UplinkOptions both default them), fed chunk by chunk, and every frame it yields is handled as
// the node does: the server side dispatches Message like ClientSession::on_frame (hello, then
// submit and import copied with copy_event_checked and validated, or a child's hello handing
// the rest to a DownlinkSession); the uplink side hands every frame to an UplinkSession. The
// sessions read real logs (RocksDB in a temp dir, opened once): parent 001 and child 00001,
// each holding the child's events. Ingests the sessions ask for are validated as
// EventLog::ingest does first, not written, so every input starts from the same logs.
//
// Checked beyond "no crash": the frames and the stream error do not depend on the chunking.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <capnp/message.h>
#include <stdlib.h>

#include "engine/capnp_guard.h"
#include "engine/event_copy.h"
#include "engine/event_json.h"
#include "engine/event_log.h"
#include "engine/event_validator.h"
#include "engine/frame_codec.h"
#include "engine/protocol.h"
#include "engine/replication.h"
#include "fuzz/fuzz_map.h"
#include "schema/storage.capnp.h"

namespace rollcall::fuzz {
namespace {

constexpr int64_t kT0 = 1'735'689'600'000'000;  // 2025-01-01
constexpr size_t kMaxEventsPerSubmit = 10000;  // node/server.h ServerOptions

[[noreturn]] void fail(const char* what, const std::string& detail = {}) {
  fprintf(stderr, "frame_decode: %s %s\n", what, detail.c_str());
  abort();
}

// The two logs, opened once for the whole run and removed at exit.
class Logs {
 public:
  Logs() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "rollcall-fuzz-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) fail("mkdtemp");
    dir_ = tmpl;
    child_ = open("00001");
    parent_ = open("001");
    static const EventJson json;
    std::vector<std::unique_ptr<capnp::MallocMessageBuilder>> messages;
    std::vector<schema::Event::Reader> events;
    for (int i = 1; i <= 3; ++i) {
      const std::string line = R"({"unit":"00001","effectiveDate":"2024-03-0)" + std::to_string(i) +
                               R"(","activityReported":{"kind":"forums","count":)" + std::to_string(i) +
                               R"(,"participants":7}})";
      auto& m = messages.emplace_back(std::make_unique<capnp::MallocMessageBuilder>());
      if (!json.parse(line, m->initRoot<schema::Event>()).ok()) fail("seed event", line);
      events.push_back(m->getRoot<schema::Event>().asReader());
    }
    for (const auto& outcome : child_->submit(events, Timestamp{kT0}))
      if (!outcome.accepted) fail("seed submit");
    auto logged = child_->read(Lsn{1}, 100);
    if (!logged.ok()) fail("seed read", logged.error().message());
    std::vector<schema::Event::Reader> relayed;
    for (const auto& e : *logged) relayed.push_back(e.event());
    if (auto r = parent_->ingest(relayed); !r.ok()) fail("seed ingest", r.error().message());
  }
  ~Logs() {
    child_.reset();
    parent_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  const EventLog& parent() const { return *parent_; }
  const EventLog& child() const { return *child_; }

 private:
  std::unique_ptr<EventLog> open(const std::string& unit) {
    LogOptions o;
    o.dir = dir_ + "/" + unit;
    o.unit = UnitCode::parse(unit).value();
    o.min_free_bytes = 0;
    o.synced_writes = false;
    auto opened = EventLog::open_writer(o, fuzz_map());
    if (!opened.ok()) fail("opening a log", opened.error().message());
    return std::move(*opened);
  }

  std::string dir_;
  std::unique_ptr<EventLog> child_, parent_;
};

const Logs& logs() {
  static const Logs instance;
  return instance;
}

// What EventLog::ingest checks first, for the ingests a session asks for.
void validate_ingests(Outbox& out) {
  for (const IngestJob& job : out.ingests)
    for (auto e : job.events) (void)EventValidator::check_relayed(e);
}

// The node's server side of one connection (ClientSession without the socket and the writer).
class ServerSide {
 public:
  void on_frame(Frame& frame, Timestamp now) {
    if (closed_) return;
    if (downlink_) {
      Outbox out;
      downlink_->on_frame(frame, now, out);
      after(out, now);
      return;
    }
    auto handled = guard_capnp("message", [&]() -> Status {
      auto message = frame.root<wire::Message>();
      switch (message.which()) {
        case wire::Message::HELLO:
          if (hello_done_) return invalid_input("a second hello");
          hello_done_ = true;
          on_hello(message.getHello(), now);
          return ok_status();
        case wire::Message::SUBMIT:
          if (!hello_done_) return invalid_input("submit before hello");
          on_events(message.getSubmit().getEvents(), true);
          return ok_status();
        case wire::Message::IMPORT:
          if (!hello_done_) return invalid_input("import before hello");
          on_events(message.getImport().getEvents(), false);
          return ok_status();
        case wire::Message::STATUS_REQUEST:
          if (!hello_done_) return invalid_input("status request before hello");
          return ok_status();
        default:
          return invalid_input("unexpected message from a client");
      }
    });
    if (!handled.ok()) closed_ = true;
  }

  void on_tick(Timestamp now) {
    if (!downlink_ || closed_) return;
    Outbox out;
    downlink_->on_tick(now, out);
    after(out, now);
  }

 private:
  void on_hello(wire::Hello::Reader hello, Timestamp now) {
    if (!check_hello(hello).ok()) {
      closed_ = true;
      return;
    }
    if (hello.getRole() != wire::PeerRole::CHILD) return;
    downlink_ = std::make_unique<DownlinkSession>(logs().parent(), fuzz_node_unit(), "fuzz",
                                                  ReplicationOptions{});
    std::optional<std::string> known;
    if (auto child = UnitCode::parse(std::string(hello.getUnit().cStr())); child.ok()) {
      auto recorded = logs().parent().child_incarnation(*child);
      if (!recorded.ok()) fail("child_incarnation", recorded.error().message());
      known = *recorded;
    }
    Outbox out;
    downlink_->on_hello(hello, known, now, out);
    after(out, now);
  }

  // ClientSession::copied_request, then what EventLog::submit checks first (submit) or the
  // subtree check of on_import (import).
  void on_events(capnp::List<schema::Event>::Reader events, bool submit) {
    if (events.size() > kMaxEventsPerSubmit) {
      closed_ = true;
      return;
    }
    static const EventValidator validator(fuzz_map(), fuzz_node_unit());
    capnp::MallocMessageBuilder owned;
    auto list = owned.initRoot<storage::LogBatch>().initEvents(events.size());
    for (unsigned i = 0; i < events.size(); ++i) copy_event_checked(events[i], list[i]);
    for (auto e : list.asReader()) {
      if (submit)
        (void)validator.check_submitted(e);
      else if (!SubtreeCheck(logs().parent().map(), fuzz_node_unit()).outside(e))
        (void)EventValidator::check_relayed(e);
    }
  }

  // ClientSession::apply: ingests are answered at once, as written with nothing new.
  void after(Outbox& out, Timestamp now) {
    validate_ingests(out);
    const size_t jobs = out.ingests.size();
    if (out.closing()) closed_ = true;
    for (size_t i = 0; i < jobs && !closed_; ++i) {
      Outbox next;
      downlink_->on_ingested(Result<IngestReport>(IngestReport{}), now, next);
      validate_ingests(next);
      if (next.closing()) closed_ = true;
    }
  }

  bool hello_done_ = false;
  bool closed_ = false;
  std::unique_ptr<DownlinkSession> downlink_;
};

// The node's uplink side: the child 00001 talking to its parent.
class UplinkSide {
 public:
  explicit UplinkSide(Timestamp now) : session_(logs().child(), ReplicationOptions{}) {
    Outbox out;
    session_.start(now, out);
  }
  void on_frame(Frame& frame, Timestamp now) {
    Outbox out;
    session_.on_frame(frame, now, out);
    answer(out, now);
  }
  void on_tick(Timestamp now) {
    Outbox out;
    session_.on_tick(now, out);
    answer(out, now);
  }

 private:
  void answer(Outbox& out, Timestamp now) {
    validate_ingests(out);
    for (size_t i = 0; i < out.ingests.size(); ++i) {
      Outbox next;
      session_.on_ingested(Result<IngestReport>(IngestReport{}), now, next);
      validate_ingests(next);
    }
  }

  UplinkSession session_;
};

// Feeds `stream` in chunks; returns the frames' bytes and whether the stream failed.
struct Decoded {
  std::vector<std::unique_ptr<Frame>> frames;
  bool failed = false;
};

Decoded decode(const uint8_t* stream, size_t size, uint32_t seed) {
  FrameDecoder decoder{FrameLimits{}};
  Decoded result;
  size_t at = 0;
  uint32_t state = seed * 2654435761u + 1;
  while (at < size && !result.failed) {
    size_t chunk = size - at;
    if (seed != 0) {
      state ^= state << 13, state ^= state >> 17, state ^= state << 5;
      chunk = std::min<size_t>(chunk, 1 + state % (seed & 1 ? 7 : 97));
    }
    result.failed = !decoder.feed(stream + at, chunk).ok();
    at += chunk;
    while (auto frame = decoder.next()) result.frames.push_back(std::move(frame));
  }
  return result;
}

bool same_words(const Frame& a, const Frame& b) {
  return a.size_bytes() == b.size_bytes() && memcmp(a.words().begin(), b.words().begin(), a.size_bytes()) == 0;
}

}  // namespace
}  // namespace rollcall::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rollcall;
  using namespace rollcall::fuzz;
  if (size < 1) return 0;
  const bool uplink = data[0] & 1;
  const uint32_t seed = data[0] >> 1;
  const uint8_t* stream = data + 1;
  const size_t length = size - 1;

  Decoded chunked = decode(stream, length, seed);
  if (seed != 0) {
    Decoded whole = decode(stream, length, 0);
    if (whole.failed != chunked.failed || whole.frames.size() != chunked.frames.size())
      fail("the chunking changed what was decoded");
    for (size_t i = 0; i < whole.frames.size(); ++i)
      if (!same_words(*whole.frames[i], *chunked.frames[i])) fail("the chunking changed a frame");
  }

  Timestamp now{kT0};
  if (uplink) {
    UplinkSide side(now);
    for (auto& frame : chunked.frames) side.on_frame(*frame, now = Timestamp{now.micros + 1000});
    side.on_tick(Timestamp{now.micros + 10'000'000});
  } else {
    ServerSide side;
    for (auto& frame : chunked.frames) side.on_frame(*frame, now = Timestamp{now.micros + 1000});
    side.on_tick(Timestamp{now.micros + 10'000'000});
  }
  return 0;
}
