// Helpers of replication_session_test.cpp: real logs of the small map (Hà Nội > Ba Đình 001 >
// wards 00001, 00004), and the frames a peer would send, built and decoded by hand. Catch2
// assertions inside; include from that one test file only.
#pragma once

#include <functional>

#include <catch2/catch.hpp>

#include <capnp/message.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/event_fields.h"
#include "engine/event_json.h"
#include "engine/event_log.h"
#include "engine/protocol.h"
#include "engine/replication.h"
#include "tests/support/small_map.h"
#include "tests/support/test_dirs.h"

namespace rollcall::testing::session_test {

inline constexpr int64_t kT0 = 1'735'689'600'000'000;  // 2025-01-01
inline const std::string kWardA = "00001", kWardB = "00004", kDistrict = "001", kProvince = "01";

inline const UnitMap& small_map() {
  static const UnitMap map = UnitMap::parse_csv(kSmallMapCsv).value();
  return map;
}

inline UnitCode code(const std::string& text) {
  return UnitCode::parse(text).value();
}
inline Timestamp at(int64_t micros_after_t0) {
  return Timestamp{kT0 + micros_after_t0};
}

inline ReplicationOptions small_options() {
  ReplicationOptions o;
  o.heartbeat_interval_us = 200'000;
  o.idle_timeout_us = 1'000'000;
  o.ack_timeout_us = 2'000'000;
  return o;
}

// A node's log in a temp dir.
struct TestNode {
  TempDir dir;
  std::unique_ptr<EventLog> log;

  explicit TestNode(const std::string& unit) {
    LogOptions o;
    o.dir = dir / "data";
    o.unit = code(unit);
    o.min_free_bytes = 0;
    o.synced_writes = false;
    auto opened = EventLog::open_writer(o, small_map());
    REQUIRE(opened.ok());
    log = std::move(*opened);
  }

  // n activity reports of this node's unit, each with other figures.
  void submit_reports(size_t n, int participants = 7) {
    static const EventJson json;
    std::vector<std::unique_ptr<capnp::MallocMessageBuilder>> messages;
    std::vector<schema::Event::Reader> events;
    for (size_t i = 0; i < n; ++i) {
      const std::string line =
          R"({"unit":")" + log->unit().str() +
          R"(","effectiveDate":"2024-03-01","activityReported":{"kind":"forums","count":)" +
          std::to_string(log->next_own_seq() + i) + R"(,"participants":)" +
          std::to_string(participants) + "}}";
      auto& m = messages.emplace_back(std::make_unique<capnp::MallocMessageBuilder>());
      REQUIRE(json.parse(line, m->initRoot<schema::Event>()).ok());
      events.push_back(m->getRoot<schema::Event>().asReader());
    }
    for (const auto& outcome : log->submit(events, at(0))) REQUIRE(outcome.accepted);
  }

  // Relays events of another log: origin and seqs from `from`'s events [first, last] (1-based
  // LSNs).
  void relay(const EventLog& from, uint64_t first, uint64_t last) {
    auto events = from.read(Lsn{first}, last - first + 1).value();
    std::vector<schema::Event::Reader> readers;
    for (const LoggedEvent& e : events) readers.push_back(e.event());
    REQUIRE(log->ingest(readers).ok());
  }

  uint64_t chain_hash(const std::string& origin, uint64_t seq) const {
    return log->chain_hash_at(OriginSeq{code(origin), seq}).value().value();
  }
};

inline std::unique_ptr<Frame> to_frame(const std::vector<uint8_t>& bytes) {
  FrameDecoder decoder;
  REQUIRE(decoder.feed(bytes.data(), bytes.size()).ok());
  auto frame = decoder.next();
  REQUIRE(frame);
  return frame;
}

inline std::unique_ptr<Frame> to_frame(capnp::MessageBuilder& message) {
  return to_frame(encode_frame(message));
}

inline wire::Message::Reader message_of(Frame& frame) {
  return frame.root<wire::Message>();
}

inline std::vector<wire::Message::Which> kinds(const Outbox& out,
                                               std::vector<std::unique_ptr<Frame>>& frames) {
  std::vector<wire::Message::Which> which;
  for (const auto& bytes : out.frames) {
    frames.push_back(to_frame(bytes));
    which.push_back(message_of(*frames.back()).which());
  }
  return which;
}

inline std::unique_ptr<Frame> hello_frame(const std::string& unit, wire::PeerRole role,
                                          const std::string& incarnation) {
  capnp::MallocMessageBuilder m;
  fill_hello(m.initRoot<wire::Message>().initHello(), unit, role, incarnation);
  return to_frame(m);
}

struct Mark {
  std::string origin;
  uint64_t seq;
  uint64_t hash;
};

inline std::unique_ptr<Frame> watermarks_frame(const std::vector<Mark>& marks) {
  capnp::MallocMessageBuilder m;
  auto entries =
      m.initRoot<wire::Message>().initWatermarks().initEntries(static_cast<unsigned>(marks.size()));
  for (unsigned i = 0; i < marks.size(); ++i) {
    entries[i].setOrigin(marks[i].origin);
    entries[i].setSeq(marks[i].seq);
    entries[i].setHash(marks[i].hash);
  }
  return to_frame(m);
}

inline std::unique_ptr<Frame> ack_frame(uint64_t lsn) {
  capnp::MallocMessageBuilder m;
  m.initRoot<wire::Message>().initAck().setLsn(lsn);
  return to_frame(m);
}

inline std::unique_ptr<Frame> heartbeat_frame(int64_t sent_at) {
  capnp::MallocMessageBuilder m;
  m.initRoot<wire::Message>().initHeartbeat().setSentAt(sent_at);
  return to_frame(m);
}

// A batch of `from`'s events at LSNs [first, last], claimed to span the child's LSNs [first_lsn,
// last_lsn].
inline std::unique_ptr<Frame> batch_frame(const EventLog& from, uint64_t first, uint64_t last,
                                          uint64_t first_lsn, uint64_t last_lsn) {
  auto events = from.read(Lsn{first}, last - first + 1).value();
  capnp::MallocMessageBuilder m;
  auto batch = m.initRoot<wire::Message>().initEventBatch();
  batch.setFirstLsn(first_lsn);
  batch.setLastLsn(last_lsn);
  auto list = batch.initEvents(static_cast<unsigned>(events.size()));
  for (unsigned i = 0; i < events.size(); ++i) list.setWithCaveats(i, events[i].event());
  return to_frame(m);
}

// A batch as sent: its LSN span and its events' ids.
struct SentBatch {
  uint64_t first_lsn = 0, last_lsn = 0;
  std::vector<std::string> ids;
};

inline std::vector<SentBatch> batches_in(const Outbox& out) {
  std::vector<SentBatch> batches;
  for (const auto& bytes : out.frames) {
    auto frame = to_frame(bytes);
    auto message = message_of(*frame);
    if (!message.isEventBatch()) continue;
    SentBatch b{message.getEventBatch().getFirstLsn(), message.getEventBatch().getLastLsn(), {}};
    for (auto e : message.getEventBatch().getEvents()) b.ids.push_back(event_id(e));
    batches.push_back(std::move(b));
  }
  return batches;
}

inline wire::ErrorCode error_code_in(const Outbox& out) {
  REQUIRE_FALSE(out.frames.empty());
  auto frame = to_frame(out.frames.back());
  REQUIRE(message_of(*frame).isError());
  return message_of(*frame).getError().getCode();
}

// Answers a child's chain probes (locating a fork) with `parent_hash` (origin, seq -> the
// parent's chain hash there) until it stops probing; the outbox of the last step. `probes`
// counts the round trips.
inline Outbox answer_probes(UplinkSession& up, Outbox out,
                            const std::function<uint64_t(const std::string&, uint64_t)>& parent_hash,
                            Timestamp now, int* probes = nullptr) {
  for (int guard = 0; guard < 100 && !out.frames.empty(); ++guard) {
    auto frame = to_frame(out.frames.back());
    auto message = message_of(*frame);
    if (!message.isChainProbe()) return out;
    if (probes) ++*probes;
    const std::string origin = message.getChainProbe().getOrigin().cStr();
    const uint64_t seq = message.getChainProbe().getSeq();
    capnp::MallocMessageBuilder answer;
    auto hash = answer.initRoot<wire::Message>().initChainHash();
    hash.setOrigin(origin);
    hash.setSeq(seq);
    hash.setHeld(true);
    hash.setHash(parent_hash(origin, seq));
    Outbox next;
    up.on_frame(*to_frame(answer), now, next);
    out = std::move(next);
  }
  return out;
}

// The parent's heartbeats every 200 ms from `from_us` to `to_us`, each followed by a tick: the
// link stays alive while the session waits for something else. REQUIREs it stays open.
inline void keep_alive(UplinkSession& up, int64_t from_us, int64_t to_us) {
  for (int64_t t = from_us; t <= to_us; t += 200'000) {
    Outbox beat, ticked;
    up.on_frame(*heartbeat_frame(t), at(t), beat);
    up.on_tick(at(t), ticked);
    REQUIRE_FALSE(ticked.closing());
  }
}

// Takes a child's session through the parent's hello and these watermarks; the outbox of the last
// step.
inline Outbox handshake(UplinkSession& up, const std::string& parent,
                        const std::vector<Mark>& marks, Timestamp now) {
  Outbox started, helloed, marked;
  up.start(now, started);
  up.on_frame(*hello_frame(parent, wire::PeerRole::PARENT, std::string(16, 'p')), now, helloed);
  REQUIRE(helloed.frames.empty());
  REQUIRE(up.state() == UplinkSession::State::kAwaitWatermarks);
  up.on_frame(*watermarks_frame(marks), now, marked);
  return marked;
}

// A parent's session after the child's hello.
inline Outbox accept_child(DownlinkSession& down, const TestNode& child,
                           const std::optional<std::string>& known, Timestamp now) {
  Outbox out;
  auto hello =
      hello_frame(child.log->unit().str(), wire::PeerRole::CHILD, child.log->incarnation());
  down.on_hello(message_of(*hello).getHello(), known, now, out);
  return out;
}

}  // namespace rollcall::testing::session_test
