#!/usr/bin/env bash
# The long runs, beside scripts/test.sh (which CI runs): the replication simulator over 20,000
# seeds, 3,000 power-loss cycles, 2,000 kill -9 cycles of the crash loop, a 10-minute chaos run
# of the 4-level tree, the multi-process replication fault tests repeated, and the full
# benchmarks. Each stage
# prints its budget. Usage: scripts/extended.sh   (after scripts/test.sh has built build/)
# ROLLCALL_SIM_SEEDS (default 20000), ROLLCALL_POWER_CYCLES (3000), ROLLCALL_CRASH_CYCLES (2000)
# and ROLLCALL_CHAOS_SECONDS (600) set their lengths.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/scripts/lib.sh"
cd "$ROOT"

stage build 1200 'configure_and_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo'
stage sim 9000 'cd build && ROLLCALL_SIM_SEEDS=${ROLLCALL_SIM_SEEDS:-20000} ctest -j2 --output-on-failure --timeout 8000 -R "replication sim: part "'
stage power-loss 1800 'ROLLCALL_POWER_CYCLES=${ROLLCALL_POWER_CYCLES:-3000} build/tests/rollcall_engine_tests "[power]"'
stage crash-loop 3600 'ROLLCALL_CRASH_CYCLES=${ROLLCALL_CRASH_CYCLES:-2000} build/tests/rollcall_node_tests "crash loop: *"'
stage chaos-long 1500 'ROLLCALL_CHAOS_SECONDS=${ROLLCALL_CHAOS_SECONDS:-600} build/tests/rollcall_node_tests "chaos: *"'
stage replication-repeat 3600 'for i in $(seq 1 20); do echo "round $i"; build/tests/rollcall_node_tests "[replication]"; done'
stage bench 3600 'bash bench/run.sh build/bench-full'
