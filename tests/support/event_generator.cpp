#include "tests/support/event_generator.h"

#include <capnp/message.h>
#include <capnp/orphan.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <numeric>

#include "engine/event_json.h"

namespace rollcall::testing {

struct GeneratedEvents::Storage {
  capnp::MallocMessageBuilder arena;
  std::vector<capnp::Orphan<schema::Event>> events;  // declared after the arena: freed first
  EventJson json;
};

namespace {

using Which = schema::Event::Which;
using Kind = schema::ActivityKind;

// Names and words of plausible records (UTF-8).
// clang-format off
constexpr const char* kFamilyNames[] = {"Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ",
                                        "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý"};
constexpr const char* kMaleMiddle[] = {"Văn", "Đức", "Minh", "Quốc", "Hữu", "Công", "Gia", "Thanh"};
constexpr const char* kFemaleMiddle[] = {"Thị", "Ngọc", "Thanh", "Mỹ", "Phương", "Kim", "Thu", "Hoài"};
constexpr const char* kMaleGiven[] = {"Tuấn", "Hùng", "Nam", "Sơn", "Phong", "Huy", "Thắng", "Dũng",
                                      "Khoa", "Long", "Quân", "Hải", "Tú", "Đạt", "Việt", "Trung"};
constexpr const char* kFemaleGiven[] = {"Lan", "Hoa", "Mai", "Hương", "Linh", "Trang", "Ngân", "Vy",
                                        "Yến", "Thảo", "Hạnh", "Quỳnh", "Huyền", "Thư", "Nhung", "Anh"};
constexpr const char* kProgrammes[] = {
    "Chương trình rèn luyện đoàn viên: chuyên đề 1", "Chương trình rèn luyện đoàn viên: chuyên đề 2",
    "Học tập Nghị quyết Đại hội Đoàn", "Lớp bồi dưỡng kỹ năng chuyển đổi số", "Lớp cảm tình Đảng"};
constexpr const char* kRewardTitles[] = {
    "Giấy khen của Ban Chấp hành Đoàn xã", "Giấy khen của Huyện đoàn", "Bằng khen của Tỉnh đoàn",
    "Thanh niên tiêu biểu", "Đoàn viên xuất sắc tiêu biểu"};
constexpr const char* kDisciplineReasons[] = {
    "Không tham gia sinh hoạt ba tháng liền", "Không đóng đoàn phí", "Vi phạm nội quy sinh hoạt"};
constexpr const char* kPlaces[] = {
    "Khu công nghiệp Yên Phong, Bắc Ninh", "Thành phố Hồ Chí Minh", "Khu công nghiệp VSIP, Bình Dương",
    "Đồng Nai", "Hà Nội", "Hàn Quốc", "Nhật Bản", "Đài Loan"};

// Plausible figures of one report per kind: [count] and [participants] ranges.
struct ActivityShape {
  Kind kind;
  int count_lo, count_hi, people_lo, people_hi;
};
constexpr ActivityShape kActivities[] = {
    {Kind::DIGITAL_TEAMS, 1, 6, 4, 20},       {Kind::EID_LEVEL1, 20, 250, 3, 15},
    {Kind::EID_LEVEL2, 15, 180, 3, 15},       {Kind::ONLINE_DOSSIERS, 10, 250, 2, 12},
    {Kind::APP_INSTALLS, 10, 120, 2, 10},     {Kind::CASHLESS_MERCHANTS, 5, 80, 2, 12},
    {Kind::RELICS_DIGITIZED, 1, 12, 2, 8},    {Kind::QR_CODES_POSTED, 2, 40, 2, 8},
    {Kind::TRAINING_SESSIONS, 1, 4, 20, 150}, {Kind::FORUMS, 1, 3, 30, 300},
    {Kind::LEAFLETS_DISTRIBUTED, 100, 2000, 5, 30}};
// clang-format on

// Draws of our own on mt19937_64: the standard's distributions differ between libraries.
class Dice {
 public:
  explicit Dice(uint64_t seed) : engine_(seed) {}
  uint64_t below(uint64_t n) { return engine_() % n; }
  int between(int lo, int hi) {
    return lo + static_cast<int>(below(static_cast<uint64_t>(hi - lo) + 1));
  }
  double unit() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  bool chance(double p) { return unit() < p; }
  template <typename T, size_t N>
  const T& pick(const T (&items)[N]) {
    return items[below(N)];
  }
  const std::string& pick(const std::vector<std::string>& items) {
    return items[below(items.size())];
  }

 private:
  std::mt19937_64 engine_;
};

Date plus_days(Date date, int days) {
  return Date::from_days(date.days() + days);
}
Date ymd(int year, unsigned month, unsigned day) {
  return Date::from_ymd(year, month, day).value();
}

bool retractable(Which kind) {
  switch (kind) {
    case Which::ACTIVITY_REPORTED:
    case Which::MEMBER_RATED:
    case Which::REWARD_GRANTED:
    case Which::DISCIPLINE_IMPOSED:
    case Which::TRAINING_RECORDED:
    case Which::RESIDENCE_ACTIVITY_REGISTERED:
    case Which::TEMPORARY_ACTIVITY_REGISTERED: return true;
    default: return false;
  }
}

// An event before numbering, with what it must follow (indices into the drafts).
struct Draft {
  Date date;
  std::string unit;
  capnp::Orphan<schema::Event> event;
  std::optional<size_t> member_prev, out_half, target;
};

// A member being simulated: where it is and what it has been through.
struct Member {
  std::string id;
  std::string unit;
  Date birth;
  std::optional<size_t> last;  // draft of the member's latest event
  bool away = false, honorary = false, outstanding = false;
  int rating_year = 0;
  std::optional<Date> rating;   // the next December rating
  std::optional<Date> matures;  // the day the member ages out, when inside the window
};

// The operations a member may go through at a step of its history, with their cumulative
// chances per step (a step is every 20 to 160 days).
// clang-format off
enum class Action { kNone, kTraining, kReward, kDiscipline, kResidence, kTemporary, kAway, kHonorary,
                    kOutstanding, kTransfer, kRemoved };
constexpr std::pair<double, Action> kActions[] = {
    {0.26, Action::kTraining},  {0.34, Action::kReward},      {0.37, Action::kDiscipline},
    {0.45, Action::kResidence}, {0.51, Action::kTemporary},   {0.60, Action::kAway},
    {0.605, Action::kHonorary}, {0.63, Action::kOutstanding}, {0.65, Action::kTransfer},
    {0.66, Action::kRemoved}};
// clang-format on

class Generator {
 public:
  Generator(const UnitMap& map, const GeneratorOptions& options)
      : map_(map),
        options_(options),
        dice_(options.seed),
        storage_(std::make_shared<GeneratedEvents::Storage>()),
        window_start_(ymd(options.year - 1, 1, 1)),
        window_end_(ymd(options.year, 12, 31)) {}

  GeneratedEvents run() {
    collect_units();
    for (const std::string& unit : leaves_) populate(unit);
    add_retractions();
    return number();
  }

 private:
  void collect_units();
  void populate(const std::string& unit);
  void arrive_from_outside(const std::string& unit);
  void report_activities(const std::string& unit);
  void live(Member& m, Date from);
  bool act(Member& m, Date& at);
  void record(Member& m, Action action, Date at);
  bool transfer(Member& m, Date& at);
  std::string destination(const std::string& from);
  void rate(Member& m, Date at);
  void schedule_rating(Member& m, Date after);
  void add_retractions();
  GeneratedEvents number();

  schema::Event::Builder draft(const std::string& unit, Date date);
  schema::Event::Builder draft(Member& m, Date date);
  std::string next_member_id(const std::string& prefix);
  std::string full_name();
  Date birth_date(Date admitted);
  std::optional<Date> maturity(Date birth);
  const std::string& any_unit(double outside_share);

  const UnitMap& map_;
  GeneratorOptions options_;
  Dice dice_;
  std::shared_ptr<GeneratedEvents::Storage> storage_;
  std::vector<Draft> drafts_;  // declared after storage_: its orphans are freed first
  Date window_start_, window_end_;
  std::vector<std::string> leaves_;   // the units of the set, in code order
  std::vector<std::string> outside_;  // wards of other provinces
  std::map<std::string, unsigned> next_local_;
  std::vector<size_t> finals_;  // members' last events that may be retracted
};

void Generator::collect_units() {
  for (const UnitCode& code : map_.subtree(options_.root))
    if (map_.children(code).empty()) leaves_.push_back(code.str());
  std::sort(leaves_.begin(), leaves_.end());
  if (options_.max_leaf_units != 0 && leaves_.size() > options_.max_leaf_units)
    leaves_.resize(options_.max_leaf_units);
  if (leaves_.empty()) return;
  // The root's province: the ancestor just below the map's root (or the root itself).
  std::vector<UnitCode> chain{options_.root};
  for (const UnitCode& up : map_.ancestors(options_.root)) chain.push_back(up);
  const UnitCode province = chain.size() >= 2 ? chain[chain.size() - 2] : chain.back();
  for (const UnitCode& code : map_.subtree(map_.root()))
    if (map_.children(code).empty() && !map_.in_subtree(code, province))
      outside_.push_back(code.str());
}

// A unit's roster (admitted in the years before `year`, local numbers in admission order), this
// year's new members, sometimes a member from another province, and its activity reports.
void Generator::populate(const std::string& unit) {
  std::vector<Date> admissions;
  const int first_year = std::max(2012, options_.year - 13);
  const Date roster_from = ymd(first_year, 1, 1), roster_to = ymd(options_.year - 1, 12, 31);
  for (size_t i = 0; i < options_.members_per_unit; ++i)
    admissions.push_back(
        plus_days(roster_from, dice_.between(0, roster_to.days() - roster_from.days())));
  const int fresh =
      options_.members_per_unit == 0
          ? 0
          : dice_.between(1, std::max(1, static_cast<int>(options_.members_per_unit / 5)));
  for (int i = 0; i < fresh; ++i)  // 26 March, the Union's birthday, is the admission day of choice
    admissions.push_back(dice_.chance(0.3)
                             ? ymd(options_.year, 3, 26)
                             : plus_days(ymd(options_.year, 1, 1), dice_.between(0, 333)));
  std::sort(admissions.begin(), admissions.end());
  for (Date admitted : admissions) {
    Member m;
    m.id = next_member_id(unit);
    m.unit = unit;
    m.birth = birth_date(admitted);
    m.matures = maturity(m.birth);
    auto p = draft(m, admitted).initMemberAdmitted();
    p.setMemberId(m.id);
    p.setFullName(full_name());
    p.setBirthDate(m.birth.to_string());
    live(m, admitted);
  }
  if (!outside_.empty() && dice_.chance(0.3)) arrive_from_outside(unit);
  report_activities(unit);
}

// A member admitted in another province arrives: a lone in-half, the first event of a member
// this set never admitted (its id carries the admitting ward's code).
void Generator::arrive_from_outside(const std::string& unit) {
  const std::string from = dice_.pick(outside_);
  const Date at =
      plus_days(window_start_, dice_.between(0, window_end_.days() - window_start_.days() - 30));
  Member m;
  m.id = next_member_id(from);
  m.unit = unit;
  m.birth = birth_date(ymd(at.year() - dice_.between(1, 6), 6, 1));
  m.matures = maturity(m.birth);
  auto p = draft(m, at).initMemberTransferredIn();
  p.setMemberId(m.id);
  p.setFromUnit(from);
  live(m, at);
}

// Zero to two reports a month over the window, each of a kind with plausible figures.
void Generator::report_activities(const std::string& unit) {
  for (int year = options_.year - 1; year <= options_.year; ++year) {
    for (unsigned month = 1; month <= 12; ++month) {
      for (int n = dice_.between(0, 2); n > 0; --n) {
        const ActivityShape& shape = dice_.pick(kActivities);
        auto p = draft(unit, ymd(year, month, static_cast<unsigned>(dice_.between(1, 28))))
                     .initActivityReported();
        p.setKind(shape.kind);
        p.setCount(static_cast<uint32_t>(dice_.between(shape.count_lo, shape.count_hi)));
        p.setParticipants(static_cast<uint32_t>(dice_.between(shape.people_lo, shape.people_hi)));
      }
    }
  }
}

// The member's history from `from` (admission or arrival) to the end of the window: a rating
// each December, an operation every few weeks, until it matures, is removed or leaves the set.
void Generator::live(Member& m, Date from) {
  Date at = std::max(from, window_start_);
  m.rating_year = options_.year - 1;
  schedule_rating(m, at);
  const Date never = plus_days(window_end_, 1);
  for (;;) {
    if (m.rating && *m.rating < at) schedule_rating(m, at);  // moved in after the rating day
    if (m.matures && *m.matures < at) m.matures = at;
    const Date rating = m.rating.value_or(never), matures = m.matures.value_or(never);
    const Date when = std::min({plus_days(at, dice_.between(20, 160)), rating, matures});
    if (when > window_end_) return;
    at = when;
    if (when == matures) {
      draft(m, at).initMemberMatured().setMemberId(m.id);
      finals_.push_back(drafts_.size() - 1);
      return;
    }
    if (when == rating) {
      rate(m, at);
    } else if (!act(m, at)) {
      return;
    }
  }
}

// One random operation at `at`. False when the member's history in the set ends; an in-set
// transfer moves the member and `at` to the arrival.
bool Generator::act(Member& m, Date& at) {
  if (m.away && dice_.chance(0.4)) {
    draft(m, at).initWorkingAwayEnded().setMemberId(m.id);
    m.away = false;
    return true;
  }
  const double r = dice_.unit();
  const auto chosen = std::find_if(std::begin(kActions), std::end(kActions),
                                   [&](const auto& entry) { return r < entry.first; });
  const Action action = chosen == std::end(kActions) ? Action::kNone : chosen->second;
  switch (action) {
    case Action::kNone: return true;
    case Action::kTransfer: return transfer(m, at);
    case Action::kRemoved: {
      auto p = draft(m, at).initMemberRemoved();
      p.setMemberId(m.id);
      const double why = dice_.unit();
      p.setReason(why < 0.6    ? schema::RemovalReason::LEFT_WITHOUT_NOTICE
                  : why < 0.85 ? schema::RemovalReason::VOLUNTARY
                               : schema::RemovalReason::VIOLATION);
      finals_.push_back(drafts_.size() - 1);
      return false;
    }
    case Action::kAway:
      if (!m.away) {
        auto p = draft(m, at).initWorkingAwayStarted();
        p.setMemberId(m.id);
        p.setPlace(dice_.pick(kPlaces));
      }
      m.away = true;
      return true;
    case Action::kHonorary:
      if (!m.honorary) draft(m, at).initHonoraryRecognized().setMemberId(m.id);
      m.honorary = true;
      return true;
    case Action::kOutstanding:
      if (!m.outstanding) draft(m, at).initOutstandingNominated().setMemberId(m.id);
      m.outstanding = true;
      return true;
    default: record(m, action, at); return true;
  }
}

// The operations that change nothing in the member's state.
void Generator::record(Member& m, Action action, Date at) {
  auto e = draft(m, at);
  if (action == Action::kTraining) {
    auto p = e.initTrainingRecorded();
    p.setMemberId(m.id);
    p.setProgramme(dice_.pick(kProgrammes));
  } else if (action == Action::kReward) {
    auto p = e.initRewardGranted();
    p.setMemberId(m.id);
    p.setTitle(dice_.pick(kRewardTitles));
  } else if (action == Action::kDiscipline) {
    auto p = e.initDisciplineImposed();
    p.setMemberId(m.id);
    p.setMeasure(dice_.chance(0.7) ? schema::DisciplineMeasure::REPRIMAND
                                   : schema::DisciplineMeasure::WARNING);
    p.setReason(dice_.pick(kDisciplineReasons));
  } else if (action == Action::kResidence) {
    auto p = e.initResidenceActivityRegistered();
    p.setMemberId(m.id);
    p.setHostUnit(any_unit(0.3));
  } else {
    auto p = e.initTemporaryActivityRegistered();
    p.setMemberId(m.id);
    p.setHostUnit(any_unit(0.2));
    p.setUntil(plus_days(at, dice_.between(30, 180)).to_string());
  }
}

// To another unit of the set (both halves, the in-half the same day or a few days later) or,
// sometimes, to a ward of another province (a lone out-half that ends the history here).
bool Generator::transfer(Member& m, Date& at) {
  const std::string to = destination(m.unit);
  if (to.empty()) return true;  // nowhere to go
  auto out = draft(m, at).initMemberTransferredOut();
  out.setMemberId(m.id);
  out.setToUnit(to);
  const size_t out_index = drafts_.size() - 1;
  if (!std::binary_search(leaves_.begin(), leaves_.end(), to)) {
    finals_.push_back(out_index);
    return false;
  }
  const std::string from = m.unit;
  at = std::min(plus_days(at, dice_.between(0, 6)), window_end_);
  m.unit = to;
  m.away = false;
  auto in = draft(m, at).initMemberTransferredIn();
  in.setMemberId(m.id);
  in.setFromUnit(from);
  drafts_.back().out_half = out_index;
  return true;
}

// Mostly a unit of the same district, else one of another district, else another province.
std::string Generator::destination(const std::string& from) {
  const double r = dice_.unit();
  if ((r < 0.15 || leaves_.size() < 2) && !outside_.empty()) return dice_.pick(outside_);
  const UnitCode parent = map_.find(UnitCode::trusted(from))->parent;
  std::vector<std::string> same, other;
  for (const std::string& leaf : leaves_) {
    if (leaf == from) continue;
    (map_.find(UnitCode::trusted(leaf))->parent == parent ? same : other).push_back(leaf);
  }
  if (!same.empty() && (r < 0.6 || other.empty())) return dice_.pick(same);
  return other.empty() ? std::string() : dice_.pick(other);
}

void Generator::rate(Member& m, Date at) {
  auto p = draft(m, at).initMemberRated();
  p.setMemberId(m.id);
  p.setYear(static_cast<uint16_t>(m.rating_year));
  const double r = dice_.unit();
  p.setRating(r < 0.2    ? schema::Rating::EXCELLENT
              : r < 0.75 ? schema::Rating::GOOD
              : r < 0.95 ? schema::Rating::AVERAGE
                         : schema::Rating::WEAK);
  ++m.rating_year;
  schedule_rating(m, at);
}

// The first December rating day (10th to 28th) of rating_year or later that is on or after
// `after`; none after `year`.
void Generator::schedule_rating(Member& m, Date after) {
  for (int y = std::max(m.rating_year, after.year()); y <= options_.year; ++y) {
    const Date day = ymd(y, 12, static_cast<unsigned>(dice_.between(10, 28)));
    if (day >= after) {
      m.rating_year = y;
      m.rating = day;
      return;
    }
  }
  m.rating.reset();
}

// Retracts a share of the retractable events and of the members' final events (matured,
// removed, transferred out of the set): in the target's unit, 1 to 20 days after it.
void Generator::add_retractions() {
  std::vector<bool> is_final(drafts_.size(), false);
  for (size_t i : finals_) is_final[i] = true;
  for (size_t i = 0, n = drafts_.size(); i < n; ++i) {
    if (!is_final[i] && !retractable(drafts_[i].event.getReader().which())) continue;
    if (!dice_.chance(options_.retraction_rate)) continue;
    const std::string unit = drafts_[i].unit;
    draft(unit, plus_days(drafts_[i].date, dice_.between(1, 20))).initEventRetracted();
    drafts_.back().target = i;  // the ref is written when the target has its seq
  }
}

// Orders the drafts by effective date (ties keep drafting order, in which every draft comes
// after what it follows) and numbers them per origin.
GeneratedEvents Generator::number() {
  std::vector<size_t> order(drafts_.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return drafts_[a].date < drafts_[b].date; });
  std::vector<size_t> position(drafts_.size());
  for (size_t p = 0; p < order.size(); ++p) position[order[p]] = p;

  GeneratedEvents out;
  std::map<std::string, uint64_t> seqs;
  std::map<std::string, int64_t> clocks;
  std::vector<std::string> ids(drafts_.size());
  for (size_t index : order) {
    Draft& d = drafts_[index];
    auto e = d.event.get();
    const uint64_t seq = ++seqs[d.unit];
    ids[index] = d.unit + ":" + std::to_string(seq);
    // Recorded in office hours (08:00-17:00 at UTC+7) of the effective day, after the origin's
    // previous event.
    int64_t& clock = clocks[d.unit];
    const int64_t secs = int64_t{d.date.days()} * 86400 + 3600 + dice_.between(0, 9 * 3600 - 1);
    clock = std::max(secs * 1000000 + dice_.between(0, 999999), clock + 1000000);
    e.setOrigin(d.unit);
    e.setSeq(seq);
    e.setRecordedAt(clock);
    if (d.target) e.getEventRetracted().setRef(ids[*d.target]);

    std::vector<size_t> before;
    for (const auto& dep : {d.member_prev, d.out_half, d.target})
      if (dep) before.push_back(position[*dep]);
    std::sort(before.begin(), before.end());
    before.erase(std::unique(before.begin(), before.end()), before.end());
    out.events.push_back(d.event.getReader());
    out.must_follow.push_back(std::move(before));
    out.retraction_target.push_back(d.target ? std::optional<size_t>(position[*d.target])
                                             : std::nullopt);
  }
  for (Draft& d : drafts_) storage_->events.push_back(std::move(d.event));
  drafts_.clear();
  out.storage = std::move(storage_);
  return out;
}

schema::Event::Builder Generator::draft(const std::string& unit, Date date) {
  drafts_.push_back(
      Draft{date, unit, storage_->arena.getOrphanage().newOrphan<schema::Event>(), {}, {}, {}});
  auto e = drafts_.back().event.get();
  e.setUnit(unit);
  e.setEffectiveDate(date.to_string());
  return e;
}

schema::Event::Builder Generator::draft(Member& m, Date date) {
  auto e = draft(m.unit, date);
  drafts_.back().member_prev = m.last;
  m.last = drafts_.size() - 1;
  return e;
}

std::string Generator::next_member_id(const std::string& prefix) {
  char number[16];
  std::snprintf(number, sizeof number, "%06u", ++next_local_[prefix]);
  return prefix + "-" + number;
}

std::string Generator::full_name() {
  const char* family = dice_.chance(0.35) ? "Nguyễn" : dice_.pick(kFamilyNames);
  if (dice_.chance(0.5))
    return std::string(family) + " " + dice_.pick(kMaleMiddle) + " " + dice_.pick(kMaleGiven);
  return std::string(family) + " " + dice_.pick(kFemaleMiddle) + " " + dice_.pick(kFemaleGiven);
}

// Admitted at 16 to 24 (born 17 to 24 years before the admission year), and at most 31 in
// `year`: those born 30 or 31 years before it age out during the window.
Date Generator::birth_date(Date admitted) {
  const int latest = admitted.year() - 17;
  const int earliest = std::min(latest, std::max(options_.year - 31, admitted.year() - 24));
  const Date first = ymd(dice_.between(earliest, latest), 1, 1);
  return plus_days(first, dice_.between(0, 364));
}

// 30th birthday plus a few weeks for the paperwork, when that falls in the window.
std::optional<Date> Generator::maturity(Date birth) {
  const unsigned day = birth.month() == 2 && birth.day() == 29 ? 28 : birth.day();
  const Date thirty = plus_days(ymd(birth.year() + 30, birth.month(), day), dice_.between(0, 45));
  if (thirty < window_start_ || thirty > window_end_) return std::nullopt;
  return thirty;
}

// A unit of the set, or with the given share a ward of another province.
const std::string& Generator::any_unit(double outside_share) {
  if (!outside_.empty() && dice_.chance(outside_share)) return dice_.pick(outside_);
  return dice_.pick(leaves_);
}

// The event as a client submits it: a copy with seq 0, which EventJson::format reads as "not
// numbered yet" and so leaves out origin, seq and recordedAt.
std::string unnumbered_json(const EventJson& json, schema::Event::Reader event,
                            const std::string* ref) {
  capnp::MallocMessageBuilder scratch(256);
  scratch.setRoot(event);
  auto copy = scratch.getRoot<schema::Event>();
  copy.setSeq(0);
  copy.setRecordedAt(0);
  if (ref != nullptr) copy.getEventRetracted().setRef(*ref);
  return json.format(copy.asReader());
}

}  // namespace

std::string GeneratedEvents::submit_json(size_t i) const {
  return unnumbered_json(storage->json, events[i], nullptr);
}

std::string GeneratedEvents::json(size_t i) const {
  return storage->json.format(events[i]);
}

GeneratedEvents generate_events(const UnitMap& map, const GeneratorOptions& options) {
  return Generator(map, options).run();
}

std::vector<size_t> random_submit_order(const GeneratedEvents& generated, std::mt19937_64& random) {
  const size_t n = generated.size();
  std::vector<std::vector<size_t>> dependents(n);
  std::vector<size_t> waiting(n, 0);
  for (size_t i = 0; i < n; ++i) {
    waiting[i] = generated.must_follow[i].size();
    for (size_t before : generated.must_follow[i]) dependents[before].push_back(i);
  }
  std::vector<size_t> ready;
  for (size_t i = 0; i < n; ++i)
    if (waiting[i] == 0) ready.push_back(i);
  std::vector<size_t> order;
  order.reserve(n);
  while (!ready.empty()) {
    const size_t k = random() % ready.size();
    const size_t next = ready[k];
    ready[k] = ready.back();
    ready.pop_back();
    order.push_back(next);
    for (size_t after : dependents[next])
      if (--waiting[after] == 0) ready.push_back(after);
  }
  return order;  // shorter than n only if must_follow had a cycle (a bug in the generator)
}

std::vector<std::string> node_submit_lines(const GeneratedEvents& generated,
                                           const std::vector<size_t>& order, const UnitCode& node) {
  std::vector<size_t> position(generated.size(), 0);
  for (size_t p = 0; p < order.size(); ++p) position[order[p]] = p;
  std::vector<std::string> lines;
  lines.reserve(order.size());
  for (size_t i : order) {
    std::optional<std::string> ref;
    if (auto target = generated.retraction_target[i])
      ref = node.str() + ":" + std::to_string(position[*target] + 1);
    lines.push_back(
        unnumbered_json(generated.storage->json, generated.events[i], ref ? &*ref : nullptr));
  }
  return lines;
}

std::vector<std::string> origin_submit_lines(const GeneratedEvents& generated, const UnitCode& origin) {
  std::vector<size_t> order;
  for (size_t i = 0; i < generated.size(); ++i)
    if (std::string_view(generated.events[i].getOrigin().cStr()) == origin.str()) order.push_back(i);
  return node_submit_lines(generated, order, origin);
}

}  // namespace rollcall::testing
