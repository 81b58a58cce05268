#!/usr/bin/env bash
# The long runs, beside scripts/test.sh (which CI runs): the replication simulator over many
# seeds, a 10-minute chaos run of the 4-level tree, the multi-process replication fault tests
# repeated, and the full benchmarks. Each stage
# prints its budget. Usage: scripts/extended.sh   (after scripts/test.sh has built build/)
# ROLLCALL_SIM_SEEDS (default 500) sets the simulator's seed count.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/scripts/lib.sh"
cd "$ROOT"

stage build 1200 'configure_and_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo'
stage sim 3600 'ROLLCALL_SIM_SEEDS=${ROLLCALL_SIM_SEEDS:-500} build/tests/rollcall_testdata_tests "[sim]"'
stage chaos-long 1500 'ROLLCALL_CHAOS_SECONDS=${ROLLCALL_CHAOS_SECONDS:-600} build/tests/rollcall_node_tests "chaos: *"'
stage replication-repeat 3600 'for i in $(seq 1 20); do echo "round $i"; build/tests/rollcall_node_tests "[replication]"; done'
stage bench 3600 '(build/bench/rollcall_ingest_bench && build/bench/rollcall_tally_bench && build/bench/rollcall_sync_bench && build/bench/rollcall_exactly_once_bench) | tee build/bench-full.jsonl'
