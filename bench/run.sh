#!/usr/bin/env bash
# Runs every benchmark in one go and draws throughput by scenario.
# Usage: bench/run.sh [--quick] [OUT_DIR]   (after a build in build/; OUT_DIR: build/bench-out)
# Writes OUT_DIR/bench.jsonl (every JSON line, in order), OUT_DIR/throughput.png and .dat.
# --quick is the CI mode (under 2 minutes on the 2-core machine); without it, the full runs of
# bench/README.md (about 10 minutes). A benchmark that fails (its own checks: exactly once,
# rejected events) fails the run.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
quick=()
if [ "${1:-}" = "--quick" ]; then
  quick=(--quick)
  shift
fi
out=${1:-$ROOT/build/bench-out}
mkdir -p "$out"
: >"$out/bench.jsonl"
for bench in ingest tally sync exactly_once chain fanin; do
  start=$SECONDS
  echo "bench/run.sh: rollcall_${bench}_bench ${quick[*]:-}" >&2
  "$ROOT/build/bench/rollcall_${bench}_bench" "${quick[@]}" | tee -a "$out/bench.jsonl"
  echo "bench/run.sh: rollcall_${bench}_bench took $((SECONDS - start)) s" >&2
done
python3 "$ROOT/bench/plot.py" "$out/bench.jsonl" "$out/throughput.png"
