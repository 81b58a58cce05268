// rollcall certs: the CA and the certificates of mutual TLS, for every unit of a units map (or a
// subtree of it) or for one client, in one directory. The subject scheme is cert_maker.h's.
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <vector>

#include "cli/cert_maker.h"
#include "cli/commands.h"
#include "engine/types.h"
#include "engine/unit_map.h"

namespace rollcall::cli {
namespace {

constexpr std::string_view kCommand = "certs";
constexpr int kLeafDays = 825;
constexpr int kCaDays = 3650;
constexpr size_t kProgressEvery = 1000;
constexpr std::time_t kSecondsPerDay = 86400;

struct CertsOptions {
  std::string out_dir;
  std::string units_file;
  std::string subtree;
  std::string client;
  std::string role;
  std::string valid_from;
  std::string ca_name{kDefaultCaName};
  bool ca_name_given = false;
  int days = kLeafDays;
  int ca_days = kCaDays;
};

std::string day_of(std::time_t t) {
  return Date::from_days(static_cast<int32_t>(t / kSecondsPerDay)).to_string();
}

Status check_days(const char* option, int days) {
  if (days < 1 || days > kMaxValidityDays)
    return invalid_input(std::string(option) + ": " + std::to_string(days) +
                         " is not a number of days 1.." + std::to_string(kMaxValidityDays));
  return ok_status();
}

// The CA of `dir`: the one in ca.crt + ca.key, or a new one written there.
struct DirCa {
  std::optional<Credential> ca;
  bool made = false;
};

Result<DirCa> open_or_make_ca(const CertsOptions& o, std::time_t not_before) {
  const std::string cert_path = o.out_dir + "/ca.crt", key_path = o.out_dir + "/ca.key";
  const bool have_cert = std::filesystem::exists(cert_path),
             have_key = std::filesystem::exists(key_path);
  DirCa out;
  if (have_cert || have_key) {
    if (!have_cert || !have_key) {
      const std::string& present = have_cert ? cert_path : key_path;
      const std::string& missing = have_cert ? key_path : cert_path;
      return invalid_input(present + " exists but " + missing + " does not: restore " + missing +
                           ", or remove " + present +
                           " to make a new CA (and then every certificate again)");
    }
    auto loaded = Credential::load(cert_path, key_path);
    if (!loaded.ok()) return loaded.error();
    if (!loaded->is_ca())
      return invalid_input(cert_path + " is not a CA certificate (no basicConstraints CA:TRUE)");
    if (loaded->not_after() < std::time(nullptr))
      return invalid_input("the CA in " + cert_path + " expired on " + day_of(loaded->not_after()));
    std::cerr << "certs: reusing the CA in " << cert_path << " (" << loaded->subject()
              << ", valid until " << day_of(loaded->not_after()) << ")\n";
    if (o.ca_name_given && loaded->common_name() != o.ca_name)
      std::cerr << "certs: --ca-name '" << o.ca_name << "' ignored: the CA already exists\n";
    out.ca.emplace(std::move(loaded).value());
    return out;
  }
  auto made = make_ca(o.ca_name, Validity{not_before, o.ca_days});
  if (!made.ok()) return made.error();
  ROLLCALL_TRY(made->write(cert_path, key_path, /*sync=*/true));
  std::cerr << "certs: made the CA " << cert_path << " and its key " << key_path << " ("
            << made->subject() << ", valid until " << day_of(made->not_after()) << ")\n";
  out.ca.emplace(std::move(made).value());
  out.made = true;
  return out;
}

void warn_if_outliving(const Credential& ca, const Validity& leaf) {
  const std::time_t leaf_end = leaf.not_before + leaf.days * kSecondsPerDay;
  if (leaf_end > ca.not_after())
    std::cerr << "certs: warning: the certificates run to " << day_of(leaf_end)
              << ", after the CA's end on " << day_of(ca.not_after())
              << "; they are worthless after that\n";
}

// The units to certify, parents first; an error names an unknown subtree or a code whose files
// would collide with the CA's or a client's.
Result<std::vector<UnitCode>> units_to_certify(const CertsOptions& o) {
  auto map = UnitMap::load_csv_file(o.units_file);
  if (!map.ok()) return map.error();
  UnitCode root = map->root();
  if (!o.subtree.empty()) {
    auto code = UnitCode::parse(o.subtree);
    if (!code.ok()) return invalid_input("--subtree: " + code.error().message());
    if (!map->contains(*code))
      return invalid_input("--subtree: unknown unit '" + o.subtree + "' in " + o.units_file);
    root = *code;
  }
  std::vector<UnitCode> units = map->subtree(root);
  for (const UnitCode& code : units)
    if (code.str() == "ca" || code.str().rfind("client-", 0) == 0)
      return invalid_input("unit '" + code.str() + "' of " + o.units_file +
                           " would collide with the CA's or a client's files (ca.*, client-*.*)");
  return units;
}

int run_certs(const CertsOptions& o) {
  const bool for_units = !o.units_file.empty(), for_client = !o.client.empty();
  if (for_units == for_client)
    return report(
        kCommand,
        "give --units FILE.csv (node certificates) or --client NAME --role writer|reader");
  if (for_units && !o.role.empty())
    return report(kCommand,
                  "--role is for --client; the certificates of --units are all role node");
  if (for_client && !o.subtree.empty())
    return report(kCommand, "--subtree is for --units, not --client");
  std::optional<CertRole> role = CertRole::kNode;
  if (for_client) {
    if (o.role.empty()) return report(kCommand, "--client needs --role writer|reader");
    role = parse_cert_role(o.role);
    if (!role || *role == CertRole::kNode)
      return report(kCommand, "--role: '" + o.role + "' is not a client role: writer or reader" +
                                  (role ? " (node certificates come from --units)" : ""));
    if (!is_valid_cert_name(o.client))
      return report(kCommand, "--client: '" + o.client +
                                  "' is not a client name: 1..64 letters, digits, '-', '_' or '.'");
  }
  if (auto s = check_days("--days", o.days); !s.ok()) return report(kCommand, s.error().message());
  if (auto s = check_days("--ca-days", o.ca_days); !s.ok())
    return report(kCommand, s.error().message());
  std::time_t not_before = std::time(nullptr);
  if (!o.valid_from.empty()) {
    auto date = Date::parse(o.valid_from);
    if (!date.ok()) return report(kCommand, "--valid-from: " + date.error().message());
    not_before = static_cast<std::time_t>(date->days()) * kSecondsPerDay;
  }
  std::vector<UnitCode> units;
  if (for_units) {
    auto listed = units_to_certify(o);
    if (!listed.ok()) return report(kCommand, listed.error().message());
    units = std::move(listed).value();
  }

  std::error_code ec;
  std::filesystem::create_directories(o.out_dir, ec);
  if (ec || !std::filesystem::is_directory(o.out_dir))
    return report(kCommand,
                  "cannot make the directory --out " + o.out_dir + (ec ? ": " + ec.message() : ""));
  auto dir_ca = open_or_make_ca(o, not_before);
  if (!dir_ca.ok()) return report(kCommand, dir_ca.error().message());
  const Credential& ca = *dir_ca->ca;
  const char* ca_state = dir_ca->made ? "made" : "reused";
  const Validity validity{not_before, o.days};
  warn_if_outliving(ca, validity);

  if (for_client) {
    const std::string base = o.out_dir + "/client-" + o.client;
    auto leaf = make_leaf(ca, *role, o.client, validity);
    if (!leaf.ok()) return report(kCommand, leaf.error().message());
    if (auto s = leaf->write(base + ".crt", base + ".key"); !s.ok())
      return report(kCommand, s.error().message());
    std::cout << "certs: client certificate " << base << ".crt (" << leaf->subject() << ", valid "
              << day_of(not_before) << " to " << day_of(leaf->not_after()) << ") in " << o.out_dir
              << " (CA: " << ca_state << ")\n";
    return kExitOk;
  }
  size_t done = 0;
  for (const UnitCode& code : units) {
    const std::string base = o.out_dir + "/" + code.str();
    auto leaf = make_leaf(ca, CertRole::kNode, code.str(), validity);
    if (!leaf.ok()) return report(kCommand, "unit " + code.str() + ": " + leaf.error().message());
    if (auto s = leaf->write(base + ".crt", base + ".key"); !s.ok())
      return report(kCommand, s.error().message());
    if (++done % kProgressEvery == 0 && done < units.size())
      std::cerr << "certs: " << done << " of " << units.size() << " node certificates\n";
  }
  std::cout << "certs: " << done << " node certificates in " << o.out_dir << " (CA: " << ca_state
            << ")\n";
  return kExitOk;
}

}  // namespace

void add_certs_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<CertsOptions>();
  auto* cmd = app.add_subcommand(
      "certs",
      "Make the certificates of mutual TLS: a CA (made on the first run, reused after) and one "
      "certificate per unit of a units map or of one unit's subtree, or one client's certificate. "
      "EC P-256 keys, SHA-256 signatures.");
  cmd->add_option("--out", o->out_dir,
                  "the directory of the CA and the certificates (made if needed)")
      ->type_name("DIR")
      ->required();
  cmd->add_option("--units", o->units_file,
                  "a units CSV (code,name,level,parent_code): one node certificate per unit")
      ->type_name("FILE");
  cmd->add_option("--subtree", o->subtree, "with --units: only this unit and the units below it")
      ->type_name("CODE");
  cmd->add_option("--client", o->client,
                  "instead: one client certificate, CN NAME (letters, digits, '-', '_', '.')")
      ->type_name("NAME");
  cmd->add_option("--role", o->role,
                  "with --client: writer (a client that submits) or reader (one that only reads)")
      ->type_name("writer|reader");
  cmd->add_option("--days", o->days, "validity of the certificates made, in days (default 825)")
      ->type_name("N");
  cmd->add_option("--ca-days", o->ca_days, "validity of a CA this run makes (default 3650 days)")
      ->type_name("N");
  cmd->add_option("--valid-from", o->valid_from,
                  "the first day (00:00 UTC) of validity of the certificates made, the CA too when "
                  "this run makes it (default: now)")
      ->type_name("YYYY-MM-DD");
  cmd->add_option("--ca-name", o->ca_name, "CN of a CA this run makes (default \"rollcall CA\")")
      ->type_name("NAME");
  cmd->footer(
      "Files in DIR:\n"
      "  ca.crt, ca.key           the CA: made if neither exists, else reused, never overwritten\n"
      "  <code>.crt, <code>.key   a unit's node certificate, e.g. 001.crt (remade on each run)\n"
      "  client-<NAME>.crt, .key  a client's certificate\n"
      "Subjects: the CA O=rollcall, CN=<ca name>; the others O=rollcall, OU=node|writer|reader, "
      "CN=<unit code or client name>, for serverAuth and clientAuth, signed by the CA. The CA is "
      "valid for --ca-days, the others for --days, from --valid-from.\n"
      "Keys are unencrypted PEM (PKCS#8) files of mode 0600, certificates mode 0644. Give each "
      "node ca.crt and only its own <code>.crt and <code>.key. Keep ca.key off the nodes (it can "
      "sign any certificate); a lost ca.key means a new CA and every certificate again.\n"
      "Exit codes: 0 made; 2 could not run (neither or both of --units and --client, a bad role, "
      "name, date or number of days, an unknown --subtree unit, an unreadable units file or CA, an "
      "unwritable DIR).");
  cmd->callback([o, cmd, &exit_code] {
    o->ca_name_given = cmd->count("--ca-name") > 0;
    exit_code = run_certs(*o);
  });
}

}  // namespace rollcall::cli
