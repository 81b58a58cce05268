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
}
