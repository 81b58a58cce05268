// rollcall member ID | members --unit U: the member registry as the node holds it (each member's
// state is the fold of its events, DESIGN.md "Projections"), read from the data dir, safely
// while the node runs.
#include <functional>
#include <iostream>
#include <memory>

#include <capnp/schema.h>

#include "cli/commands.h"
#include "cli/data_dir_reader.h"
#include "report/json_out.h"
#include "report/text_table.h"
#include "engine/event_fields.h"
#include "engine/member_rules.h"

namespace rollcall::cli {
namespace {

struct MemberOptions {
  std::string data_dir;
  std::string id;
  bool json = false;
};

struct MembersOptions {
  std::string data_dir;
  std::string unit;
  std::string status;
  bool subtree = false;
  bool json = false;
};

constexpr const char* kFlagNames[] = {"workingAway", "honorary", "outstanding"};

std::string kind_name(schema::Event::Which kind) { return std::string(event_kind_name(kind)); }

// "workingAway, honorary"; "" for none.
std::string flags_text(const MemberState& s) {
  std::string out;
  const bool set[] = {s.working_away, s.honorary, s.outstanding};
  for (size_t i = 0; i < std::size(set); ++i)
    if (set[i]) out += (out.empty() ? "" : ", ") + std::string(kFlagNames[i]);
  return out;
}

std::string null_if_empty(const std::string& text) {
  return text.empty() ? "null" : json_string(text);
}

JsonObject member_json(const std::string& id, const MemberState& s) {
  JsonObject o;
  o.add("memberId", id)
      .add("fullName", s.full_name)
      .add("unit", s.unit)
      .add("status", member_status_name(s.status))
      .add("since", s.since)
      .raw("toUnit", null_if_empty(s.to_unit))
      .add("workingAway", s.working_away)
      .add("honorary", s.honorary)
      .add("outstanding", s.outstanding);
  return o;
}

int run_member(const MemberOptions& o) {
  constexpr std::string_view kCommand = "member";
  if (o.id.empty()) return report(kCommand, "give a member id, e.g. 00004-000001");
  auto reader = DataDirReader::open(o.data_dir);
  if (!reader.ok()) return report(kCommand, reader.error().message());
  auto found = reader->log().member(o.id);
  if (!found.ok()) return report(kCommand, found.error().message());
  if (!found->has_value())
    return report(kCommand,
                  "no member " + o.id + " at this node (node " + reader->log().unit().str() + ")",
                  kExitProblem);
  const MemberRecord& record = **found;
  const MemberState& s = record.state;

  if (o.json) {
    std::string history;
    for (const MemberFact& f : record.history) {
      JsonObject h;
      h.add("id", f.id.to_string())
          .add("date", f.date)
          .add("kind", kind_name(f.kind))
          .add("unit", f.unit);
      h.raw("otherUnit", null_if_empty(f.other_unit));
      history += (history.empty() ? "" : ",") + h.str();
    }
    std::cout << member_json(o.id, s).raw("history", "[" + history + "]").str() << "\n";
    return kExitOk;
  }
  const std::string flags = flags_text(s);
  std::cout << "member:  " << o.id << "\n"
            << "name:    " << s.full_name << "\n"
            << "unit:    " << reader->unit_label(s.unit) << "\n"
            << "status:  " << member_status_name(s.status) << "\n";
  if (s.status == storage::MemberStatus::TRANSFERRED_OUT)
    std::cout << "toUnit:  " << reader->unit_label(s.to_unit)
              << " (the arrival is not yet known here)\n";
  std::cout << "since:   " << s.since << "\n"
            << "flags:   " << (flags.empty() ? "none" : flags) << "\n"
            << "history: " << record.history.size()
            << " events, in registry order (date, origin, seq)\n";
  TextTable table({"DATE", "ID", "KIND", "UNIT", "OTHER UNIT"});
  for (const MemberFact& f : record.history)
    table.add({f.date, f.id.to_string(), kind_name(f.kind), f.unit, f.other_unit});
  table.print(std::cout);
  return kExitOk;
}

// --status: a status keeps members in it; a flag keeps members with it, whatever their status.
Result<std::function<bool(const MemberState&)>> status_filter(const std::string& text) {
  using Filter = std::function<bool(const MemberState&)>;
  if (text.empty()) return Filter([](const MemberState&) { return true; });
  if (text == "workingAway") return Filter([](const MemberState& s) { return s.working_away; });
  if (text == "honorary") return Filter([](const MemberState& s) { return s.honorary; });
  if (text == "outstanding") return Filter([](const MemberState& s) { return s.outstanding; });
  std::string names;
  for (auto e : capnp::Schema::from<storage::MemberStatus>().getEnumerants()) {
    const std::string name = e.getProto().getName().cStr();
    if (name == text) {
      const auto status = static_cast<storage::MemberStatus>(e.getOrdinal());
      return Filter([status](const MemberState& s) { return s.status == status; });
    }
    names += name + ", ";
  }
  return invalid_input(
      "--status '" + text + "' is not one of " + names +
      "workingAway, honorary, outstanding (the last three are flags, of any status)");
}

int run_members(const MembersOptions& o) {
  constexpr std::string_view kCommand = "members";
  auto keep = status_filter(o.status);
  if (!keep.ok()) return report(kCommand, keep.error().message());
  auto reader = DataDirReader::open(o.data_dir);
  if (!reader.ok()) return report(kCommand, reader.error().message());
  auto unit = reader->unit_in_scope(o.unit);
  if (!unit.ok()) return report(kCommand, unit.error().message());

  std::vector<UnitCode> units = {*unit};
  if (o.subtree) units = reader->map().subtree(*unit);
  TextTable table(o.subtree
                      ? std::vector<std::string>{"ID", "NAME", "UNIT", "STATUS", "SINCE", "FLAGS"}
                      : std::vector<std::string>{"ID", "NAME", "STATUS", "SINCE", "FLAGS"});
  size_t shown = 0;
  for (const UnitCode& u : units) {
    auto members = reader->log().members_of(u);
    if (!members.ok()) return report(kCommand, members.error().message());
    for (const auto& [id, record] : *members) {
      const MemberState& s = record.state;
      if (!(*keep)(s)) continue;
      ++shown;
      if (o.json) {
        std::cout << member_json(id, s).str() << "\n";
        continue;
      }
      std::vector<std::string> row = {id, s.full_name, member_status_name(s.status), s.since,
                                      flags_text(s)};
      if (o.subtree) row.insert(row.begin() + 2, s.unit);
      table.add(std::move(row));
    }
  }
  if (o.json) return kExitOk;
  if (shown > 0) table.print(std::cout);
  std::cout << shown << (shown == 1 ? " member" : " members")
            << (o.subtree ? " in the subtree of " : " at ") << reader->unit_label(unit->str())
            << (o.status.empty() ? "" : " with status " + o.status);
  if (!o.subtree && shown == 0 && !reader->map().children(*unit).empty())
    std::cout << " (members are listed at their own unit: --subtree includes the units below)";
  std::cout << "\n";
  return kExitOk;
}

}  // namespace

void add_member_commands(CLI::App& app, int& exit_code) {
  constexpr const char* kFooter =
      "A member's state is the fold of its events this node holds, ordered by (effectiveDate, "
      "origin, seq). "
      "Statuses: active, transferredOut (left for toUnit; the arrival is not yet known here), "
      "matured, "
      "removed. Flags, of any status: workingAway, honorary, outstanding.";

  auto one = std::make_shared<MemberOptions>();
  auto* member = app.add_subcommand("member",
                                    "Show one member as this node holds it: name, unit, status, "
                                    "flags and history (safe while the "
                                    "node runs). Exit 1 if the node does not know the member.");
  member->add_option("id", one->id, "the member id, e.g. 00004-000001")->required();
  member->add_option("--data-dir", one->data_dir, "the node's data dir")->required();
  member->add_flag(
      "--json", one->json,
      "one JSON object: memberId, fullName, unit, status, since, toUnit, workingAway, honorary, "
      "outstanding, history [{id, date, kind, unit, otherUnit}]");
  member->footer(std::string(kFooter) +
                 "\nExit codes: 0 shown; 1 no such member at this node; 2 could not run.");
  member->callback([one, &exit_code] { exit_code = run_member(*one); });

  auto many = std::make_shared<MembersOptions>();
  auto* members = app.add_subcommand("members",
                                     "List the members whose current unit is U, as this node holds "
                                     "them (safe while the node runs).");
  members->add_option("--data-dir", many->data_dir, "the node's data dir")->required();
  members
      ->add_option("--unit", many->unit, "the unit: this node's unit or one below it, e.g. 00004")
      ->required();
  members->add_option(
      "--status", many->status,
      "only members with this status (active, transferredOut, matured, removed) or flag "
      "(workingAway, honorary, outstanding)");
  members->add_flag("--subtree", many->subtree, "also the members of every unit below U");
  members->add_flag(
      "--json", many->json,
      "one JSON object per member and line: memberId, fullName, unit, status, since, toUnit, "
      "workingAway, honorary, outstanding");
  members->footer(std::string(kFooter) +
                  "\nExit codes: 0 listed (also when none match); 2 could not run.");
  members->callback([many, &exit_code] { exit_code = run_members(*many); });
}

}  // namespace rollcall::cli
