#!/usr/bin/env bash
# Installs the Debian 12 packages that rollcall's build, tests and tools need.
# Idempotent: packages already present are left alone; safe to run again.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  librocksdb-dev rocksdb-tools
  capnproto libcapnp-dev
  libasio-dev libspdlog-dev libfmt-dev
  catch2 libcli11-dev libtomlplusplus-dev libcpp-httplib-dev
  libssl-dev openssl
  clang-14 libclang-rt-14-dev
  python3 systemd
  chromium fonts-dejavu-core
  prometheus
  nats-server libnats-dev gnuplot-nox
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
