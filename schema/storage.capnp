# rollcall on-disk records (values in RocksDB). engine/FORMAT.md describes the keys and the
# format version. Evolution rules as in event.capnp.
@0xda1defe860e44557;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("rollcall::storage");

using Event = import "event.capnp".Event;

struct LogBatch {
  # The value of one `log` key: events appended in one write, LSNs first..first+n-1.
  events @0 :List(Event);
  # In LSN order.
}

enum MemberStatus {
  # A member's standing at one node.
  active @0;
  # On the rolls of `unit`.
  transferredOut @1;
  # Left `unit` for `toUnit`; the arrival is not yet known here.
  matured @2;
  # Matured out of the Union.
  removed @3;
  # Struck off.
}

struct MemberRecord {
  # The value of one `members` key: the member's state at this node.
  unit @0 :Text;
  # The unit the member belongs (or last belonged) to.
  status @1 :MemberStatus;
  # Standing.
  toUnit @2 :Text;
  # With transferredOut: where the member went.
  workingAway @3 :Bool;
  # Working away from home (operation 10).
  fullName @4 :Text;
  # As admitted, when known at this node.
  since @5 :Text;
  # Effective date of the last change of unit or status.
  honorary @6 :Bool;
  # Recognized as an honorary member.
  outstanding @7 :Bool;
  # Nominated as an outstanding member.
  history @8 :List(MemberFact);
  # The member's events this node holds and that are not retracted, ordered by
  # (effectiveDate, origin, seq); the fields above are their fold (engine/member_rules.h).
}

struct MemberFact {
  # What the member registry keeps of one member event: enough to fold it again.
  origin @0 :Text;
  # The event's origin.
  seq @1 :UInt64;
  # The event's seq.
  effectiveDate @2 :Text;
  # The event's effective date, `YYYY-MM-DD`.
  kind @3 :UInt16;
  # The event's kind: the discriminant of Event's union (stable: fields are only ever added).
  unit @4 :Text;
  # The event's unit.
  otherUnit @5 :Text;
  # toUnit of a transfer out, fromUnit of a transfer in; else empty.
  fullName @6 :Text;
  # With an admission: the member's full name.
}
