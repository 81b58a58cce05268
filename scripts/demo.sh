#!/usr/bin/env bash
# The main job: installs what is needed, builds, and runs `rollcall demo`: a real tree of ten
# rollcalld nodes on loopback (VN <- 01 <- 001, 002 <- three wards each), real units, a
# generated year of each ward's events, one ward's link cut and restored, and the roll-ups as
# every level holds them. Arguments go to `rollcall demo` (e.g. --dir DIR, --seed N).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/scripts/lib.sh"
cd "$ROOT"
bash scripts/install-deps.sh
configure_and_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo
exec build/cli/rollcall demo "$@"
