# rollcall wire protocol: every frame on a node's TCP port carries one `Message`.
# docs/protocol.md describes the exchange. Evolution rules as in event.capnp; the protocol
# version in `Hello` changes only when an old peer could misread a new one.
@0xb01f3d0dae9116f8;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("rollcall::wire");

using Event = import "event.capnp".Event;

const protocolVersion :UInt32 = 1;
# Current protocol version. A peer refuses only a version it cannot speak.

enum PeerRole {
  # What the connecting side is.
  client @0;
  # An operator tool or application that submits events and asks questions.
  child @1;
  # A child node that pushes its log upward.
  parent @2;
  # A node answering a child's hello.
}

struct Hello {
  # First message of each side of a connection.
  unit @0 :Text;
  # The sender's unit code (a client may leave it empty).
  protocolVersion @1 :UInt32;
  # The sender's protocol version.
  schemaFingerprint @2 :UInt64;
  # Hash of the sender's event schema; a different one is fine (schemas only add fields).
  incarnation @3 :Data;
  # The sender's log incarnation id (16 random bytes made with its data dir); empty for clients.
  role @4 :PeerRole;
  # What the sender is.
  software @5 :Text;
  # Free text, e.g. `rollcall 0.1.0`, for logs.
  listenAddress @6 :Text;
  # A child node's HOST:PORT where it serves clients, so that `rollcall status --tree` can ask
  # it in turn (empty: not said; it may not be reachable from the parent's side).
  token @7 :Text;
  # A client's access token from the node's configuration, for a client without a certificate
  # (TLS only; never sent over plain TCP).
}

struct Watermark {
  # How much of one origin a node holds.
  origin @0 :Text;
  # The origin's unit code.
  seq @1 :UInt64;
  # Highest seq held with no gap below it (0: none).
  hash @2 :UInt64;
  # Chained content hash of the origin's events 1..seq (see engine/FORMAT.md).
}

struct Watermarks {
  # A parent's answer to a child's hello: what it holds of the child's subtree.
  entries @0 :List(Watermark);
  # One per origin the parent holds in that subtree.
}

struct EventBatch {
  # Consecutive events of the sender's log.
  firstLsn @0 :UInt64;
  # Sender's LSN of the first event.
  lastLsn @1 :UInt64;
  # Sender's LSN of the last event, named by the ack that covers this batch.
  events @2 :List(Event);
  # The events, in the sender's LSN order.
}

struct Ack {
  # The receiver has durably applied everything up to `lsn` of the sender's log.
  lsn @0 :UInt64;
  # Sender's LSN covered.
}

struct OriginHead {
  # How far one origin has got at the sender.
  origin @0 :Text;
  # The origin's unit code.
  seq @1 :UInt64;
  # Its highest seq held by the sender.
  newestRecordedAt @2 :Int64;
  # recordedAt of its newest event held, microseconds since the epoch.
}

struct Heartbeat {
  # Keeps a link alive and tells the receiver how far behind it is.
  sentAt @0 :Int64;
  # Sender's clock, microseconds since the epoch.
  heads @1 :List(OriginHead);
  # The sender's head per origin.
}

struct Submit {
  # A client appends events through a node.
  requestTag @0 :UInt64;
  # Chosen by the client to match the result; echoed back.
  events @1 :List(Event);
  # The events, without origin, seq or recordedAt.
}

enum RejectCode {
  # Why an event was refused.
  invalid @0;
  # Malformed: a missing or bad field.
  unknownUnit @1;
  # A unit code the node's map does not know.
  outsideSubtree @2;
  # A unit outside the node's subtree.
  domainRule @3;
  # Against the member's state at this node (admit twice, transfer an absent member...).
  conflict @4;
  # A requestId repeated with other content, or a retraction of an unknown event.
  storageFull @5;
  # The node is below its free-space reserve; retry later.
  unavailable @6;
  # The node cannot append now (shutting down, recovering); retry later.
  internal @7;
  # A bug or storage failure at the node.
}

struct Import {
  # A client hands a node events numbered elsewhere: an export of another node's log (carried
  # by hand while a link is down for days, or to refill a node). They are ingested as a child's
  # batch is: all or nothing, an origin:seq already held skipped when its content is the same, a
  # fork or a gap refused.
  requestTag @0 :UInt64;
  # Chosen by the client to match the result; echoed back.
  events @1 :List(Event);
  # With origin, seq and recordedAt; each origin's events in seq order, from the node's
  # subtree.
}

struct ImportResult {
  # The node's answer to an `Import`, after its synced write.
  requestTag @0 :UInt64;
  # As sent.
  applied @1 :UInt32;
  # Events written.
  duplicates @2 :UInt32;
  # Events the node already held, with the same content.
  ok @3 :Bool;
  # False: nothing of this import was written; `code` and `message` say why.
  code @4 :ErrorCode;
  # With ok false: fork, gap, notInSubtree, badMessage, storageFull, shuttingDown or internal.
  message @5 :Text;
  # With ok false: what is wrong, naming the event.
}

struct EventRef {
  # The identity an accepted event got.
  origin @0 :Text;
  # Origin unit code.
  seq @1 :UInt64;
  # Seq within the origin.
  repeated @2 :Bool;
  # True when a repeated requestId was answered with the original event.
}

struct Rejection {
  # Why one event was not appended.
  code @0 :RejectCode;
  # Class of the problem.
  message @1 :Text;
  # Human-readable, naming what is wrong.
}

struct SubmitOutcome {
  # The fate of one submitted event.
  union {
    accepted @0 :EventRef;
    # Appended (or already appended, see `repeated`).
    rejected @1 :Rejection;
    # Not appended.
  }
}

struct SubmitResult {
  # A node's answer to a `Submit`, after the durable write.
  requestTag @0 :UInt64;
  # The `Submit`'s tag.
  outcomes @1 :List(SubmitOutcome);
  # One per submitted event, in order.
}

enum ErrorCode {
  # Why a connection is being closed.
  badFrame @0;
  # Frame too large or not a Cap'n Proto message.
  badMessage @1;
  # A message that is not allowed here or is malformed.
  incompatibleProtocol @2;
  # The peer's protocol version cannot be spoken.
  unauthorized @3;
  # The peer may not do this.
  notInSubtree @4;
  # The peer's unit or an event's unit is outside this node's subtree.
  gap @5;
  # An origin's seqs are not contiguous.
  fork @6;
  # The same origin:seq with other content.
  storageFull @7;
  # The receiver is out of space; retry later.
  shuttingDown @8;
  # The node is stopping.
  internal @9;
  # A bug or storage failure.
  timeout @10;
  # The peer was too slow.
  busy @11;
  # The node has too many connections; retry later.
}

struct Error {
  # Sent before a node closes a connection because of a problem.
  code @0 :ErrorCode;
  # Class of the problem.
  message @1 :Text;
  # Human-readable, naming what is wrong.
  origin @2 :Text;
  # With `fork`: the origin whose histories differ (empty when not known).
  seq @3 :UInt64;
  # With `fork`: the first seq of that origin at which they differ (0: not known).
}

struct ChainProbe {
  # A child that found its chain hash of an origin differs from its parent's (a fork) asks for the
  # parent's chain hash at an earlier seq, to find by bisection the first seq that differs.
  origin @0 :Text;
  # An origin of the child's subtree.
  seq @1 :UInt64;
  # At most the parent's watermark of that origin.
}

struct ChainHash {
  # The parent's answer to a `ChainProbe`.
  origin @0 :Text;
  # As asked.
  seq @1 :UInt64;
  # As asked.
  held @2 :Bool;
  # False when the parent does not hold that seq.
  hash @3 :UInt64;
  # The parent's chain hash of the origin's events 1..seq.
}

struct Fetch {
  # A child whose log holds less of its own origin than its parent (its data dir was re-created
  # or restored from an old backup) asks for those events back, one bounded batch at a time.
  origin @0 :Text;
  # The child's own unit code.
  fromSeq @1 :UInt64;
  # The first seq wanted: one past what the child's log holds.
  maxEvents @2 :UInt32;
  # At most this many in the answer.
}

struct FetchedEvents {
  # The parent's answer to a `Fetch`.
  origin @0 :Text;
  # As asked.
  fromSeq @1 :UInt64;
  # As asked.
  chainBefore @2 :UInt64;
  # The parent's chain hash of the origin's events 1..fromSeq-1, so that the child checks that
  # the part both hold is the same before it takes anything.
  events @3 :List(Event);
  # The origin's events fromSeq.. in seq order; empty when the parent holds no more.
}

struct StatusRequest {
  # A client asks a node for what only the running node knows (links, children, heads).
}

struct ParentLinkStatus {
  # One configured parent of the node, as its uplink sees it.
  address @0 :Text;
  # HOST:PORT as configured.
  rank @1 :UInt32;
  # Position in the node's --parent list (0: most preferred).
  unit @2 :Text;
  # The parent's unit, from its hello (empty until it answered once).
  connected @3 :Bool;
  # A replication session with it is streaming now.
  connectedSince @4 :Int64;
  # When that session started, microseconds since the epoch (0: not connected).
  lastAckAt @5 :Int64;
  # When it last acknowledged a batch (0: never since the node started).
  lastError @6 :Text;
  # Why the last session or connection attempt ended (empty: none).
  eventsAcked @7 :UInt64;
  # Events it acknowledged since the node started.
  takingBackFrom @8 :UInt64;
  # While the node takes its own events back from this parent: the first seq it took back
  # (0: not taking any back).
  takingBackNext @9 :UInt64;
  # The next seq to take back.
  takingBackTo @10 :UInt64;
  # The last seq to take back (the parent's watermark of the node's own origin).
}

struct ForkStatus {
  # A fork found on one of the node's links, kept until an operator resolves it.
  origin @0 :Text;
  # The origin whose histories differ.
  peer @1 :Text;
  # The parent or child unit on the other end.
  firstSeq @2 :UInt64;
  # The first seq that differs (0: not known).
  seenAt @3 :Int64;
  # When it was found, microseconds since the epoch.
}

struct ChildLinkStatus {
  # One child node connected to this node now.
  unit @0 :Text;
  # The child's unit.
  address @1 :Text;
  # Its address as this node sees it.
  incarnation @2 :Data;
  # Its log incarnation id.
  connectedSince @3 :Int64;
  # Microseconds since the epoch.
  lastMessageAt @4 :Int64;
  # When it last sent anything.
  eventsApplied @5 :UInt64;
  # Events of this session applied here (duplicates excluded).
  eventsDuplicate @6 :UInt64;
  # Events of this session this node already held.
  listenAddress @7 :Text;
  # Where the child says it serves clients (its hello's listenAddress; empty: not said).
}

struct OriginStatus {
  # How much of one origin the node holds and how much exists below it.
  origin @0 :Text;
  # The origin's unit code.
  seq @1 :UInt64;
  # The node's watermark.
  newestRecordedAt @2 :Int64;
  # recordedAt of the newest event held ("data as of"), microseconds since the epoch.
  headSeq @3 :UInt64;
  # The origin's head as the node's children last reported it (0: not reported).
  headRecordedAt @4 :Int64;
  # recordedAt of that head.
  parentSeq @5 :UInt64;
  # How much of it the node's current parent holds (acknowledged or said in its watermarks).
}

struct Alert {
  # A problem an operator must see: a fork, a re-created log.
  at @0 :Int64;
  # When it was seen, microseconds since the epoch.
  message @1 :Text;
  # What happened, naming the units, origins and seqs concerned.
}

struct NodeStatus {
  # A node's live state, the answer to a `StatusRequest`.
  unit @0 :Text;
  # The node's unit.
  incarnation @1 :Data;
  # Its log incarnation id.
  now @2 :Int64;
  # The node's clock, microseconds since the epoch.
  lastLsn @3 :UInt64;
  # Newest LSN of its log.
  parents @4 :List(ParentLinkStatus);
  # Its configured parents, in order of preference.
  children @5 :List(ChildLinkStatus);
  # Child nodes connected now.
  origins @6 :List(OriginStatus);
  # Every origin the node holds or has heard of from its children.
  alerts @7 :List(Alert);
  # Problems seen since it started, oldest first (at most 100 kept).
  forks @8 :List(ForkStatus);
  # Forks recorded in its data dir.
}

struct Message {
  # The unit of the wire: one per frame.
  union {
    hello @0 :Hello;
    # Handshake.
    watermarks @1 :Watermarks;
    # Parent to child after the hello.
    eventBatch @2 :EventBatch;
    # Child to parent.
    ack @3 :Ack;
    # Parent to child.
    heartbeat @4 :Heartbeat;
    # Either way.
    submit @5 :Submit;
    # Client to node.
    submitResult @6 :SubmitResult;
    # Node to client.
    error @7 :Error;
    # Before closing.
    statusRequest @8 :StatusRequest;
    # Client to node.
    status @9 :NodeStatus;
    # Node to client.
    fetch @10 :Fetch;
    # Child to parent: events of the child's own origin, back.
    fetchedEvents @11 :FetchedEvents;
    # Parent to child.
    chainProbe @12 :ChainProbe;
    # Child to parent: locating where a fork begins.
    chainHash @13 :ChainHash;
    # Parent to child.
    import @14 :Import;
    # Client to node: events numbered elsewhere.
    importResult @15 :ImportResult;
    # Node to client.
  }
}
