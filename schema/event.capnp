# rollcall domain events. Stored forever in every node's log and sent on the wire.
#
# Evolution rules (STYLE.md): this file's id never changes; fields are only added with the
# next ordinal, never renumbered or retyped; a retired field is renamed `obsoleteX` and kept.
# The JSON names of events are these field names (capnp's JSON codec).
@0xf937a7f826a9a788;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("rollcall::schema");

struct Event {
  # One fact about a unit on an effective date, with its global identity origin:seq.

  origin @0 :Text;
  # Code of the unit whose node first appended this event. Filled in by that node.

  seq @1 :UInt64;
  # Per-origin sequence number: dense, starting at 1, never reused. Filled in by the node.

  recordedAt @2 :Int64;
  # When the origin node appended it, microseconds since the Unix epoch (UTC).
  # Written in JSON as an RFC 3339 UTC timestamp.

  unit @3 :Text;
  # Code of the unit the fact is about, as the submitter named it (never rewritten).

  effectiveDate @4 :Text;
  # The day the fact takes effect, `YYYY-MM-DD`. Tallies are keyed by it.

  requestId @5 :Text;
  # Optional client-chosen id that makes a retried submit idempotent at the origin node.

  union {
    # Exactly one kind per event.
    none @6 :Void;
    # No kind set: never valid; keeps a zeroed event from looking like an admission.

    memberAdmitted @7 :MemberAdmitted;
    # Operation 1: a new member joins the unit.
    memberTransferredOut @8 :MemberTransferredOut;
    # Operation 2, first half: the member leaves the unit for `toUnit`.
    memberTransferredIn @9 :MemberTransferredIn;
    # Operation 2, second half: the member arrives at the unit from `fromUnit`.
    memberMatured @10 :MemberRef;
    # Operation 3: the member matures out of the Union.
    memberRemoved @11 :MemberRemoved;
    # Operation 4: the member is struck off the rolls.
    trainingRecorded @12 :TrainingRecorded;
    # Operation 5: progress in the member training programme.
    memberRated @13 :MemberRated;
    # Operation 6: the annual rating.
    honoraryRecognized @14 :MemberRef;
    # Operation 7: recognized as an honorary member.
    outstandingNominated @15 :MemberRef;
    # Operation 8: nominated as an outstanding member, recommended to the Party.
    rewardGranted @16 :RewardGranted;
    # Operation 9: a reward.
    disciplineImposed @17 :DisciplineImposed;
    # Operation 9: a disciplinary measure.
    workingAwayStarted @18 :WorkingAwayStarted;
    # Operation 10: the member starts working away from home.
    workingAwayEnded @19 :MemberRef;
    # Operation 10: the member is back.
    residenceActivityRegistered @20 :ResidenceActivityRegistered;
    # Operation 11: the member takes part in activities at the place of residence.
    temporaryActivityRegistered @21 :TemporaryActivityRegistered;
    # Operation 12: temporary activity at another unit until a date.
    activityReported @22 :ActivityReported;
    # A counted campaign or activity report of the unit.
    eventRetracted @23 :EventRetracted;
    # Withdraws an earlier event of the same origin.
    unitRegistered @24 :UnitRegistered;
    # Map: a new unit.
    unitRenamed @25 :UnitRenamed;
    # Map: a unit's name changes.
    unitMoved @26 :UnitMoved;
    # Map: a unit gets a new parent.
    unitMerged @27 :UnitMerged;
    # Map: a unit is merged into one successor, or split among several.
    unitClosed @28 :UnitClosed;
    # Map: a unit ceases to exist.
  }
}

struct MemberRef {
  memberId @0 :Text;
  # Nationally unique member id chosen by the admitting unit, e.g. `22825-000001`.
}

struct MemberAdmitted {
  memberId @0 :Text;
  # The new member's id.
  fullName @1 :Text;
  # Full name in Vietnamese, UTF-8.
  birthDate @2 :Text;
  # `YYYY-MM-DD`.
}

struct MemberTransferredOut {
  memberId @0 :Text;
  # The member leaving.
  toUnit @1 :Text;
  # Code of the receiving unit (anywhere in the country).
}

struct MemberTransferredIn {
  memberId @0 :Text;
  # The member arriving.
  fromUnit @1 :Text;
  # Code of the unit the member comes from.
}

enum RemovalReason {
  # Why a member was struck off.
  leftWithoutNotice @0;
  # Left without notice (tự ý bỏ sinh hoạt).
  violation @1;
  # A violation of the Union's rules.
  voluntary @2;
  # The member asked to leave.
}

struct MemberRemoved {
  memberId @0 :Text;
  # The member struck off.
  reason @1 :RemovalReason;
  # Why.
}

struct TrainingRecorded {
  memberId @0 :Text;
  # The member trained.
  programme @1 :Text;
  # The programme or module completed.
}

enum Rating {
  # The annual rating levels.
  excellent @0;
  # Hoàn thành xuất sắc nhiệm vụ.
  good @1;
  # Hoàn thành tốt nhiệm vụ.
  average @2;
  # Hoàn thành nhiệm vụ.
  weak @3;
  # Không hoàn thành nhiệm vụ.
}

struct MemberRated {
  memberId @0 :Text;
  # The member rated.
  year @1 :UInt16;
  # The year the rating is for.
  rating @2 :Rating;
  # The rating.
}

struct RewardGranted {
  memberId @0 :Text;
  # The member rewarded.
  title @1 :Text;
  # The reward's title.
}

enum DisciplineMeasure {
  # Disciplinary measures.
  reprimand @0;
  # Khiển trách.
  warning @1;
  # Cảnh cáo.
}

struct DisciplineImposed {
  memberId @0 :Text;
  # The member disciplined.
  measure @1 :DisciplineMeasure;
  # The measure.
  reason @2 :Text;
  # Why, in words.
}

struct WorkingAwayStarted {
  memberId @0 :Text;
  # The member leaving to work away from home.
  place @1 :Text;
  # Where the member works.
}

struct ResidenceActivityRegistered {
  memberId @0 :Text;
  # The member.
  hostUnit @1 :Text;
  # Code of the unit at the place of residence.
}

struct TemporaryActivityRegistered {
  memberId @0 :Text;
  # The member.
  hostUnit @1 :Text;
  # Code of the unit hosting the member temporarily.
  until @2 :Text;
  # Last day of the temporary activity, `YYYY-MM-DD`.
}

enum ActivityKind {
  # Counted activities that units report (DOMAIN.md).
  digitalTeams @0;
  # Community digital-technology teams formed.
  eidLevel1 @1;
  # Citizens helped to register electronic identity level 1.
  eidLevel2 @2;
  # Citizens helped to activate electronic identity level 2.
  onlineDossiers @3;
  # Online public-service dossiers submitted.
  appInstalls @4;
  # App installs.
  cashlessMerchants @5;
  # Cashless-payment merchants onboarded.
  relicsDigitized @6;
  # Relics digitised.
  qrCodesPosted @7;
  # QR codes posted.
  trainingSessions @8;
  # Training sessions held.
  forums @9;
  # Forums held.
  leafletsDistributed @10;
  # Leaflets distributed.
}

struct ActivityReported {
  kind @0 :ActivityKind;
  # What was done.
  count @1 :UInt32;
  # How many (teams, people, dossiers, sessions...).
  participants @2 :UInt32;
  # How many people took part.
}

struct EventRetracted {
  ref @0 :Text;
  # `origin:seq` of the retracted event; its origin must be this event's origin.
}

struct UnitRegistered {
  code @0 :Text;
  # The new unit's official code.
  name @1 :Text;
  # Its full official name.
  level @2 :Text;
  # Its level name (from the units file: ward, district, province, ...).
  parent @3 :Text;
  # Its parent's code.
}

struct UnitRenamed {
  code @0 :Text;
  # The unit renamed.
  name @1 :Text;
  # Its new name.
}

struct UnitMoved {
  code @0 :Text;
  # The unit moved.
  parent @1 :Text;
  # Its new parent's code.
}

struct UnitMerged {
  code @0 :Text;
  # The unit that ceases to exist.
  into @1 :List(Text);
  # Its successors in order; more than one is a split (history goes to the first listed
  # unless a successor keeps the code).
}

struct UnitClosed {
  code @0 :Text;
  # The unit closed.
}
