#include "engine/metrics.h"

#include <algorithm>

#include <capnp/schema.h>

#include "engine/enum_name.h"

namespace rollcall {
namespace {

using Which = schema::Event::Which;

constexpr std::string_view kActive = "members.active";
constexpr std::string_view kAdmitted = "members.admitted";
constexpr std::string_view kTransferredIn = "members.transferredIn";
constexpr std::string_view kTransferredOut = "members.transferredOut";
constexpr std::string_view kMatured = "members.matured";
constexpr std::string_view kRemoved = "members.removed";
constexpr std::string_view kWorkingAway = "members.workingAway";
constexpr std::string_view kTrained = "members.trained";
constexpr std::string_view kHonorary = "members.honorary";
constexpr std::string_view kOutstanding = "members.outstanding";
constexpr std::string_view kRewards = "rewards";
constexpr std::string_view kDisciplines = "disciplines";

struct Names {
  std::vector<std::string> all;
  // Indexes into `all`: ratings by Rating value, activities by ActivityKind value * 3.
  size_t rated_first = 0;
  size_t activity_first = 0;
};

const Names& names() {
  static const Names instance = [] {
    Names n;
    for (auto fixed : {kActive, kAdmitted, kTransferredIn, kTransferredOut, kMatured, kRemoved,
                       kWorkingAway, kTrained, kHonorary, kOutstanding})
      n.all.emplace_back(fixed);
    n.rated_first = n.all.size();
    for (auto e : capnp::Schema::from<schema::Rating>().getEnumerants())
      n.all.push_back("members.rated." + std::string(e.getProto().getName().cStr()));
    n.all.emplace_back(kRewards);
    n.all.emplace_back(kDisciplines);
    n.activity_first = n.all.size();
    for (auto e : capnp::Schema::from<schema::ActivityKind>().getEnumerants()) {
      const std::string kind = "activity." + std::string(e.getProto().getName().cStr());
      for (const char* part : {".count", ".participants", ".reports"}) n.all.push_back(kind + part);
    }
    return n;
  }();
  return instance;
}

}  // namespace

std::span<const std::string> dated_metric_names() { return names().all; }

bool is_dated_metric(std::string_view name) {
  const auto& all = names().all;
  return std::find(all.begin(), all.end(), name) != all.end();
}

void event_metric_deltas(schema::Event::Reader e, std::vector<MetricDelta>& out) {
  const auto add = [&](std::string_view metric, int64_t delta) { out.push_back({metric, delta}); };
  switch (e.which()) {
    case Which::MEMBER_ADMITTED: add(kActive, 1); add(kAdmitted, 1); break;
    case Which::MEMBER_TRANSFERRED_IN: add(kActive, 1); add(kTransferredIn, 1); break;
    case Which::MEMBER_TRANSFERRED_OUT: add(kActive, -1); add(kTransferredOut, 1); break;
    case Which::MEMBER_MATURED: add(kActive, -1); add(kMatured, 1); break;
    case Which::MEMBER_REMOVED: add(kActive, -1); add(kRemoved, 1); break;
    case Which::WORKING_AWAY_STARTED: add(kWorkingAway, 1); break;
    case Which::WORKING_AWAY_ENDED: add(kWorkingAway, -1); break;
    case Which::TRAINING_RECORDED: add(kTrained, 1); break;
    case Which::HONORARY_RECOGNIZED: add(kHonorary, 1); break;
    case Which::OUTSTANDING_NOMINATED: add(kOutstanding, 1); break;
    case Which::REWARD_GRANTED: add(kRewards, 1); break;
    case Which::DISCIPLINE_IMPOSED: add(kDisciplines, 1); break;
    case Which::MEMBER_RATED: {
      const auto rating = static_cast<size_t>(e.getMemberRated().getRating());
      const auto& n = names();
      // A rating this build does not know (a newer schema) has no metric yet.
      if (n.rated_first + rating < n.activity_first - 2) add(n.all[n.rated_first + rating], 1);
      break;
    }
    case Which::ACTIVITY_REPORTED: {
      const auto report = e.getActivityReported();
      const auto kind = static_cast<size_t>(report.getKind());
      const auto& n = names();
      const size_t first = n.activity_first + kind * 3;
      if (first + 2 >= n.all.size()) break;  // a kind this build does not know
      add(n.all[first], report.getCount());
      add(n.all[first + 1], report.getParticipants());
      add(n.all[first + 2], 1);
      break;
    }
    default: break;
  }
}

}  // namespace rollcall
