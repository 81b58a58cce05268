// Writes the Cap'n Proto seeds of the committed fuzz corpus: `fuzz_seeds DIR` fills
// DIR/frame_decode/ (streams of real frames, as a client, a child or a parent sends them, built
// with the project's own encoders) and DIR/event_decode/ (single events as flat messages).
// The seeds only need to be real; regenerate them when the schema grows.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <capnp/message.h>
#include <capnp/serialize.h>

#include "engine/event_json.h"
#include "engine/frame_codec.h"
#include "engine/protocol.h"
#include "fuzz/fuzz_map.h"
#include "schema/wire.capnp.h"

namespace rollcall::fuzz {
namespace {

const char* const kLines[] = {
    R"({"unit":"00001","effectiveDate":"2024-03-01","memberAdmitted":{"memberId":"00001-000001","fullName":"Bùi Gia Thắng","birthDate":"2004-09-12"}})",
    R"({"unit":"00001","effectiveDate":"2024-03-02","activityReported":{"kind":"leafletsDistributed","count":1827,"participants":21}})",
    R"({"unit":"00004","effectiveDate":"2024-03-03","memberTransferredIn":{"memberId":"00001-000002","fromUnit":"00001"}})",
    R"({"unit":"00001","effectiveDate":"2024-11-17","memberRated":{"memberId":"00001-000001","year":2024,"rating":"good"},"requestId":"r-1"})",
};

void set_event(schema::Event::Builder e, const char* line, const char* origin = nullptr, uint64_t seq = 0) {
  static const EventJson json;
  if (!json.parse(line, e).ok()) {
    fprintf(stderr, "bad seed line %s\n", line);
    std::exit(1);
  }
  if (origin) {
    e.setOrigin(origin);
    e.setSeq(seq);
    e.setRecordedAt(1'735'689'600'000'000 + static_cast<int64_t>(seq));
  }
}

class Stream {
 public:
  explicit Stream(uint8_t mode) : bytes_{mode} {}
  template <typename Fill>
  Stream& add(Fill fill) {
    capnp::MallocMessageBuilder m;
    fill(m.initRoot<wire::Message>());
    auto frame = encode_frame(m);
    bytes_.insert(bytes_.end(), frame.begin(), frame.end());
    return *this;
  }
  void write(const std::string& path) const {
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes_.data()),
                                                static_cast<std::streamsize>(bytes_.size()));
  }

 private:
  std::vector<uint8_t> bytes_;
};

const std::string kIncarnation(16, 'i');

auto hello(const char* unit, wire::PeerRole role) {
  return [=](wire::Message::Builder m) { fill_hello(m.initHello(), unit, role, kIncarnation); };
}

void write_frames(const std::string& dir) {
  // A client: hello, a submit of every kind above, a status request, an import.
  Stream(0x00)
      .add(hello("client", wire::PeerRole::CLIENT))
      .add([](wire::Message::Builder m) {
        auto submit = m.initSubmit();
        submit.setRequestTag(1);
        auto events = submit.initEvents(4);
        for (unsigned i = 0; i < 4; ++i) set_event(events[i], kLines[i]);
      })
      .add([](wire::Message::Builder m) { m.initStatusRequest(); })
      .add([](wire::Message::Builder m) {
        auto import = m.initImport();
        import.setRequestTag(2);
        set_event(import.initEvents(1)[0], kLines[1], "00001", 1);
      })
      .write(dir + "/client-submit");
  // The same, fed in small chunks (mode bits above bit 0 seed the chunking).
  Stream(0x0e).add(hello("client", wire::PeerRole::CLIENT)).add([](wire::Message::Builder m) {
    set_event(m.initSubmit().initEvents(1)[0], kLines[0]);
  }).write(dir + "/client-submit-chunked");
  // A child 00001 at its parent 001: hello, a batch continuing its log, heartbeat, fetch,
  // chain probe, error.
  Stream(0x00)
      .add(hello("00001", wire::PeerRole::CHILD))
      .add([](wire::Message::Builder m) {
        auto batch = m.initEventBatch();
        batch.setFirstLsn(4);
        batch.setLastLsn(5);
        auto events = batch.initEvents(2);
        set_event(events[0], kLines[0], "00001", 4);
        set_event(events[1], kLines[1], "00001", 5);
      })
      .add([](wire::Message::Builder m) {
        auto hb = m.initHeartbeat();
        hb.setSentAt(1);
        auto head = hb.initHeads(1)[0];
        head.setOrigin("00001");
        head.setSeq(5);
        head.setNewestRecordedAt(1'735'689'600'000'005);
      })
      .add([](wire::Message::Builder m) {
        auto fetch = m.initFetch();
        fetch.setOrigin("00001");
        fetch.setFromSeq(1);
        fetch.setMaxEvents(10);
      })
      .add([](wire::Message::Builder m) {
        auto probe = m.initChainProbe();
        probe.setOrigin("00001");
        probe.setSeq(2);
      })
      .add([](wire::Message::Builder m) {
        auto error = m.initError();
        error.setCode(wire::ErrorCode::FORK);
        error.setMessage("fork");
        error.setOrigin("00001");
        error.setSeq(2);
      })
      .write(dir + "/child-at-parent");
  // A parent 001 at its child 00001: hello, watermarks holding more of 00001 than the child
  // (the child takes them back), the fetched events, an ack, a heartbeat.
  Stream(0x01)
      .add(hello("001", wire::PeerRole::PARENT))
      .add([](wire::Message::Builder m) {
        auto entries = m.initWatermarks().initEntries(2);
        entries[0].setOrigin("00001");
        entries[0].setSeq(5);
        entries[0].setHash(12345);
        entries[1].setOrigin("00004");
        entries[1].setSeq(1);
        entries[1].setHash(678);
      })
      .add([](wire::Message::Builder m) {
        auto fetched = m.initFetchedEvents();
        fetched.setOrigin("00001");
        fetched.setFromSeq(4);
        fetched.setChainBefore(999);
        auto events = fetched.initEvents(2);
        set_event(events[0], kLines[0], "00001", 4);
        set_event(events[1], kLines[1], "00001", 5);
      })
      .add([](wire::Message::Builder m) { m.initAck().setLsn(3); })
      .add([](wire::Message::Builder m) { m.initHeartbeat().setSentAt(2); })
      .add([](wire::Message::Builder m) {
        auto answer = m.initChainHash();
        answer.setOrigin("00001");
        answer.setSeq(2);
        answer.setHeld(true);
        answer.setHash(5);
      })
      .write(dir + "/parent-at-child");
  // A parent whose watermarks match nothing: the child streams, then acks.
  Stream(0x03)
      .add(hello("001", wire::PeerRole::PARENT))
      .add([](wire::Message::Builder m) { m.initWatermarks().initEntries(0); })
      .add([](wire::Message::Builder m) { m.initAck().setLsn(3); })
      .add([](wire::Message::Builder m) { m.initError().setCode(wire::ErrorCode::BUSY); })
      .write(dir + "/parent-streaming");
}

void write_events(const std::string& dir) {
  int n = 0;
  for (const char* line : kLines) {
    for (bool logged : {false, true}) {
      capnp::MallocMessageBuilder m;
      set_event(m.initRoot<schema::Event>(), line, logged ? "001" : nullptr, 7);
      auto words = capnp::messageToFlatArray(m);
      auto bytes = words.asBytes();
      std::ofstream(dir + "/event-" + std::to_string(n++), std::ios::binary)
          .write(reinterpret_cast<const char*>(bytes.begin()), static_cast<std::streamsize>(bytes.size()));
    }
  }
}

}  // namespace
}  // namespace rollcall::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: fuzz_seeds DIR (writes DIR/frame_decode/ and DIR/event_decode/)\n");
    return 2;
  }
  const std::string dir = argv[1];
  rollcall::fuzz::write_frames(dir + "/frame_decode");
  rollcall::fuzz::write_events(dir + "/event_decode");
  return 0;
}
