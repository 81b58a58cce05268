#!/usr/bin/env bash
# The main job: installs what is needed, builds, and runs `rollcall demo`: a real tree of
# rollcalld nodes on loopback (VN <- 01 <- 001), real units and a year of real-shaped events
# submitted at the district and pushed up to VN, and the roll-ups as every level holds them.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/scripts/lib.sh"
cd "$ROOT"
bash scripts/install-deps.sh
configure_and_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo
exec build/cli/rollcall demo "$@"
