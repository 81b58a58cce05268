# Shared by the scripts (source it with ROOT set to the repository).

# configure_and_build DIR [CMAKE_ARGS...]: every target, or only those of BUILD_TARGETS (the
# sanitizer builds leave out what their tests do not run).
configure_and_build() {
  local dir=$1
  shift
  cmake -S "$ROOT" -B "$ROOT/$dir" -G Ninja -DROLLCALL_WERROR=ON "$@" >/dev/null
  # shellcheck disable=SC2086 # BUILD_TARGETS is a list of names
  ninja -C "$ROOT/$dir" -j2 ${BUILD_TARGETS:-}
}

# stage NAME BUDGET_SECONDS 'COMMAND': runs COMMAND in bash (with this file's functions) under
# `timeout`, printing the budget before and the time taken after. Over budget is a failure.
stage() {
  local name=$1 budget=$2 command=$3
  echo "=== stage ${name}: budget ${budget}s"
  local start=$SECONDS rc=0
  ROOT=$ROOT timeout --kill-after=10 "${budget}" bash -c "source '$ROOT/scripts/lib.sh'; cd '$ROOT'; set -euo pipefail; ${command}" || rc=$?
  local took=$((SECONDS - start))
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    echo "=== stage ${name}: OVER BUDGET after ${took}s (budget ${budget}s)"
    return 1
  fi
  echo "=== stage ${name}: ${took}s of ${budget}s, exit ${rc}"
  return "$rc"
}
