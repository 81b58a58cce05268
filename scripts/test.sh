#!/usr/bin/env bash
# Builds rollcall and runs every test: the README's test command, and all that CI runs.
# Stages: dependencies, build (warnings are errors), the test suite (ctest), the same suite
# under AddressSanitizer + UndefinedBehaviorSanitizer (there the replication simulator runs 8
# seeds instead of 500, the power-loss test 60 cycles instead of 300, the crash loop 40 kill -9
# cycles instead of 200 and the tally property test 100 orders a seed instead of 700; the
# benchmarks are not built there, and the national reorganization test, which runs a generated
# national year through `rollcall reorganize` in the plain build, is left out), the node's concurrency tests (real
# rollcalld processes, concurrent clients) under ThreadSanitizer, and every benchmark in its quick
# mode with the plot (bench/run.sh --quick: so the harnesses keep working; their figures are not
# checked here, their own exactly-once checks are), after 20 s of each libFuzzer
# target (scripts/fuzz.sh: clang-14, ASan + UBSan, from the committed corpus). Each prints its
# budget.
# scripts/extended.sh runs the long ones (many simulator seeds, repeated fault tests, full benches).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/scripts/lib.sh"
cd "$ROOT"

stage deps 900 'bash scripts/install-deps.sh'
stage build 1200 'configure_and_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo'
stage test 1200 'cd build && ctest -j2 --output-on-failure --timeout 600 2>&1 | tee ctest.log'
stage asan-build 1500 'BUILD_TARGETS="rollcall_engine_tests rollcall_node_tests rollcall_testdata_tests" configure_and_build build-asan -DCMAKE_BUILD_TYPE=Debug -DROLLCALL_SANITIZE=address,undefined'
stage asan-test 1500 'cd build-asan && ROLLCALL_SIM_SEEDS=8 ROLLCALL_POWER_CYCLES=60 ROLLCALL_CRASH_CYCLES=40 ROLLCALL_PROPERTY_ORDERS=100 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest -j2 --output-on-failure --timeout 600 -E "\(national\)" 2>&1 | tee ctest.log'

stage tsan-build 1500 'BUILD_TARGETS=rollcall_node_tests configure_and_build build-tsan -DCMAKE_BUILD_TYPE=Debug -DROLLCALL_SANITIZE=thread'
stage tsan-test 900 'cd build-tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$ROOT/tests/tsan.supp ctest -j2 --output-on-failure --timeout 600 -R "^rollcalld( security)?: " 2>&1 | tee ctest.log'
stage fuzz 900 'JOBS=2 bash scripts/fuzz.sh 20'
stage bench 300 'bash bench/run.sh --quick build/bench-quick'

# One closing line for the three runs.
passed=0
failed=0
for log in build/ctest.log build-asan/ctest.log build-tsan/ctest.log; do
  read -r f t <<<"$(grep -Eo "[0-9]+ tests failed out of [0-9]+" "$log" | tail -1 | awk '{print $1, $6}')"
  passed=$((passed + t - f))
  failed=$((failed + f))
done
echo "tests: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
