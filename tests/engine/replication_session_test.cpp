// The replication state machines (engine/replication.h) driven by hand, one frame and one tick
// at a time, over real logs (replication_session_fixture.h). The seeded simulator
// (replication_sim_test.cpp) runs them together under faults.
#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "tests/engine/replication_session_fixture.h"

namespace rollcall::testing {

using namespace session_test;

// --- UplinkSession ---

TEST_CASE(
    "UplinkSession: start sends the child's hello and the parent's watermarks start the stream",
    "[replication]") {
  TestNode ward(kWardA);
  ward.submit_reports(3);
  UplinkSession up(*ward.log, small_options());
  Outbox out;
  up.start(at(0), out);
  std::vector<std::unique_ptr<Frame>> frames;
  REQUIRE(kinds(out, frames) == std::vector{wire::Message::HELLO});
  auto hello = message_of(*frames[0]).getHello();
  CHECK(text_view(hello.getUnit()) == kWardA);
  CHECK(hello.getRole() == wire::PeerRole::CHILD);
  CHECK(hello.getProtocolVersion() == kProtocolVersion);
  CHECK(std::string(reinterpret_cast<const char*>(hello.getIncarnation().begin()),
                    hello.getIncarnation().size()) == ward.log->incarnation());

  Outbox helloed, marked;
  up.on_frame(*hello_frame(kDistrict, wire::PeerRole::PARENT, std::string(16, 'p')), at(1),
              helloed);
  CHECK(up.parent_unit() == kDistrict);
  up.on_frame(*watermarks_frame({}), at(2), marked);
  CHECK(up.streaming());
  const auto batches = batches_in(marked);
  REQUIRE(batches.size() == 1);
  CHECK(batches[0].ids == std::vector<std::string>{"00001:1", "00001:2", "00001:3"});
}

TEST_CASE("UplinkSession: a parent that is not an ancestor is refused with notInSubtree",
          "[replication]") {
  TestNode ward(kWardA);
  UplinkSession up(*ward.log, small_options());
  Outbox started, out;
  up.start(at(0), started);
  up.on_frame(*hello_frame("002", wire::PeerRole::PARENT, std::string(16, 'p')), at(1), out);
  CHECK(error_code_in(out) == wire::ErrorCode::NOT_IN_SUBTREE);
  CHECK(out.closing());
  CHECK(up.state() == UplinkSession::State::kClosed);
}

TEST_CASE(
    "UplinkSession: streaming starts at the first event the parent lacks and skips those it holds",
    "[replication]") {
  TestNode a(kWardA), b(kWardB), district(kDistrict);
  a.submit_reports(6);
  b.submit_reports(4);
  // The district's LSNs: A1 A2 A3 B1 B2 B3 A4 A5 A6 B4.
  district.relay(*a.log, 1, 3);
  district.relay(*b.log, 1, 3);
  district.relay(*a.log, 4, 6);
  district.relay(*b.log, 4, 4);
  UplinkSession up(*district.log, small_options());

  SECTION("the parent holds A up to 5 and B up to 3: the stream starts at A:6") {
    const Outbox out = handshake(
        up, kProvince,
        {{kWardA, 5, district.chain_hash(kWardA, 5)}, {kWardB, 3, district.chain_hash(kWardB, 3)}},
        at(0));
    const auto batches = batches_in(out);
    REQUIRE(batches.size() == 1);
    CHECK(batches[0].first_lsn == 9);
    CHECK(batches[0].last_lsn == 10);
    CHECK(batches[0].ids == std::vector<std::string>{"00001:6", "00004:4"});
    CHECK(up.parent_seqs().at(code(kWardA)) == 5);
  }
  SECTION("the parent holds A up to 5 and B up to 1: B:2 first, then A:4 and A:5 are skipped") {
    const Outbox out = handshake(
        up, kProvince,
        {{kWardA, 5, district.chain_hash(kWardA, 5)}, {kWardB, 1, district.chain_hash(kWardB, 1)}},
        at(0));
    const auto batches = batches_in(out);
    REQUIRE(batches.size() == 1);
    CHECK(batches[0].first_lsn == 5);
    CHECK(batches[0].last_lsn == 10);
    CHECK(batches[0].ids == std::vector<std::string>{"00004:2", "00004:3", "00001:6", "00004:4"});
  }
  SECTION("the parent holds everything: nothing is sent") {
    const Outbox out = handshake(
        up, kProvince,
        {{kWardA, 6, district.chain_hash(kWardA, 6)}, {kWardB, 4, district.chain_hash(kWardB, 4)}},
        at(0));
    CHECK(batches_in(out).empty());
    CHECK(up.streaming());
    CHECK(up.batches_in_flight() == 0);
  }
}

TEST_CASE("UplinkSession: at most `window` batches are unacknowledged and each ack frees one",
          "[replication]") {
  TestNode ward(kWardA);
  ward.submit_reports(10);
  ReplicationOptions options = small_options();
  options.window = 2;
  options.max_batch_events = 2;
  UplinkSession up(*ward.log, options);
  const Outbox out = handshake(up, kDistrict, {}, at(0));
  auto batches = batches_in(out);
  REQUIRE(batches.size() == 2);
  CHECK(batches[0].ids == std::vector<std::string>{"00001:1", "00001:2"});
  CHECK(batches[1].ids == std::vector<std::string>{"00001:3", "00001:4"});
  CHECK(up.batches_in_flight() == 2);

  Outbox grew;
  ward.submit_reports(1);
  up.on_log_grew(at(1), grew);
  CHECK(grew.frames.empty());  // the window is full

  Outbox acked;
  up.on_frame(*ack_frame(batches[0].last_lsn), at(2), acked);
  batches = batches_in(acked);
  REQUIRE(batches.size() == 1);
  CHECK(batches[0].ids == std::vector<std::string>{"00001:5", "00001:6"});
  CHECK(up.batches_in_flight() == 2);
  CHECK(up.events_acked() == 2);
  CHECK(up.parent_seqs().at(code(kWardA)) == 2);
}

TEST_CASE("UplinkSession: a batch holds at most max_batch_events events and max_batch_bytes bytes",
          "[replication]") {
  TestNode ward(kWardA);
  ward.submit_reports(10);
  ReplicationOptions options = small_options();
  options.window = 100;
  SECTION("count") {
    options.max_batch_events = 3;
    UplinkSession up(*ward.log, options);
    std::vector<size_t> sizes;
    for (const auto& b : batches_in(handshake(up, kDistrict, {}, at(0))))
      sizes.push_back(b.ids.size());
    CHECK(sizes == std::vector<size_t>{3, 3, 3, 1});
  }
  SECTION("bytes: one event bigger than the bound goes alone") {
    options.max_batch_bytes = 1;
    UplinkSession up(*ward.log, options);
    const auto batches = batches_in(handshake(up, kDistrict, {}, at(0)));
    REQUIRE(batches.size() == 10);
    for (const auto& b : batches) CHECK(b.ids.size() == 1);
  }
  SECTION("bytes: a bound of two and a half events gives batches of two") {
    const auto first = ward.log->read(Lsn{1}, 1).value();
    const size_t size = first[0].event().totalSize().wordCount * sizeof(capnp::word);
    options.max_batch_bytes = size * 5 / 2;
    UplinkSession up(*ward.log, options);
    for (const auto& b : batches_in(handshake(up, kDistrict, {}, at(0)))) CHECK(b.ids.size() == 2);
  }
}

TEST_CASE(
    "UplinkSession: another chain hash at the parent's watermark is a fork: an error frame and an "
    "alert",
    "[replication]") {
  TestNode ward(kWardA);
  ward.submit_reports(6);
  UplinkSession up(*ward.log, small_options());
  const Outbox probed = handshake(up, kDistrict, {{kWardA, 4, ward.chain_hash(kWardA, 4) ^ 1}}, at(0));
  CHECK(up.state() == UplinkSession::State::kLocatingFork);
  CHECK(batches_in(probed).empty());
  CHECK(probed.alerts.empty());
  // The parent's history agrees up to seq 2 and differs from seq 3 on: found in two probes.
  int probes = 0;
  const Outbox out = answer_probes(
      up, probed,
      [&](const std::string& origin, uint64_t seq) { return ward.chain_hash(origin, seq) ^ (seq >= 3 ? 1 : 0); },
      at(1), &probes);
  CHECK(probes == 2);
  CHECK(error_code_in(out) == wire::ErrorCode::FORK);
  auto error = to_frame(out.frames.back());
  CHECK(std::string(message_of(*error).getError().getOrigin().cStr()) == kWardA);
  CHECK(message_of(*error).getError().getSeq() == 3);
  CHECK(batches_in(out).empty());
  REQUIRE(out.alerts.size() == 1);
  CHECK(out.alerts[0].find("fork: origin 00001: parent 001 holds other events than this node from seq 3 on") !=
        std::string::npos);
  REQUIRE(out.fork);
  CHECK(out.fork->origin == code(kWardA));
  CHECK(out.fork->peer == code(kDistrict));
  CHECK(out.fork->first_seq == 3);
  CHECK(out.closing());
  CHECK(up.state() == UplinkSession::State::kClosed);
}

TEST_CASE("UplinkSession: the first differing seq of a long fork is found in a logarithmic number of probes",
          "[replication]") {
  TestNode ward(kWardA);
  ward.submit_reports(100);
  for (uint64_t first : {1u, 37u, 99u, 100u}) {
    CAPTURE(first);
    UplinkSession up(*ward.log, small_options());
    const auto parent = [&](const std::string& origin, uint64_t seq) {
      return ward.chain_hash(origin, seq) ^ (seq >= first ? 7 : 0);
    };
    int probes = 0;
    const Outbox out =
        answer_probes(up, handshake(up, kDistrict, {{kWardA, 100, parent(kWardA, 100)}}, at(0)), parent, at(1), &probes);
    CHECK(probes <= 7);
    REQUIRE(out.fork);
    CHECK(out.fork->first_seq == first);
  }
}

TEST_CASE("DownlinkSession: answers a child's chain probes within its subtree and records the fork the child reports",
          "[replication]") {
  TestNode ward(kWardA), district(kDistrict);
  ward.submit_reports(4);
  district.relay(*ward.log, 1, 4);
  DownlinkSession down(*district.log, code(kDistrict), "test", small_options());
  accept_child(down, ward, std::nullopt, at(0));
  const auto probe = [](const std::string& origin, uint64_t seq) {
    capnp::MallocMessageBuilder m;
    auto p = m.initRoot<wire::Message>().initChainProbe();
    p.setOrigin(origin);
    p.setSeq(seq);
    return to_frame(m);
  };
  Outbox answered;
  down.on_frame(*probe(kWardA, 3), at(1), answered);
  REQUIRE(answered.frames.size() == 1);
  auto hash = to_frame(answered.frames[0]);
  REQUIRE(message_of(*hash).isChainHash());
  CHECK(message_of(*hash).getChainHash().getHeld());
  CHECK(message_of(*hash).getChainHash().getHash() == district.chain_hash(kWardA, 3));
  Outbox beyond;
  down.on_frame(*probe(kWardA, 9), at(1), beyond);
  CHECK_FALSE(message_of(*to_frame(beyond.frames.at(0))).getChainHash().getHeld());

  // The child's error names the fork: the parent records it too.
  capnp::MallocMessageBuilder m;
  auto error = m.initRoot<wire::Message>().initError();
  error.setCode(wire::ErrorCode::FORK);
  error.setMessage("fork");
  error.setOrigin(kWardA);
  error.setSeq(3);
  Outbox reported;
  down.on_frame(*to_frame(m), at(2), reported);
  REQUIRE(reported.fork);
  CHECK(reported.fork->origin == code(kWardA));
  CHECK(reported.fork->peer == code(kWardA));
  CHECK(reported.fork->first_seq == 3);
  REQUIRE(reported.alerts.size() == 1);
  CHECK(reported.alerts[0].find("child 00001 (test) holds other events than this node from seq 3 on") !=
        std::string::npos);

  // A probe for an origin outside the child's subtree is refused.
  DownlinkSession other(*district.log, code(kDistrict), "test", small_options());
  accept_child(other, ward, std::nullopt, at(0));
  Outbox refused;
  other.on_frame(*probe(kWardB, 1), at(1), refused);
  CHECK(error_code_in(refused) == wire::ErrorCode::BAD_MESSAGE);
}

TEST_CASE(
    "UplinkSession: a parent holding more of this node's own origin gives those events back before "
    "streaming",
    "[replication]") {
  TestNode old_ward(kWardA), district(kDistrict);
  old_ward.submit_reports(5);
  district.relay(*old_ward.log, 1, 5);
  TestNode ward(kWardA);  // the data dir re-created: empty, a new incarnation
  ReplicationOptions options = small_options();
  options.max_batch_events = 3;
  UplinkSession up(*ward.log, options);
  DownlinkSession down(*district.log, code(kDistrict), "test", options);
  accept_child(down, ward, old_ward.log->incarnation(), at(0));

  Outbox out = handshake(up, kDistrict, {{kWardA, 5, district.chain_hash(kWardA, 5)}}, at(0));
  REQUIRE(out.alerts.size() == 1);
  CHECK(out.alerts[0].find("holds 5 events of this node's own origin 00001") != std::string::npos);
  CHECK(up.recovering());
  CHECK_FALSE(up.own_origin_checked());
  REQUIRE(up.recovery());
  CHECK(up.recovery()->from == 1);
  CHECK(up.recovery()->next == 1);
  CHECK(up.recovery()->to == 5);
  // Fetch, answer, ingest, until the log has caught up: two rounds of at most 3 events.
  for (int round = 0; round < 2; ++round) {
    std::vector<std::unique_ptr<Frame>> frames;
    REQUIRE(kinds(out, frames) == std::vector{wire::Message::FETCH});
    CHECK(message_of(*frames[0]).getFetch().getFromSeq() == 1 + 3 * static_cast<uint64_t>(round));
    Outbox answer, taken;
    down.on_frame(*frames[0], at(1), answer);
    REQUIRE(answer.frames.size() == 1);
    up.on_frame(*to_frame(answer.frames[0]), at(1), taken);
    REQUIRE(taken.ingests.size() == 1);
    out = Outbox{};
    up.on_ingested(ward.log->ingest(taken.ingests[0].events), at(2), out);
    if (round == 0) CHECK(up.recovery()->next == 4);
  }
  CHECK_FALSE(up.recovery());
  CHECK(up.streaming());
  CHECK(up.own_origin_checked());
  CHECK(batches_in(out).empty());  // the parent holds all of them
  CHECK(ward.chain_hash(kWardA, 5) == district.chain_hash(kWardA, 5));
  CHECK(ward.log->next_own_seq() == 6);
}

TEST_CASE(
    "UplinkSession: taking events back checks the part both hold: other events there are a fork",
    "[replication]") {
  TestNode old_ward(kWardA), district(kDistrict);
  old_ward.submit_reports(5);
  district.relay(*old_ward.log, 1, 5);
  TestNode ward(kWardA);
  ward.submit_reports(2, 99);  // other events under seqs 1 and 2
  UplinkSession up(*ward.log, small_options());
  DownlinkSession down(*district.log, code(kDistrict), "test", small_options());
  accept_child(down, ward, old_ward.log->incarnation(), at(0));
  const Outbox out = handshake(up, kDistrict, {{kWardA, 5, district.chain_hash(kWardA, 5)}}, at(0));
  std::vector<std::unique_ptr<Frame>> frames;
  REQUIRE(kinds(out, frames) == std::vector{wire::Message::FETCH});
  CHECK(message_of(*frames[0]).getFetch().getFromSeq() == 3);
  Outbox answer, probed;
  down.on_frame(*frames[0], at(1), answer);
  up.on_frame(*to_frame(answer.frames.at(0)), at(1), probed);
  // Seq 1 already differs (the re-created log numbered other events from 1).
  const Outbox refused = answer_probes(
      up, std::move(probed), [&](const std::string& o, uint64_t seq) { return district.chain_hash(o, seq); }, at(1));
  CHECK(error_code_in(refused) == wire::ErrorCode::FORK);
  REQUIRE(refused.fork);
  CHECK(refused.fork->first_seq == 1);
  CHECK(refused.ingests.empty());
  REQUIRE(refused.alerts.size() == 1);
  CHECK(refused.alerts[0].find("fork: origin 00001") != std::string::npos);
  CHECK(refused.closing());
  CHECK_FALSE(up.own_origin_checked());
}

TEST_CASE(
    "UplinkSession: a relay reaching the parent's watermark of an origin it held less of checks "
    "the history there",
    "[replication]") {
  // Regression: such an origin was only skipped up to the parent's seq, so a fork of it (a
  // commune re-created while its parents were away) was appended after the parent's events.
  TestNode old_b(kWardB), new_b(kWardB), district(kDistrict);
  old_b.submit_reports(5);
  new_b.submit_reports(5, 99);  // the same seqs, other events
  const TestNode& relayed = GENERATE(as<bool>{}, false, true) ? old_b : new_b;
  const bool forked = &relayed == &new_b;
  CAPTURE(forked);
  district.relay(*relayed.log, 1, 2);
  UplinkSession up(*district.log, small_options());
  // The province holds 3 of the old b: the district holds less, so nothing is checked yet.
  const Outbox marked = handshake(up, kProvince, {{kWardB, 3, old_b.chain_hash(kWardB, 3)}}, at(0));
  CHECK(batches_in(marked).empty());  // only the first heartbeat
  CHECK(!marked.closing());
  CHECK(up.streaming());
  district.relay(*relayed.log, 3, 5);
  Outbox grew_first;
  up.on_log_grew(at(1), grew_first);
  const Outbox grew = answer_probes(
      up, std::move(grew_first), [&](const std::string& o, uint64_t seq) { return old_b.chain_hash(o, seq); }, at(1));
  if (forked) {
    REQUIRE(grew.fork);
    CHECK(grew.fork->first_seq == 1);
    CHECK(error_code_in(grew) == wire::ErrorCode::FORK);
    CHECK(batches_in(grew).empty());
    REQUIRE(grew.alerts.size() == 1);
    CHECK(grew.alerts[0].find("fork: origin 00004") != std::string::npos);
    CHECK(grew.closing());
  } else {
    const auto batches = batches_in(grew);
    REQUIRE(batches.size() == 1);
    CHECK(batches[0].ids == std::vector<std::string>{"00004:4", "00004:5"});
    CHECK(grew.alerts.empty());
  }
}

TEST_CASE("UplinkSession: an ack that skips an unacknowledged batch closes the session",
          "[replication]") {
  // Regression: acks were taken as cumulative, so a batch lost before the parent's writer was
  // counted as held when the next one was acked, and never resent (replication sim seed 131).
  TestNode ward(kWardA);
  ward.submit_reports(4);
  ReplicationOptions options = small_options();
  options.max_batch_events = 2;
  UplinkSession up(*ward.log, options);
  const auto batches = batches_in(handshake(up, kDistrict, {}, at(0)));
  REQUIRE(batches.size() == 2);
  Outbox out;
  up.on_frame(*ack_frame(batches[1].last_lsn), at(1), out);
  CHECK(error_code_in(out) == wire::ErrorCode::BAD_MESSAGE);
  CHECK(out.closing());
  CHECK(up.events_acked() == 0);
  CHECK(up.parent_seqs().count(code(kWardA)) == 0);
}

TEST_CASE("UplinkSession: a heartbeat goes after the interval with the head of every origin",
          "[replication]") {
  TestNode ward(kWardA);
  ward.submit_reports(3);
  UplinkSession up(*ward.log, small_options());
  handshake(up, kDistrict, {{kWardA, 3, ward.chain_hash(kWardA, 3)}}, at(0));
  Outbox early, due;
  up.on_tick(at(100'000), early);
  CHECK(early.frames.empty());
  up.on_tick(at(200'000), due);
  std::vector<std::unique_ptr<Frame>> frames;
  REQUIRE(kinds(due, frames) == std::vector{wire::Message::HEARTBEAT});
  auto heartbeat = message_of(*frames[0]).getHeartbeat();
  CHECK(heartbeat.getSentAt() == kT0 + 200'000);
  REQUIRE(heartbeat.getHeads().size() == 1);
  CHECK(text_view(heartbeat.getHeads()[0].getOrigin()) == kWardA);
  CHECK(heartbeat.getHeads()[0].getSeq() == 3);
  CHECK(heartbeat.getHeads()[0].getNewestRecordedAt() == kT0);
}

TEST_CASE("UplinkSession: nothing heard from the parent for the idle timeout closes the session",
          "[replication]") {
  TestNode ward(kWardA);
  UplinkSession up(*ward.log, small_options());
  handshake(up, kDistrict, {}, at(0));
  Outbox alive, dead;
  up.on_frame(*heartbeat_frame(kT0), at(900'000), alive);
  up.on_tick(at(1'800'000), alive);
  CHECK_FALSE(alive.closing());
  up.on_tick(at(1'900'001), dead);
  CHECK(dead.closing());
  CHECK(up.close_reason().find("nothing heard from the parent") != std::string::npos);
}

TEST_CASE("UplinkSession: a batch unacknowledged for the ack timeout closes the session",
          "[replication]") {
  TestNode ward(kWardA);
  ward.submit_reports(2);
  UplinkSession up(*ward.log, small_options());
  REQUIRE(batches_in(handshake(up, kDistrict, {}, at(0))).size() == 1);
  Outbox out;
  for (int64_t t = 100'000; t <= 2'000'000 && !out.closing(); t += 100'000) {
    up.on_frame(*heartbeat_frame(kT0 + t), at(t),
                out);  // the parent is alive, only the ack is missing
    up.on_tick(at(t), out);
  }
  CHECK_FALSE(out.closing());
  up.on_tick(at(2'000'001), out);
  CHECK(out.closing());
  CHECK(up.close_reason().find("has not acknowledged LSN 2") != std::string::npos);
}

// --- DownlinkSession ---

TEST_CASE(
    "DownlinkSession: a child's hello gets the parent's hello and its watermarks of the child's "
    "subtree",
    "[replication]") {
  TestNode a(kWardA), b(kWardB), district(kDistrict);
  a.submit_reports(5);
  b.submit_reports(2);
  district.relay(*a.log, 1, 5);
  district.relay(*b.log, 1, 2);
  DownlinkSession down(*district.log, code(kDistrict), "test", small_options());
  const Outbox out = accept_child(down, a, std::nullopt, at(0));
  std::vector<std::unique_ptr<Frame>> frames;
  REQUIRE(kinds(out, frames) == std::vector{wire::Message::HELLO, wire::Message::WATERMARKS});
  CHECK(text_view(message_of(*frames[0]).getHello().getUnit()) == kDistrict);
  CHECK(message_of(*frames[0]).getHello().getRole() == wire::PeerRole::PARENT);
  auto entries = message_of(*frames[1]).getWatermarks().getEntries();
  REQUIRE(entries.size() == 1);  // not B's: it is not below A
  CHECK(text_view(entries[0].getOrigin()) == kWardA);
  CHECK(entries[0].getSeq() == 5);
  CHECK(entries[0].getHash() == district.chain_hash(kWardA, 5));
  CHECK(out.alerts.empty());
  REQUIRE(out.record_incarnation);  // first time seen
  CHECK(out.record_incarnation->first == code(kWardA));
  CHECK(out.record_incarnation->second == a.log->incarnation());
  CHECK(down.state() == DownlinkSession::State::kStreaming);
  CHECK(down.child() == code(kWardA));
}

TEST_CASE("DownlinkSession: a child back with a new incarnation is alerted and recorded",
          "[replication]") {
  TestNode a(kWardA), district(kDistrict);
  DownlinkSession same(*district.log, code(kDistrict), "test", small_options());
  const Outbox known = accept_child(same, a, a.log->incarnation(), at(0));
  CHECK(known.alerts.empty());
  CHECK_FALSE(known.record_incarnation);

  DownlinkSession changed(*district.log, code(kDistrict), "test", small_options());
  const Outbox out = accept_child(changed, a, std::string(16, 'o'), at(0));
  REQUIRE(out.alerts.size() == 1);
  CHECK(out.alerts[0].find("new log incarnation " + incarnation_hex(a.log->incarnation())) !=
        std::string::npos);
  REQUIRE(out.record_incarnation);
  CHECK(out.record_incarnation->second == a.log->incarnation());
  CHECK_FALSE(out.closing());  // it is served: its events are checked like any
}

TEST_CASE(
    "DownlinkSession: a hello from a unit outside the parent's subtree is refused with "
    "notInSubtree",
    "[replication]") {
  TestNode district(kDistrict), stranger("00037");
  DownlinkSession down(*district.log, code(kDistrict), "test", small_options());
  const Outbox out = accept_child(down, stranger, std::nullopt, at(0));
  CHECK(error_code_in(out) == wire::ErrorCode::NOT_IN_SUBTREE);
  CHECK(out.closing());
  CHECK_FALSE(out.record_incarnation);
}

TEST_CASE("DownlinkSession: a batch is one ingest job, acked with the child's LSN once written",
          "[replication]") {
  TestNode a(kWardA), district(kDistrict);
  a.submit_reports(3);
  DownlinkSession down(*district.log, code(kDistrict), "test", small_options());
  accept_child(down, a, std::nullopt, at(0));
  Outbox out;
  down.on_frame(*batch_frame(*a.log, 1, 3, 1, 3), at(1), out);
  CHECK(out.frames.empty());  // no ack before the write
  REQUIRE(out.ingests.size() == 1);
  CHECK(out.ingests[0].events.size() == 3);
  CHECK(out.ingests[0].ack_lsn == 3);
  CHECK(down.ingests_in_flight() == 1);

  Outbox acked;
  down.on_ingested(district.log->ingest(out.ingests[0].events), at(2), acked);
  std::vector<std::unique_ptr<Frame>> frames;
  REQUIRE(kinds(acked, frames) == std::vector{wire::Message::ACK});
  CHECK(message_of(*frames[0]).getAck().getLsn() == 3);
  CHECK(down.events_applied() == 3);
  CHECK(down.ingests_in_flight() == 0);
}

TEST_CASE("DownlinkSession: an event with a forged origin is refused with notInSubtree",
          "[replication]") {
  TestNode a(kWardA), b(kWardB), district(kDistrict);
  b.submit_reports(1);
  DownlinkSession down(*district.log, code(kDistrict), "test", small_options());
  accept_child(down, a, std::nullopt, at(0));
  Outbox out;
  down.on_frame(*batch_frame(*b.log, 1, 1, 1, 1), at(1), out);  // B's event on A's link
  CHECK(error_code_in(out) == wire::ErrorCode::NOT_IN_SUBTREE);
  CHECK(out.ingests.empty());
  CHECK(out.closing());
}

TEST_CASE("DownlinkSession: a batch whose LSNs do not grow is a bad message", "[replication]") {
  TestNode a(kWardA), district(kDistrict);
  a.submit_reports(2);
  DownlinkSession down(*district.log, code(kDistrict), "test", small_options());
  accept_child(down, a, std::nullopt, at(0));
  Outbox first, again;
  down.on_frame(*batch_frame(*a.log, 1, 2, 1, 2), at(1), first);
  REQUIRE(first.ingests.size() == 1);
  down.on_frame(*batch_frame(*a.log, 1, 2, 1, 2), at(2), again);  // a duplicate
  CHECK(error_code_in(again) == wire::ErrorCode::BAD_MESSAGE);
  CHECK(again.ingests.empty());
  CHECK(again.closing());
}

TEST_CASE("DownlinkSession: a batch of more than kMaxBatchEventsAccepted events is a bad message",
          "[replication]") {
  TestNode a(kWardA), district(kDistrict);
  a.submit_reports(1);
  auto one = a.log->read(Lsn{1}, 1).value();
  // `count` copies of A's one event, claimed to span LSNs 1..count.
  auto batch_of = [&](size_t count) {
    capnp::MallocMessageBuilder m;
    auto batch = m.initRoot<wire::Message>().initEventBatch();
    batch.setFirstLsn(1);
    batch.setLastLsn(count);
    auto list = batch.initEvents(static_cast<unsigned>(count));
    for (unsigned i = 0; i < count; ++i) list.setWithCaveats(i, one[0].event());
    return to_frame(m);
  };
  DownlinkSession at_cap(*district.log, code(kDistrict), "test", small_options());
  accept_child(at_cap, a, std::nullopt, at(0));
  Outbox taken;
  at_cap.on_frame(*batch_of(kMaxBatchEventsAccepted), at(1), taken);
  CHECK(taken.ingests.size() == 1);  // the writer would then skip the copies as duplicates

  DownlinkSession over(*district.log, code(kDistrict), "test", small_options());
  accept_child(over, a, std::nullopt, at(0));
  Outbox refused;
  over.on_frame(*batch_of(kMaxBatchEventsAccepted + 1), at(1), refused);
  CHECK(error_code_in(refused) == wire::ErrorCode::BAD_MESSAGE);
  CHECK(refused.ingests.empty());
  CHECK(refused.closing());
}

TEST_CASE("DownlinkSession: an ingest refused as a fork sends a fork error and an alert",
          "[replication]") {
  TestNode a(kWardA), district(kDistrict);
  a.submit_reports(1);
  DownlinkSession down(*district.log, code(kDistrict), "test", small_options());
  accept_child(down, a, std::nullopt, at(0));
  Outbox taken, out;
  down.on_frame(*batch_frame(*a.log, 1, 1, 1, 1), at(1), taken);
  REQUIRE(taken.ingests.size() == 1);
  down.on_ingested(Error(ErrorKind::kConflict, "fork: origin 00001 seq 1 differs"), at(2), out);
  CHECK(error_code_in(out) == wire::ErrorCode::FORK);
  REQUIRE(out.alerts.size() == 1);
  CHECK(out.alerts[0].find("fork: origin 00001 seq 1") != std::string::npos);
  CHECK(out.closing());
}

TEST_CASE("DownlinkSession: heartbeats go every interval and silence closes after the idle timeout",
          "[replication]") {
  TestNode a(kWardA), district(kDistrict);
  DownlinkSession down(*district.log, code(kDistrict), "test", small_options());
  accept_child(down, a, std::nullopt, at(0));
  Outbox early, due, dead;
  down.on_tick(at(100'000), early);
  CHECK(early.frames.empty());
  down.on_tick(at(200'000), due);
  std::vector<std::unique_ptr<Frame>> frames;
  REQUIRE(kinds(due, frames) == std::vector{wire::Message::HEARTBEAT});
  CHECK_FALSE(due.closing());
  down.on_tick(at(1'000'001), dead);
  CHECK(dead.closing());
  CHECK(down.close_reason().find("nothing heard from child 00001") != std::string::npos);
}

TEST_CASE("DownlinkSession: a tick before the hello does not close the connection at once",
          "[replication]") {
  // Regression: the idle clock started at 0, so a driver that ticks every session closed a new
  // connection on its first tick, before the child's hello could arrive.
  TestNode a(kWardA), district(kDistrict);
  DownlinkSession down(*district.log, code(kDistrict), "test", small_options());
  Outbox first, later;
  down.on_tick(at(0), first);
  CHECK_FALSE(first.closing());
  down.on_tick(at(1'000'001), later);  // still no hello: now it is dead
  CHECK(later.closing());
}

TEST_CASE("DownlinkSession: a child whose batch waits for this node's writer is not taken for dead",
          "[replication]") {
  // The driver stops reading a child while its batches wait for the writer (flow control), so
  // the child's heartbeats wait too; that silence must not close the session.
  TestNode a(kWardA), district(kDistrict);
  a.submit_reports(3);
  DownlinkSession down(*district.log, code(kDistrict), "test", small_options());
  accept_child(down, a, std::nullopt, at(0));
  Outbox taken, waiting, acked, dead;
  down.on_frame(*batch_frame(*a.log, 1, 3, 1, 3), at(1), taken);
  REQUIRE(taken.ingests.size() == 1);
  down.on_tick(at(3'000'000), waiting);  // three idle timeouts later, the write still pending
  CHECK_FALSE(waiting.closing());
  down.on_ingested(district.log->ingest(taken.ingests[0].events), at(3'000'001), acked);
  CHECK_FALSE(acked.closing());
  down.on_tick(at(4'000'002), dead);  // written and answered: silence counts again
  CHECK(dead.closing());
}

TEST_CASE("UplinkSession: heartbeats go while this node takes its own events back", "[replication]") {
  TestNode old_ward(kWardA), district(kDistrict);
  old_ward.submit_reports(5);
  district.relay(*old_ward.log, 1, 5);
  TestNode ward(kWardA);  // re-created empty
  UplinkSession up(*ward.log, small_options());
  handshake(up, kDistrict, {{kWardA, 5, district.chain_hash(kWardA, 5)}}, at(0));
  REQUIRE(up.recovering());
  Outbox tick;
  up.on_tick(at(200'000), tick);  // the fetched events wait for this node's writer meanwhile
  std::vector<std::unique_ptr<Frame>> frames;
  CHECK(kinds(tick, frames) == std::vector{wire::Message::HEARTBEAT});
  CHECK_FALSE(tick.closing());
}

// --- both together ---

TEST_CASE("UplinkSession: a child and a parent connected by hand sync the child's log",
          "[replication]") {
  TestNode a(kWardA), district(kDistrict);
  a.submit_reports(7);
  ReplicationOptions options = small_options();
  options.max_batch_events = 3;
  UplinkSession up(*a.log, options);
  DownlinkSession down(*district.log, code(kDistrict), "test", options);
  Outbox to_parent;
  up.start(at(0), to_parent);
  auto hello = to_frame(to_parent.frames.at(0));
  Outbox to_child;
  down.on_hello(message_of(*hello).getHello(), std::nullopt, at(1), to_child);
  // Carry frames both ways, running each ingest at once, until nothing moves.
  for (int round = 0; round < 20 && !(to_parent.frames.empty() && to_child.frames.empty());
       ++round) {
    Outbox next_to_parent, next_to_child;
    for (const auto& bytes : to_child.frames)
      up.on_frame(*to_frame(bytes), at(round), next_to_parent);
    to_child = Outbox{};
    for (size_t i = round == 0 ? 1 : 0; i < to_parent.frames.size(); ++i)
      down.on_frame(*to_frame(to_parent.frames[i]), at(round), next_to_child);
    for (auto& job : next_to_child.ingests)
      down.on_ingested(district.log->ingest(job.events), at(round), next_to_child);
    next_to_child.ingests.clear();
    to_parent = std::move(next_to_parent);
    to_child = std::move(next_to_child);
  }
  CHECK(up.events_acked() == 7);
  CHECK(up.batches_in_flight() == 0);
  CHECK(down.events_applied() == 7);
  CHECK(district.chain_hash(kWardA, 7) == a.chain_hash(kWardA, 7));
}

TEST_CASE("UplinkSession: a fetch the parent never answers closes the session after the ack timeout",
          "[replication]") {
  // Regression: a take-back whose fetch (or its answer) was lost waited forever, heartbeats
  // keeping both sides alive, and the node refused submits for good.
  TestNode old_ward(kWardA), district(kDistrict);
  old_ward.submit_reports(5);
  district.relay(*old_ward.log, 1, 5);
  TestNode ward(kWardA);
  UplinkSession up(*ward.log, small_options());
  const Outbox out = handshake(up, kDistrict, {{kWardA, 5, district.chain_hash(kWardA, 5)}}, at(0));
  std::vector<std::unique_ptr<Frame>> frames;
  REQUIRE(kinds(out, frames) == std::vector{wire::Message::FETCH});
  // The parent's heartbeats keep the link alive, but the fetch stays unanswered.
  keep_alive(up, 200'000, 2'000'000);
  Outbox late;
  up.on_tick(at(2'100'000), late);
  REQUIRE(late.closing());
  CHECK(late.close->find("has not answered the fetch of seq 1") != std::string::npos);
  CHECK(up.state() == UplinkSession::State::kClosed);
}

TEST_CASE("UplinkSession: a chain probe the parent never answers reports the fork with the range known",
          "[replication]") {
  TestNode ward(kWardA);
  ward.submit_reports(8);
  UplinkSession up(*ward.log, small_options());
  const Outbox probed = handshake(up, kDistrict, {{kWardA, 8, ward.chain_hash(kWardA, 8) ^ 1}}, at(0));
  REQUIRE(up.state() == UplinkSession::State::kLocatingFork);
  keep_alive(up, 200'000, 2'000'000);
  Outbox late;
  up.on_tick(at(2'100'000), late);
  REQUIRE(late.closing());
  REQUIRE(late.fork);
  CHECK(late.fork->first_seq == 0);  // not known
  REQUIRE(late.alerts.size() == 1);
  CHECK(late.alerts[0].find("between seqs 1 and 8") != std::string::npos);
}

TEST_CASE("UplinkSession: a parent that refuses a chain probe still gets the fork reported, with the range known",
          "[replication]") {
  // An older parent answers a probe with badMessage: the fork must not go unreported, and the
  // close reason names it so that the driver backs off from that parent.
  TestNode ward(kWardA);
  ward.submit_reports(8);
  UplinkSession up(*ward.log, small_options());
  handshake(up, kDistrict, {{kWardA, 8, ward.chain_hash(kWardA, 8) ^ 1}}, at(0));
  REQUIRE(up.state() == UplinkSession::State::kLocatingFork);
  capnp::MallocMessageBuilder m;
  auto error = m.initRoot<wire::Message>().initError();
  error.setCode(wire::ErrorCode::BAD_MESSAGE);
  error.setMessage("unexpected message from a child");
  Outbox refused;
  up.on_frame(*to_frame(m), at(1), refused);
  REQUIRE(refused.closing());
  CHECK(refused.close->find("fork: origin 00001") != std::string::npos);
  CHECK(refused.close->find("unexpected message from a child") != std::string::npos);
  REQUIRE(refused.fork);
  CHECK(refused.fork->first_seq == 0);
  REQUIRE(refused.alerts.size() == 1);
  CHECK(refused.alerts[0].find("between seqs 1 and 8") != std::string::npos);
}

TEST_CASE("UplinkSession: a fork found while batches are in flight is located, not cut short by their ack timeout",
          "[replication]") {
  TestNode old_b(kWardB), new_b(kWardB), district(kDistrict);
  old_b.submit_reports(5);
  new_b.submit_reports(6, 99);
  district.relay(*new_b.log, 1, 2);
  district.submit_reports(3);  // the district's own events: batches in flight
  UplinkSession up(*district.log, small_options());
  const Outbox marked = handshake(up, kProvince, {{kWardB, 3, old_b.chain_hash(kWardB, 3)}}, at(0));
  REQUIRE(!batches_in(marked).empty());
  district.relay(*new_b.log, 3, 6);
  Outbox beat, grew;
  up.on_frame(*heartbeat_frame(1'000'000), at(1'000'000), beat);
  up.on_log_grew(at(1'000'000), grew);  // a second after the batches went
  REQUIRE(up.state() == UplinkSession::State::kLocatingFork);
  // The parent answers nothing for longer than the ack timeout, but keeps the link alive: the
  // search ends with the range known, as a fork, when the probe times out (the batches sent
  // before it no longer count).
  Outbox closed;
  int64_t closed_at = 0;
  for (int64_t t = 1'200'000; t <= 4'000'000 && !closed.closing(); t += 100'000) {
    Outbox alive;
    up.on_frame(*heartbeat_frame(t), at(t), alive);
    up.on_tick(at(t), closed);
    closed_at = t;
  }
  REQUIRE(closed.closing());
  CHECK(closed_at > 3'000'000);  // the probe's timeout, not the batches' (2 s after t = 0)
  CHECK(closed.close->find("fork: origin 00004") != std::string::npos);
  REQUIRE(closed.fork);
  CHECK(closed.fork->origin == code(kWardB));
}

TEST_CASE("DownlinkSession: a child that keeps probing past what any bisection needs is cut off",
          "[replication]") {
  TestNode ward(kWardA), district(kDistrict);
  ward.submit_reports(4);
  district.relay(*ward.log, 1, 4);
  DownlinkSession down(*district.log, code(kDistrict), "test", small_options());
  accept_child(down, ward, std::nullopt, at(0));
  for (int i = 0; i < 66; ++i) {
    capnp::MallocMessageBuilder m;
    auto p = m.initRoot<wire::Message>().initChainProbe();
    p.setOrigin(kWardA);
    p.setSeq(2);
    Outbox answered;
    down.on_frame(*to_frame(m), at(1), answered);
    REQUIRE_FALSE(answered.closing());
  }
  capnp::MallocMessageBuilder m;
  auto p = m.initRoot<wire::Message>().initChainProbe();
  p.setOrigin(kWardA);
  p.setSeq(2);
  Outbox cut;
  down.on_frame(*to_frame(m), at(1), cut);
  CHECK(error_code_in(cut) == wire::ErrorCode::BAD_MESSAGE);
  CHECK(cut.closing());
}

}  // namespace rollcall::testing
