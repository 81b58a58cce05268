// The simulator's connections (replication_sim.h): two directional frame queues with random
// latency and the frame faults, the sessions at both ends, and how an Outbox is carried out.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "engine/capnp_guard.h"
#include "engine/event_fields.h"
#include "engine/protocol.h"
#include "tests/support/replication_sim.h"

namespace rollcall::testing {

ReplicationSim::Connection* ReplicationSim::connection(uint64_t id) {
  auto it = connections_.find(id);
  return it == connections_.end() ? nullptr : it->second.get();
}

void ReplicationSim::connect(Node& child, Node& parent, size_t rank) {
  auto made = std::make_unique<Connection>();
  Connection& c = *made;
  c.id = next_connection_++;
  c.child = child.unit;
  c.parent = parent.unit;
  c.rank = rank;
  c.up = std::make_unique<UplinkSession>(*child.log, options_.replication);
  connections_[c.id] = std::move(made);
  ++stats_.connections;
  child.uplink = c.id;
  if (rank > 0) child.next_probe_us = now_ + options_.probe_interval_us;
  Outbox out;
  c.up->start(Timestamp{now_}, out);
  apply(c, kChild, out);
}

void ReplicationSim::send(Connection& c, Side to, std::vector<uint8_t> bytes) {
  ++stats_.frames;
  if (faults_on_ && random_.chance(options_.faults.drop)) {
    ++stats_.dropped;
    return;
  }
  if (faults_on_ && random_.chance(options_.faults.cut)) {
    ++stats_.cuts;
    const uint64_t id = c.id;
    at(now_, [this, id] { cut(id); });
    return;
  }
  const int64_t arrival = std::max(now_ + latency(), c.last_arrival_us[to]);
  c.last_arrival_us[to] = arrival;
  if (faults_on_ && !c.held[to] && random_.chance(options_.faults.reorder)) {
    // Held back until the next frame this way goes (or 300 ms pass): it arrives after that one.
    ++stats_.reordered;
    c.held[to] = std::move(bytes);
    const uint64_t id = c.id;
    at(now_ + 300'000, [this, id, to] {
      Connection* k = connection(id);
      if (k == nullptr || !k->held[to]) return;
      std::vector<uint8_t> late = std::move(*k->held[to]);
      k->held[to].reset();
      schedule_delivery(*k, to, std::move(late), now_);
    });
    return;
  }
  if (faults_on_ && random_.chance(options_.faults.duplicate)) {
    ++stats_.duplicated;
    schedule_delivery(c, to, bytes, arrival);
  }
  schedule_delivery(c, to, std::move(bytes), arrival);
  if (c.held[to]) {
    std::vector<uint8_t> late = std::move(*c.held[to]);
    c.held[to].reset();
    schedule_delivery(c, to, std::move(late), arrival);
  }
}

void ReplicationSim::schedule_delivery(Connection& c, Side to, std::vector<uint8_t> bytes,
                                       int64_t arrival_us) {
  const uint64_t id = c.id;
  at(arrival_us, [this, id, to, bytes = std::move(bytes)] { deliver(id, to, bytes); });
}

void ReplicationSim::deliver(uint64_t id, Side to, const std::vector<uint8_t>& bytes) {
  Connection* c = connection(id);
  if (c == nullptr || !c->open[to]) return;
  // In one to three pieces, as a stream may split them.
  size_t done = 0;
  for (int pieces = static_cast<int>(random_.between(1, 3)); done < bytes.size(); --pieces) {
    const size_t size =
        pieces <= 1
            ? bytes.size() - done
            : static_cast<size_t>(random_.between(0, static_cast<int64_t>(bytes.size() - done)));
    if (auto fed = c->decoder[to].feed(bytes.data() + done, size); !fed.ok()) {
      failures_.push_back("connection " + std::to_string(id) +
                          ": our own frame did not decode: " + fed.error().message());
      cut(id);
      return;
    }
    done += size;
    // Bytes arrived: the link is alive, even before a whole frame has (as the node tells them).
    if (to == kChild && c->up) c->up->on_bytes(Timestamp{now_});
    if (to == kParent && c->down) c->down->on_bytes(Timestamp{now_});
  }
  while (auto frame = c->decoder[to].next()) {
    c = connection(id);
    if (c == nullptr || !c->open[to]) return;
    if (to == kParent) {
      on_parent_frame(*c, *frame);
    } else if (c->up) {
      Outbox out;
      c->up->on_frame(*frame, Timestamp{now_}, out);
      apply(*c, kChild, out);
    }
  }
}

void ReplicationSim::on_parent_frame(Connection& c, Frame& frame) {
  Node& parent = node(c.parent);
  if (c.down) {
    Outbox out;
    c.down->on_frame(frame, Timestamp{now_}, out);
    apply(c, kParent, out);
    return;
  }
  // The first frame: the driver reads the child's unit from the hello to look up the
  // incarnation it recorded for it, then makes the session.
  bool hello = false;
  std::optional<UnitCode> unit;
  auto read = guard_capnp("a child's first frame", [&] {
    auto message = frame.root<wire::Message>();
    if (!message.isHello()) return;
    hello = true;
    if (auto code = UnitCode::parse(text_view(message.getHello().getUnit())); code.ok())
      unit = *code;
  });
  if (!read.ok() || !hello) {
    Outbox out;
    out.frames.push_back(
        error_frame(wire::ErrorCode::BAD_MESSAGE, "a connection must begin with a hello"));
    out.close = "no hello";
    apply(c, kParent, out);
    return;
  }
  std::optional<std::string> known;
  if (unit) {
    auto recorded = parent.log->child_incarnation(*unit);
    if (!recorded.ok())
      failures_.push_back("node " + parent.unit.str() + ": " + recorded.error().message());
    else
      known = *recorded;
  }
  c.down = std::make_unique<DownlinkSession>(
      *parent.log, parent.unit, "connection " + std::to_string(c.id), options_.replication);
  Outbox out;
  auto handled = guard_capnp("hello", [&] {
    c.down->on_hello(frame.root<wire::Message>().getHello(), known, Timestamp{now_}, out);
  });
  if (!handled.ok())
    failures_.push_back("connection " + std::to_string(c.id) + ": " + handled.error().message());
  apply(c, kParent, out);
}

void ReplicationSim::apply(Connection& c, Side side, Outbox& out) {
  const Side to = side == kChild ? kParent : kChild;
  Node& here = node(side == kChild ? c.child : c.parent);
  for (auto& frame : out.frames) send(c, to, std::move(frame));
  for (auto& job : out.ingests) queue_ingest(here, c.id, side, std::move(job));
  for (auto& alert : out.alerts) alerts_.push_back(SimAlert{now_, here.unit, alert});
  if (out.record_incarnation) {
    auto recorded = here.log->record_child_incarnation(out.record_incarnation->first,
                                                       out.record_incarnation->second);
    if (!recorded.ok())
      failures_.push_back("node " + here.unit.str() + ": " + recorded.error().message());
  }
  if (out.fork) {
    if (auto recorded = here.log->record_fork(*out.fork); !recorded.ok())
      failures_.push_back("node " + here.unit.str() + ": " + recorded.error().message());
  }
  // The node's own-origin check, across the sessions of this start (submits wait for it).
  if (side == kChild && c.up && c.up->recovering()) here.must_recover = true;
  if (side == kChild && c.up && c.up->own_origin_checked()) {
    here.own_checked = true;
    here.must_recover = false;
    here.restored = false;
  }
  if (out.close) {
    ++stats_.closes;
    close_side(c, side, *out.close);
  }
}

void ReplicationSim::close_side(Connection& c, Side side, const std::string&) {
  if (!c.open[side]) return;
  c.open[side] = false;
  if (side == kChild)
    c.up.reset();
  else
    c.down.reset();
  // The peer sees the close after every frame already sent its way (a held one included).
  const Side to = side == kChild ? kParent : kChild;
  const int64_t arrival = std::max(now_ + latency(), c.last_arrival_us[to]);
  c.last_arrival_us[to] = arrival;
  if (c.held[to]) {
    std::vector<uint8_t> late = std::move(*c.held[to]);
    c.held[to].reset();
    schedule_delivery(c, to, std::move(late), arrival);
  }
  const uint64_t id = c.id;
  at(arrival, [this, id, to] { receive_close(id, to); });
  if (side == kChild) uplink_ended(c);
}

void ReplicationSim::receive_close(uint64_t id, Side to) {
  Connection* c = connection(id);
  if (c == nullptr) return;
  if (c->open[to]) {
    c->open[to] = false;
    if (to == kChild) {
      c->up.reset();
      uplink_ended(*c);
    } else {
      c->down.reset();
    }
  }
  if (!c->open[kChild] && !c->open[kParent]) connections_.erase(id);
}

void ReplicationSim::cut(uint64_t id) {
  Connection* c = connection(id);
  if (c == nullptr) return;
  const bool child_open = c->open[kChild];
  c->open[kChild] = c->open[kParent] = false;
  c->up.reset();
  c->down.reset();
  if (child_open) uplink_ended(*c);
  connections_.erase(id);
}

void ReplicationSim::uplink_ended(Connection& c) {
  Node& child = node(c.child);
  if (child.uplink != c.id) return;
  child.uplink = 0;
  if (child.up())
    attempt_uplink_later(child, 0,
                         random_.between(options_.backoff_min_us, options_.backoff_max_us));
}

}  // namespace rollcall::testing
