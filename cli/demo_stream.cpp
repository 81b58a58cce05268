#include "cli/demo_stream.h"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <random>

namespace rollcall::cli {
namespace {

const char* const kFamily[] = {"Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Hồ"};
const char* const kMiddle[] = {"Văn", "Thị", "Minh", "Thanh", "Gia", "Ngọc", "Quang", "Thu"};
const char* const kGiven[] = {"An", "Bình", "Châu", "Dũng", "Hà", "Hải", "Hoa", "Khánh", "Lan", "Linh",
                              "Long", "Mai", "Nam", "Phương", "Quân", "Sơn", "Tâm", "Trang", "Tuấn", "Yến"};
// A campaign a month: (month, kind).
const std::pair<int, const char*> kCampaigns[] = {
    {1, "forums"},          {2, "eidLevel1"},       {3, "eidLevel2"},       {4, "digitalTeams"},
    {5, "onlineDossiers"},  {6, "cashlessMerchants"}, {7, "appInstalls"},   {8, "relicsDigitized"},
    {9, "qrCodesPosted"},   {10, "trainingSessions"}, {11, "leafletsDistributed"}, {12, "eidLevel1"}};
const char* const kRatings[] = {"excellent", "good", "good", "good", "average", "average", "weak"};

std::string day(int year, int month, int d) {
  char text[16];
  std::snprintf(text, sizeof text, "%04d-%02d-%02d", year, month, d);
  return text;
}

struct Member {
  std::string id;
  bool present = true;  // at this ward at the year's end
};

class WardYear {
 public:
  WardYear(const UnitCode& ward, int year, std::mt19937_64& random) : ward_(ward), year_(year), random_(random) {}

  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(random_); }

  std::string new_member() {
    char id[64];
    std::snprintf(id, sizeof id, "%s-%06d", ward_.str().c_str(), ++admitted_);
    members_.push_back(Member{id, true});
    return id;
  }
  // Every draw in its own statement: the order of a seed's draws must not depend on the compiler.
  std::string name() {
    const char* family = kFamily[pick(0, 9)];
    const char* middle = kMiddle[pick(0, 7)];
    const char* given = kGiven[pick(0, 19)];
    return std::string(family) + " " + middle + " " + given;
  }
  std::string day_in(int year, int first_day = 1, int last_day = 28) {
    const int month = pick(1, 12);
    return day(year, month, pick(first_day, last_day));
  }
  void add(const std::string& date, const std::string& payload) {
    lines_.push_back(DemoLine{date, R"({"unit":")" + ward_.str() + R"(","effectiveDate":")" + date + "\"," + payload + "}"});
  }
  // Admitted on `date` (of `year`), aged 16 to 22 then.
  void admit(int year, const std::string& date) {
    const std::string id = new_member();
    const std::string full_name = name();
    const std::string born = day_in(year - pick(16, 22));
    add(date, R"("memberAdmitted":{"memberId":")" + id + R"(","fullName":")" + full_name + R"(","birthDate":")" +
                  born + "\"}");
  }
  // A present member, not one of the `skip_newest` last admitted (so there are always some).
  Member* someone(size_t skip_newest = 0) {
    std::vector<Member*> present;
    for (size_t i = 0; i + skip_newest < members_.size(); ++i)
      if (members_[i].present) present.push_back(&members_[i]);
    if (present.empty()) return nullptr;
    return present[static_cast<size_t>(pick(0, static_cast<int>(present.size()) - 1))];
  }

  const UnitCode& ward_;
  int year_;
  std::mt19937_64& random_;
  int admitted_ = 0;
  std::vector<Member> members_;
  std::vector<DemoLine> lines_;
};

}  // namespace

std::map<UnitCode, std::vector<DemoLine>> demo_year(const UnitMap& map, const std::vector<UnitCode>& districts,
                                                    size_t wards_each, int year, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::vector<std::vector<UnitCode>> wards(districts.size());
  for (size_t d = 0; d < districts.size(); ++d) {
    const auto& children = map.children(districts[d]);
    wards[d].assign(children.begin(), children.begin() + static_cast<std::ptrdiff_t>(std::min(wards_each, children.size())));
  }
  std::map<UnitCode, std::unique_ptr<WardYear>> years;
  for (const auto& list : wards)
    for (const UnitCode& w : list) years.emplace(w, std::make_unique<WardYear>(w, year, random));

  for (auto& [ward, y] : years) {
    // The roster, admitted over the years before.
    const int roster = y->pick(10, 16);
    for (int i = 0; i < roster; ++i) {
      const int admitted = year - 1 - i % 8;
      y->admit(admitted, y->day_in(admitted));
    }
    // The year, month by month.
    for (int month = 1; month <= 12; ++month) {
      if (month % 3 == 1) y->admit(year, day(year, month, y->pick(2, 8)));
      const auto& [campaign_month, kind] = kCampaigns[month - 1];
      const std::string reported = day(year, campaign_month, y->pick(10, 20));
      const int count = y->pick(20, 160);
      const int participants = y->pick(4, 25);
      y->add(reported, std::string(R"("activityReported":{"kind":")") + kind + R"(","count":)" + std::to_string(count) +
                           R"(,"participants":)" + std::to_string(participants) + "}");
      if (month == 5) {
        if (Member* m = y->someone(3)) {
          m->present = false;
          y->add(day(year, 5, 25), R"("memberMatured":{"memberId":")" + m->id + "\"}");
        }
      }
      if (month == 9) {
        if (Member* m = y->someone(3)) {
          m->present = false;
          y->add(day(year, 9, 12), R"("memberRemoved":{"memberId":")" + m->id + R"(","reason":"leftWithoutNotice"})");
        }
      }
    }
  }
  // Transfers from each ward of the first district to a ward of the second, in July and
  // October: out at the ward left, in at the ward reached a few days later.
  if (districts.size() >= 2 && !wards[1].empty()) {
    for (size_t i = 0; i < wards[0].size(); ++i) {
      WardYear& from = *years.at(wards[0][i]);
      WardYear& to = *years.at(wards[1][i % wards[1].size()]);
      for (int month : {7, 10}) {
        Member* m = from.someone(2);
        if (!m) continue;
        m->present = false;
        const int d = from.pick(1, 15);
        from.add(day(year, month, d), R"("memberTransferredOut":{"memberId":")" + m->id + R"(","toUnit":")" +
                                          to.ward_.str() + "\"}");
        to.add(day(year, month, d + to.pick(3, 10)), R"("memberTransferredIn":{"memberId":")" + m->id +
                                                         R"(","fromUnit":")" + from.ward_.str() + "\"}");
        to.members_.push_back(Member{m->id, true});
      }
    }
  }
  // Year-end ratings of every member present, then each ward's lines in date order (stable:
  // same-day lines keep the order they were recorded in).
  std::map<UnitCode, std::vector<DemoLine>> out;
  for (auto& [ward, y] : years) {
    for (const Member& m : y->members_)
      if (m.present) {
        const std::string rated = day(year, 12, y->pick(15, 28));
        const char* rating = kRatings[y->pick(0, 6)];
        y->add(rated, R"("memberRated":{"memberId":")" + m.id + R"(","year":)" + std::to_string(year) +
                          R"(,"rating":")" + rating + "\"}");
      }
    std::stable_sort(y->lines_.begin(), y->lines_.end(),
                     [](const DemoLine& a, const DemoLine& b) { return a.date < b.date; });
    out[ward] = std::move(y->lines_);
  }
  return out;
}

}  // namespace rollcall::cli
