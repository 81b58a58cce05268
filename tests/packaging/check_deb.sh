#!/usr/bin/env bash
# ctest "packaging: ...": builds the .deb with cpack in the build dir (into its own directory,
# so parallel tests and a developer's own cpack runs do not collide) and checks that it holds
# the binaries, the systemd unit, the sysusers entry and the config, declares its runtime
# dependencies and maintainer scripts, that the extracted rollcalld runs, and that the unit
# file passes systemd-analyze verify. Usage: check_deb.sh BUILD_DIR
set -euo pipefail
build_dir=$(cd "$1" && pwd)
out="$build_dir/packaging-test"
rm -rf "$out"
mkdir -p "$out"
fail() { echo "check_deb: $*" >&2; exit 1; }

(cd "$build_dir" && cpack -G DEB -B "$out" >"$out/cpack.log" 2>&1) || { cat "$out/cpack.log"; fail "cpack failed"; }
deb=$(ls "$out"/rollcall_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || fail "cpack made no rollcall_*.deb in $out"

contents=$(dpkg-deb -c "$deb")
for path in ./usr/bin/rollcalld ./usr/bin/rollcall ./lib/systemd/system/rollcalld@.service \
            ./etc/rollcall/example.toml ./usr/lib/sysusers.d/rollcall.conf; do
  grep -q " $path\$" <<<"$contents" || fail "$deb does not hold $path"
done

info=$(dpkg-deb -I "$deb")
for lib in librocksdb libcapnp libspdlog libssl3 adduser; do
  grep -q "^ Depends:.*$lib" <<<"$info" || fail "Depends lacks $lib: $(grep '^ Depends' <<<"$info")"
done
for script in conffiles postinst prerm postrm; do
  grep -qE "^ +[0-9]+ bytes, +[0-9]+ lines +\*? *$script " <<<"$info" || fail "$deb has no $script"
done
grep -q "^ Maintainer: " <<<"$info" || fail "no Maintainer field"

root="$out/root"
dpkg-deb -x "$deb" "$root"
"$root/usr/bin/rollcalld" --version >/dev/null || fail "the extracted rollcalld --version failed"
"$root/usr/bin/rollcalld" --help | grep -q SIGHUP || fail "the extracted rollcalld --help does not mention SIGHUP"
"$root/usr/bin/rollcall" --help >/dev/null || fail "the extracted rollcall --help failed"
grep -q '/etc/rollcall/%i.toml' "$root/lib/systemd/system/rollcalld@.service" || fail "the unit does not read /etc/rollcall/%i.toml"

if command -v systemd-analyze >/dev/null; then
  # verify checks that ExecStart's binary exists, so a copy of the unit points at the extracted
  # one; an instance name is needed to verify a template. Everything else is the shipped file.
  unit_dir="$out/units"
  mkdir -p "$unit_dir"
  sed "s|/usr/bin/rollcalld|$root/usr/bin/rollcalld|" "$root/lib/systemd/system/rollcalld@.service" \
    >"$unit_dir/rollcalld@.service"
  cp "$unit_dir/rollcalld@.service" "$unit_dir/rollcalld@001.service"
  # Lines about the host (no running systemd, other units) are not about our file; keep ours.
  report=$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$unit_dir/rollcalld@001.service" 2>&1 || true)
  ours=$(grep -F "rollcalld@" <<<"$report" || true)
  [ -z "$ours" ] || fail "systemd-analyze verify: $ours"
fi
echo "check_deb: $deb ok"
