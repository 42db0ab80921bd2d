#!/usr/bin/env bash
# Static checks of dashboards/: Prometheus rules and their unit tests, the Alertmanager
# example and its routing, and the generated Grafana JSON. No servers; a few seconds.
# Needs promtool and amtool (apt: prometheus, prometheus-alertmanager) and the venv's Python
# (build.py imports grafana-foundation-sdk, from the `dev` extra).
# The deeper checks (dashboard structure and filters, PromQL, runbook anchors) are pytest:
# tests/contract/, and the live ones tests/e2e/test_*_live.py.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
AM=dashboards/alertmanager/alertmanager.yml

promtool check rules dashboards/prometheus/tokentrail-rules.yml
promtool test rules dashboards/prometheus/tokentrail-rules.test.yml
amtool check-config "$AM"
route() {  # route <expected receiver> <label=value>...
  local want=$1; shift
  amtool config routes test --config.file="$AM" --verify.receivers="$want" "$@" >/dev/null 2>&1 \
    || { echo "routing: $* should go to $want" >&2; exit 1; }
}
route tokentrail-pagerduty severity=critical alertname=TokentrailBudgetBurn
route tokentrail-slack severity=warning alertname=TokentrailCacheHitRatioLow
route tokentrail-slack severity=info alertname=SomethingElse
"$PYTHON" dashboards/grafana/build.py --check
echo "dashboards: OK"
