#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang-14 (ASan + UBSan) into build-fuzz/ and runs
# each for SECONDS_PER_TARGET seconds (default 20) on a copy of its seed corpus
# (tests/fuzz/corpus/<target>/, never written to). Prints one JSON line per target:
#   {"fuzz":"frame_decode","seconds":20,"executions":N,"crashes":0}
# A crash, leak, UB report or timeout saves the input under build-fuzz/crashes/ and makes the
# script exit 1.
#
# Replay one input (a saved crash or a corpus file), with the sanitizers' report:
#   build-fuzz/fuzz/<target> FILE
# Needs clang-14 and libclang-rt-14-dev. JOBS (default 2) is ninja's parallelism; CXX_CLANG
# and C_CLANG pick other compilers.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_PER_TARGET=${1:-20}
JOBS=${JOBS:-2}
C_CLANG=${C_CLANG:-clang-14}
CXX_CLANG=${CXX_CLANG:-clang++-14}
BUILD=$ROOT/build-fuzz
CORPUS=$ROOT/tests/fuzz/corpus
TARGETS=(frame_decode event_decode event_json_parse unit_csv_parse)

if ! command -v "$CXX_CLANG" >/dev/null; then
  echo "fuzz.sh: $CXX_CLANG not found (apt-get install clang-14 libclang-rt-14-dev)" >&2
  exit 2
fi

cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_C_COMPILER="$C_CLANG" -DCMAKE_CXX_COMPILER="$CXX_CLANG" \
  -DROLLCALL_FUZZ=ON -DROLLCALL_SANITIZE=address,undefined -DROLLCALL_WERROR=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C "$BUILD" -j"$JOBS" "${TARGETS[@]}"

mkdir -p "$BUILD/crashes"
failed=0
for target in "${TARGETS[@]}"; do
  run=$BUILD/fuzz-run/$target
  rm -rf "$run"
  mkdir -p "$run"
  cp -r "$CORPUS/$target" "$run/corpus"
  rc=0
  # UBSan reports are fatal (the build has -fno-sanitize-recover=all); leaks are reported.
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "$BUILD/fuzz/$target" -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 \
    -rss_limit_mb=2048 -timeout=10 -artifact_prefix="$BUILD/crashes/$target-" \
    "$run/corpus" >"$run/log" 2>&1 || rc=$?
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$run/log" | tail -1)
  crashes=0
  if [ "$rc" -ne 0 ]; then
    crashes=1
    failed=1
    echo "fuzz.sh: $target failed (exit $rc); its log is $run/log, the input in $BUILD/crashes/:" >&2
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|artifact_prefix|Test unit written)' "$run/log" >&2 || tail -20 "$run/log" >&2
  fi
  printf '{"fuzz":"%s","seconds":%s,"executions":%s,"crashes":%s}\n' \
    "$target" "$SECONDS_PER_TARGET" "${executions:-0}" "$crashes"
done
exit "$failed"
