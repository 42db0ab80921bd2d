"""dashboards/alertmanager: the config loads, routes by severity, and inhibits twins."""

from __future__ import annotations

import pytest
import yaml

from tests.contract import promql
from tests.contract.tools import run

CONFIG = promql.REPO / "dashboards" / "alertmanager" / "alertmanager.yml"


def test_amtool_check_config():
    run("amtool", "check-config", CONFIG)


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["severity=critical", "alertname=TokentrailBudgetBurn"], "tokentrail-pagerduty"),
        (["severity=critical", "alertname=TokentrailErrorRatioHigh"], "tokentrail-pagerduty"),
        (["severity=warning", "alertname=TokentrailCacheHitRatioLow"], "tokentrail-slack"),
        (["severity=warning", "alertname=TokentrailNewResponseModel"], "tokentrail-slack"),
        (["severity=info", "alertname=SomethingElse"], "tokentrail-slack"),
    ],
)
def test_routes(labels, receiver):
    out = run(
        "amtool", "config", "routes", "test", f"--config.file={CONFIG}",
        f"--verify.receivers={receiver}", *labels,
    )  # fmt: skip
    assert out.split() == [receiver]


def test_inhibition_covers_every_label_of_alerts_with_a_critical_twin():
    """A critical must mute only its own warning: `equal` must list every label that tells two
    alerts of the same name apart (taken from the alerts the unit tests expect)."""
    (rule,) = yaml.safe_load(CONFIG.read_text())["inhibit_rules"]
    assert rule["source_matchers"][0] == 'severity="critical"'
    assert rule["target_matchers"][0] == 'severity="warning"'
    with_critical = {
        r["alert"] for r in promql.load_rules() if r.get("labels", {}).get("severity") == "critical"
    }
    tests = yaml.safe_load(promql.RULES_TEST.read_text())["tests"]
    for group in tests:
        for case in group.get("alert_rule_test", []):
            if case["alertname"] not in with_critical:
                continue
            for alert in case.get("exp_alerts") or []:
                identifying = set(alert["exp_labels"]) - {"severity"}
                assert identifying <= set(rule["equal"]), (case["alertname"], identifying)
    assert "alertname" in rule["equal"]
