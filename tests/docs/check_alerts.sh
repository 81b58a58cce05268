#!/usr/bin/env bash
# Checks the example Prometheus alert rules: `promtool check rules` on docs/prometheus-alerts.yml
# and `promtool test rules` on its unit tests, docs/prometheus-alerts.test.yml.
# Usage: tests/docs/check_alerts.sh SOURCE_DIR. Exit 0 only when both pass.
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 SOURCE_DIR" >&2
  exit 2
fi
docs="$1/docs"
if ! command -v promtool >/dev/null 2>&1; then
  echo "check_alerts: promtool not found (Debian package prometheus; scripts/install-deps.sh installs it)" >&2
  exit 1
fi

promtool check rules "$docs/prometheus-alerts.yml"
promtool test rules "$docs/prometheus-alerts.test.yml"
echo "check_alerts: the alert rules are valid and their unit tests pass"
