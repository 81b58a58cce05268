#!/usr/bin/env bash
# The main job: installs what is needed, builds, and runs `rollcall demo`: a real rollcalld on
# loopback, real units and a year of real-shaped events, the log as the node holds it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/scripts/lib.sh"
cd "$ROOT"
bash scripts/install-deps.sh
configure_and_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo
exec build/cli/rollcall demo "$@"
