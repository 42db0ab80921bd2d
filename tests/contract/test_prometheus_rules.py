"""dashboards/prometheus: rules parse, their unit tests pass, and the rules keep the contract."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest
import yaml

from tests.contract import promql
from tests.contract.tools import run

RUNBOOK_PREFIX = "https://github.com/tokentrail/tokentrail/blob/main/dashboards/runbooks.md#"
RUNBOOKS = promql.REPO / "dashboards" / "runbooks.md"
# Labels the rules themselves add (recording-rule labels, label_replace targets) and the ones
# every scraped series has.
DERIVED_LABELS = {"job", "instance", "le", "days_ago", "response_model_family"}

RULES = promql.load_rules()
ALERTS = [r for r in RULES if "alert" in r]


def test_promtool_check_rules():
    run("promtool", "check", "rules", promql.RULES)


def test_promtool_unit_tests():
    run("promtool", "test", "rules", promql.RULES_TEST)


def test_every_alert_is_tested_firing_and_silent():
    tests = yaml.safe_load(promql.RULES_TEST.read_text())["tests"]
    fired, silent = defaultdict(set), set()
    for group in tests:
        for case in group.get("alert_rule_test", []):
            expected = case.get("exp_alerts") or []
            for alert in expected:
                fired[case["alertname"]].add(alert["exp_labels"]["severity"])
            if not expected:
                silent.add(case["alertname"])
    for alert in ALERTS:
        name, severity = alert["alert"], alert["labels"]["severity"]
        assert severity in fired[name], f"no test expects {name} ({severity}) to fire"
        assert name in silent, f"no test expects {name} to stay silent"


@pytest.mark.parametrize("alert", ALERTS, ids=lambda a: f"{a['alert']}-{a['labels']['severity']}")
def test_alert_metadata(alert):
    assert alert["labels"]["severity"] in {"warning", "critical"}
    annotations = alert["annotations"]
    assert annotations["summary"].strip()
    assert "{{" in annotations["description"], "the description should state the figures"
    url = annotations["runbook_url"]
    assert url == RUNBOOK_PREFIX + alert["alert"].lower()
    assert url.split("#")[1] in runbook_anchors(), f"runbooks.md has no section for {url}"


def runbook_anchors() -> set[str]:
    """GitHub's heading anchors: lower case, spaces to dashes, punctuation dropped."""
    headings = re.findall(r"^#+\s+(.+?)\s*$", RUNBOOKS.read_text(), re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def test_twins_differ_only_in_severity_and_threshold():
    by_name = defaultdict(list)
    for alert in ALERTS:
        by_name[alert["alert"]].append(alert)
    for name, twins in by_name.items():
        severities = sorted(a["labels"]["severity"] for a in twins)
        assert severities in (["warning"], ["critical", "warning"]), (name, severities)
        if len(twins) == 2:
            warning, critical = sorted(twins, key=lambda a: a["labels"]["severity"] != "warning")
            assert warning["annotations"] == critical["annotations"], name
            assert {**warning["labels"], "severity": "critical"} == critical["labels"], name
            # Same grouping and matching, so the same alert labels (for inhibition).
            assert promql.label_names(warning["expr"]) == promql.label_names(critical["expr"])


def test_rules_read_only_contract_series_and_labels():
    recorded = promql.recorded_names()
    for rule in RULES:
        expr = rule["expr"]
        names = promql.metric_names(expr)
        assert names <= promql.EXPORTED_SERIES | recorded, (rule, names - recorded)
        labels = set().union(*(promql.series_labels(n) for n in names - recorded))
        allowed = promql.COMMON_LABELS | labels | DERIVED_LABELS | {"tokentrail_budget_name"}
        used = promql.label_names(expr)
        assert used <= allowed, (rule.get("record") or rule["alert"], used - allowed)
        assert "otel_scope" not in expr
        assert "telemetry_sdk" not in expr
