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
  std::string name() {
    return std::string(kFamily[pick(0, 9)]) + " " + kMiddle[pick(0, 7)] + " " + kGiven[pick(0, 19)];
  }
  void add(const std::string& date, const std::string& payload) {
    lines_.push_back(DemoLine{date, R"({"unit":")" + ward_.str() + R"(","effectiveDate":")" + date + "\"," + payload + "}"});
  }
  void admit(const std::string& date) {
    const std::string id = new_member();
    add(date, R"("memberAdmitted":{"memberId":")" + id + R"(","fullName":")" + name() + R"(","birthDate":")" +
                  day(year_ - pick(17, 27), pick(1, 12), pick(1, 28)) + "\"}");
  }
  // A present member, not one of the last `keep` admitted (so there are always some).
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
    for (int i = 0; i < roster; ++i) y->admit(day(year - 1 - i % 8, y->pick(1, 12), y->pick(1, 28)));
    std::sort(y->lines_.begin(), y->lines_.end(), [](const DemoLine& a, const DemoLine& b) { return a.date < b.date; });
    // The year, month by month.
    for (int month = 1; month <= 12; ++month) {
      if (month % 3 == 1) y->admit(day(year, month, y->pick(2, 8)));
      const auto& [campaign_month, kind] = kCampaigns[month - 1];
      y->add(day(year, campaign_month, y->pick(10, 20)),
             std::string(R"("activityReported":{"kind":")") + kind + R"(","count":)" + std::to_string(y->pick(20, 160)) +
                 R"(,"participants":)" + std::to_string(y->pick(4, 25)) + "}");
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
      if (m.present)
        y->add(day(year, 12, y->pick(15, 28)), R"("memberRated":{"memberId":")" + m.id + R"(","year":)" +
                                                   std::to_string(year) + R"(,"rating":")" + kRatings[y->pick(0, 6)] + "\"}");
    std::stable_sort(y->lines_.begin(), y->lines_.end(),
                     [](const DemoLine& a, const DemoLine& b) { return a.date < b.date; });
    out[ward] = std::move(y->lines_);
  }
  return out;
}

}  // namespace rollcall::cli
