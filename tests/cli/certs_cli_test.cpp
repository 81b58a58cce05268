// End-to-end tests of `rollcall certs`: the CA and node certificates of a subtree of the 2024
// map and client certificates, each checked by the openssl command line (verify, subject,
// extensions), the key files' modes, CA reuse, back-dated (expired) certificates and the errors.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <set>

#include "engine/unit_map.h"
#include "tests/support/node_harness.h"
#include "tests/support/test_dirs.h"

using namespace rollcall;
using namespace rollcall::testing;

namespace {

std::string openssl() {
  for (const char* path : {"/usr/bin/openssl", "/usr/local/bin/openssl"})
    if (std::filesystem::exists(path)) return path;
  FAIL("no openssl command line in /usr/bin or /usr/local/bin");
  return "";
}

CommandResult verify(const std::string& dir, const std::string& cert,
                     const std::string& purpose = "") {
  std::vector<std::string> argv = {openssl(), "verify", "-CAfile", dir + "/ca.crt"};
  if (!purpose.empty()) argv.insert(argv.end(), {"-purpose", purpose});
  argv.push_back(dir + "/" + cert);
  return run_command(argv);
}

// "O = rollcall, OU = node, CN = 001", as `openssl x509 -subject` prints it.
std::string subject_of(const std::string& cert_path) {
  auto r = run_command({openssl(), "x509", "-noout", "-subject", "-in", cert_path});
  REQUIRE(r.exit_code == 0);
  std::string line = r.out.substr(0, r.out.find('\n'));
  REQUIRE(line.rfind("subject=", 0) == 0);
  return line.substr(std::string("subject=").size());
}

std::string extensions_of(const std::string& cert_path) {
  auto r = run_command({openssl(), "x509", "-noout", "-ext",
                        "basicConstraints,keyUsage,extendedKeyUsage", "-in", cert_path});
  REQUIRE(r.exit_code == 0);
  return r.out;
}

// The public key of a certificate and of a private key file, as PEM.
std::string cert_public_key(const std::string& cert_path) {
  return run_command({openssl(), "x509", "-noout", "-pubkey", "-in", cert_path}).out;
}
std::string key_public_key(const std::string& key_path) {
  return run_command({openssl(), "pkey", "-pubout", "-in", key_path}).out;
}

unsigned mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

// The names of DIR's files ending in `suffix`.
std::set<std::string> files_ending(const std::string& dir, const std::string& suffix) {
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      names.insert(name);
  }
  return names;
}

std::vector<std::string> subtree_codes(const std::string& code) {
  auto map = UnitMap::load_csv_file(units_2024());
  REQUIRE(map.ok());
  std::vector<std::string> codes;
  for (const UnitCode& unit : map->subtree(UnitCode::trusted(code))) codes.push_back(unit.str());
  return codes;
}

CommandResult certs_for_subtree(const std::string& out, const std::string& subtree) {
  return run_rollcall({"certs", "--out", out, "--units", units_2024(), "--subtree", subtree});
}

}  // namespace

TEST_CASE("rollcall certs: each unit of a subtree gets a node certificate signed by a new CA",
          "[certs]") {
  TempDir tmp;
  const std::string out = tmp / "pki";  // made by the command
  const auto codes = subtree_codes("001");
  REQUIRE(codes.size() > 10);  // Quận Ba Đình and its wards

  auto r = certs_for_subtree(out, "001");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("certs: " + std::to_string(codes.size()) +
                                    " node certificates in " + out + " (CA: made)"));

  std::set<std::string> want_certs = {"ca.crt"}, want_keys = {"ca.key"};
  for (const auto& code : codes) {
    want_certs.insert(code + ".crt");
    want_keys.insert(code + ".key");
  }
  CHECK(files_ending(out, ".crt") == want_certs);
  CHECK(files_ending(out, ".key") == want_keys);
  CHECK(files_ending(out, ".tmp").empty());

  CHECK(subject_of(out + "/ca.crt") == "O = rollcall, CN = rollcall CA");
  CHECK_THAT(extensions_of(out + "/ca.crt"), Catch::Contains("critical") &&
                                                 Catch::Contains("CA:TRUE") &&
                                                 Catch::Contains("Certificate Sign, CRL Sign"));
  CHECK(mode_of(out + "/ca.key") == 0600);
  CHECK(mode_of(out + "/ca.crt") == 0644);
  for (const auto& code : codes) {
    CAPTURE(code);
    auto ok = verify(out, code + ".crt");
    CHECK(ok.exit_code == 0);
    CHECK_THAT(ok.out, Catch::Contains(code + ".crt: OK"));
    CHECK(subject_of(out + "/" + code + ".crt") == "O = rollcall, OU = node, CN = " + code);
    CHECK(mode_of(out + "/" + code + ".key") == 0600);
    CHECK(mode_of(out + "/" + code + ".crt") == 0644);
  }
  // A node is both a TLS server (to its children and clients) and a client (of its parent).
  const std::string ward = codes.back();
  CHECK(verify(out, ward + ".crt", "sslserver").exit_code == 0);
  CHECK(verify(out, ward + ".crt", "sslclient").exit_code == 0);
  const std::string ext = extensions_of(out + "/" + ward + ".crt");
  CHECK_THAT(ext, Catch::Contains("CA:FALSE") && Catch::Contains("Digital Signature") &&
                      Catch::Contains("TLS Web Server Authentication") &&
                      Catch::Contains("TLS Web Client Authentication"));
  // Each key file is its own certificate's key.
  const std::string pub = cert_public_key(out + "/" + ward + ".crt");
  CHECK_THAT(pub, Catch::Contains("BEGIN PUBLIC KEY"));
  CHECK(key_public_key(out + "/" + ward + ".key") == pub);
  CHECK(key_public_key(out + "/001.key") != pub);
}

TEST_CASE("rollcall certs: a rerun reuses the CA and remakes the node certificates under it",
          "[certs]") {
  TempDir tmp;
  const std::string out = tmp / "pki";
  REQUIRE(certs_for_subtree(out, "001").exit_code == 0);
  const std::string ca_cert = read_text(out + "/ca.crt"), ca_key = read_text(out + "/ca.key");
  const std::string first_001 = read_text(out + "/001.crt");
  REQUIRE(!ca_cert.empty());

  auto again = certs_for_subtree(out, "001");
  REQUIRE(again.exit_code == 0);
  CHECK_THAT(again.out, Catch::Contains("(CA: reused)"));
  CHECK_THAT(again.err, Catch::Contains("reusing the CA in " + out + "/ca.crt"));
  CHECK(read_text(out + "/ca.crt") == ca_cert);
  CHECK(read_text(out + "/ca.key") == ca_key);
  CHECK(read_text(out + "/001.crt") != first_001);
  CHECK(verify(out, "001.crt").exit_code == 0);

  // Half a CA is never replaced by a new one: the certificates it signed would all be lost.
  std::filesystem::remove(out + "/ca.key");
  auto half = certs_for_subtree(out, "001");
  CHECK(half.exit_code == 2);
  CHECK_THAT(half.err, Catch::Contains(out + "/ca.key does not"));
  CHECK(read_text(out + "/ca.crt") == ca_cert);
  CHECK(!std::filesystem::exists(out + "/ca.key"));
}

TEST_CASE("rollcall certs: a client certificate carries its role in OU and its name in CN",
          "[certs]") {
  TempDir tmp;
  const std::string out = tmp / "pki";
  auto reader =
      run_rollcall({"certs", "--out", out, "--client", "dashboard.ha-noi_1", "--role", "reader"});
  INFO(reader.err);
  REQUIRE(reader.exit_code == 0);
  CHECK_THAT(reader.out, Catch::Contains("(CA: made)"));
  CHECK(subject_of(out + "/client-dashboard.ha-noi_1.crt") ==
        "O = rollcall, OU = reader, CN = dashboard.ha-noi_1");
  CHECK(verify(out, "client-dashboard.ha-noi_1.crt", "sslclient").exit_code == 0);
  CHECK(mode_of(out + "/client-dashboard.ha-noi_1.key") == 0600);

  auto writer = run_rollcall({"certs", "--out", out, "--client", "importer", "--role", "writer"});
  REQUIRE(writer.exit_code == 0);
  CHECK_THAT(writer.out, Catch::Contains("(CA: reused)"));
  CHECK(subject_of(out + "/client-importer.crt") == "O = rollcall, OU = writer, CN = importer");
  CHECK(verify(out, "client-importer.crt").exit_code == 0);
}

TEST_CASE(
    "rollcall certs: a certificate valid from 2020-01-01 for one day fails verification as expired",
    "[certs]") {
  TempDir tmp;
  const std::string out = tmp / "pki";
  REQUIRE(
      run_rollcall({"certs", "--out", out, "--client", "fresh", "--role", "writer"}).exit_code ==
      0);
  auto old = run_rollcall({"certs", "--out", out, "--client", "old", "--role", "writer",
                           "--valid-from", "2020-01-01", "--days", "1"});
  INFO(old.err);
  REQUIRE(old.exit_code == 0);
  CHECK_THAT(old.out, Catch::Contains("valid 2020-01-01 to 2020-01-02"));

  CHECK(verify(out, "client-fresh.crt").exit_code == 0);
  auto expired = verify(out, "client-old.crt");
  CHECK(expired.exit_code != 0);
  CHECK_THAT(expired.out + expired.err, Catch::Contains("certificate has expired"));
}

TEST_CASE("rollcall certs: bad roles, names, dates, subtrees and dirs exit 2 naming the problem",
          "[certs]") {
  TempDir tmp;
  const std::string out = tmp / "pki";
  for (const auto& [args, message] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--client", "ops", "--role", "admin"},
            "--role: 'admin' is not a client role: writer or reader"},
           {{"--client", "ops", "--role", "node"}, "--role: 'node' is not a client role"},
           {{"--client", "ops"}, "--client needs --role"},
           {{"--client", "o/ps", "--role", "reader"}, "--client: 'o/ps' is not a client name"},
           {{"--client", "ops", "--role", "reader", "--valid-from", "2024-02-30"},
            "--valid-from: '2024-02-30'"},
           {{"--client", "ops", "--role", "reader", "--days", "0"},
            "--days: 0 is not a number of days"},
           {{"--units", units_2024(), "--subtree", "99999"}, "--subtree: unknown unit '99999'"},
           {{"--units", units_2024(), "--role", "reader"}, "--role is for --client"},
           {{}, "give --units FILE.csv (node certificates) or --client NAME"}}) {
    std::vector<std::string> argv = {"certs", "--out", out};
    argv.insert(argv.end(), args.begin(), args.end());
    CAPTURE(argv);
    auto r = run_rollcall(argv);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("rollcall certs: " + message));
    CHECK(!std::filesystem::exists(out));  // nothing made before the arguments are known good
  }

  // A directory that cannot be made: its parent is a file.
  REQUIRE(run_rollcall({"certs", "--out", out, "--client", "ops", "--role", "reader"}).exit_code ==
          0);
  auto unwritable =
      run_rollcall({"certs", "--out", out + "/ca.crt/sub", "--client", "ops", "--role", "reader"});
  CHECK(unwritable.exit_code == 2);
  CHECK_THAT(unwritable.err,
             Catch::Contains("cannot make the directory --out " + out + "/ca.crt/sub"));
}
