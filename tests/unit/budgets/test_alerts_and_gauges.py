"""Budget alerts fire once per budget, threshold and window whatever the number of calls;
per-request alerts fire once per model and attribution per hour; the gauges report each
budget by name only."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from decimal import Decimal

import pytest

import tokentrail
from tokentrail import Alert, Budget, ConfigurationError, attribute
from tokentrail.testing import capture

from .conftest import FIXED_COST, chat


def collected(alerts: list[Alert], kind: str) -> list[Alert]:
    return [a for a in alerts if a.kind == kind]


def test_a_warning_and_the_exceeded_alert_fire_once_per_window(fixed_fake):
    alerts: list[Alert] = []
    budget = Budget("core-daily", FIXED_COST * 4, "day", match={"team": "core"}, warn_at=[0.5])
    with capture(budgets=[budget], alert_sinks=[alerts.append]) as telemetry:
        client = fixed_fake.client()
        with attribute(team="core", feature="search", user_id="u-1"):
            for _ in range(12):
                chat(client)  # an alert-only budget never blocks
        assert tokentrail.flush(timeout=5)
        warning, exceeded = (
            collected(alerts, "budget_warning"),
            collected(alerts, "budget_exceeded"),
        )
        assert len(warning) == 1
        assert len(exceeded) == 1
        assert len(alerts) == 2

        alert = warning[0]
        assert (alert.severity, alert.budget, alert.threshold) == (
            "warning",
            "core-daily",
            Decimal("0.5"),
        )
        assert alert.spent_usd == FIXED_COST * 2  # the call that reached 50 %
        assert alert.limit_usd == FIXED_COST * 4
        today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        assert alert.window_start == today
        assert alert.window == "day"
        assert dict(alert.attribution) == {"team": "core", "feature": "search", "user_id": "u-1"}
        span = telemetry.spans()[1]
        assert alert.trace_id == format(span.context.trace_id, "032x")

        assert exceeded[0].severity == "critical"
        assert exceeded[0].spent_usd == FIXED_COST * 4
        assert (
            telemetry.value(
                "tokentrail.alerts",
                {"tokentrail.alert.kind": "budget_warning", "tokentrail.alert.severity": "warning"},
            )
            == 1
        )
        assert (
            telemetry.value("tokentrail.alerts", {"tokentrail.alert.kind": "budget_exceeded"}) == 1
        )


def test_per_key_budgets_alert_once_per_key(fixed_fake):
    alerts: list[Alert] = []
    budget = Budget("per-user", FIXED_COST * 2, "hour", per="user_id", warn_at=[0.5])
    with capture(budgets=[budget], alert_sinks=[alerts.append]):
        client = fixed_fake.client()
        for user in ("alice", "bob", "alice", "bob", "alice"):
            with attribute(user_id=user):
                chat(client)
        tokentrail.flush(timeout=5)
    keys = sorted((a.kind, a.key["user_id"]) for a in alerts)
    assert keys == [
        ("budget_exceeded", "alice"),
        ("budget_exceeded", "bob"),
        ("budget_warning", "alice"),
        ("budget_warning", "bob"),
    ]


def test_a_blocking_budget_alerts_once_when_it_starts_refusing(fixed_fake):
    alerts: list[Alert] = []
    # one call fits ($0.00045 settled, 67 %); the second's reservation does not
    budget = Budget("cap", FIXED_COST * Decimal("1.5"), "day", action="block", warn_at=[0.9])
    with capture(budgets=[budget], alert_sinks=[alerts.append]):
        client = fixed_fake.client()
        for _ in range(5):
            try:
                chat(client)
            except tokentrail.BudgetExceededError:
                pass
        tokentrail.flush(timeout=5)
    assert [a.kind for a in alerts] == ["budget_exceeded"]
    assert alerts[0].spent_usd < alerts[0].limit_usd
    assert "refusing calls" in alerts[0].message


def test_an_expensive_call_alerts_once_per_model_and_attribution_per_hour(fixed_fake):
    alerts: list[Alert] = []
    with capture(max_request_cost_usd="0.0004", alert_sinks=[alerts.append]) as telemetry:
        client = fixed_fake.client()
        with attribute(feature="search"):
            for _ in range(3):
                chat(client)
        with attribute(feature="report"):
            chat(client)
        tokentrail.flush(timeout=5)
        assert [(a.kind, a.attribution.get("feature")) for a in alerts] == [
            ("request_cost", "search"),
            ("request_cost", "report"),
        ]
        alert = alerts[0]
        assert alert.severity == "warning"
        assert alert.spent_usd == FIXED_COST
        assert alert.limit_usd == Decimal("0.0004")
        assert alert.model == "gpt-4o-mini-2024-07-18"
        assert alert.trace_id == format(telemetry.spans()[0].context.trace_id, "032x")
        assert "$0.00045" in alert.message


def test_a_cheap_call_does_not_alert(fixed_fake):
    alerts: list[Alert] = []
    with capture(max_request_cost_usd=1, alert_sinks=[alerts.append]):
        chat(fixed_fake.client())
        tokentrail.flush(timeout=5)
    assert alerts == []


def test_without_sinks_alerts_are_logged(fixed_fake, caplog, monkeypatch):
    for name in ("ALERT_WEBHOOK_URL", "SLACK_WEBHOOK_URL", "PAGERDUTY_ROUTING_KEY"):
        monkeypatch.delenv(f"TOKENTRAIL_{name}", raising=False)
    caplog.set_level(logging.WARNING, logger="tokentrail.alerts")
    with capture(max_request_cost_usd="0.0001"):
        chat(fixed_fake.client())
        assert tokentrail.flush(timeout=5)
    (record,) = [r for r in caplog.records if r.name == "tokentrail.alerts"]
    assert record.levelno == logging.WARNING
    assert "over the per-request threshold of $0.0001" in record.getMessage()
    assert record.tokentrail_alert["kind"] == "request_cost"


def test_a_plain_function_is_a_sink_and_anything_else_is_refused():
    with pytest.raises(ConfigurationError, match="is not a sink"):
        tokentrail.instrument(max_request_cost_usd=1, alert_sinks=[object()])
    received: list[Alert] = []
    with capture(max_request_cost_usd=1, alert_sinks=[received.append]):
        pass


def test_gauges_report_spending_limit_and_time_left_by_budget_name_only(fixed_fake):
    budgets = [
        Budget("all-daily", 10, "day"),
        Budget("per-user", 1, "hour", per="user_id"),
    ]
    with capture(budgets=budgets) as telemetry:
        client = fixed_fake.client()
        with attribute(user_id="alice", team="core"):
            chat(client)
            chat(client)
        with attribute(user_id="bob", team="core"):
            chat(client)

        def gauge(metric: str, name: str) -> float:
            (point,) = [
                p
                for p in telemetry.points(metric)
                if p.attributes == {"tokentrail.budget.name": name}
            ]
            return point.value

        assert gauge("tokentrail.budget.spent.usd", "all-daily") == pytest.approx(
            float(FIXED_COST * 3)
        )
        # a per-key budget shows the key that spent most (alice), never the key itself
        assert gauge("tokentrail.budget.spent.usd", "per-user") == pytest.approx(
            float(FIXED_COST * 2)
        )
        assert gauge("tokentrail.budget.limit.usd", "per-user") == 1
        assert 0 < gauge("tokentrail.budget.window.remaining", "per-user") <= 3600
        assert 0 < gauge("tokentrail.budget.window.remaining", "all-daily") <= 86400
        data = telemetry.metric_reader.get_metrics_data()
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    for point in metric.data.data_points:
                        assert "user.id" not in point.attributes
                        assert "alice" not in point.attributes.values()


def test_budgets_and_the_request_threshold_load_from_the_environment(
    fixed_fake, tmp_path, monkeypatch
):
    path = tmp_path / "budgets.yaml"
    path.write_text("budgets:\n  - {name: env-cap, limit_usd: 0.0006, window: 6h, action: block}\n")
    monkeypatch.setenv("TOKENTRAIL_BUDGETS_FILE", str(path))
    monkeypatch.setenv("TOKENTRAIL_MAX_REQUEST_COST_USD", "0.0001")
    alerts: list[Alert] = []
    with capture(alert_sinks=[alerts.append]):
        client = fixed_fake.client()
        chat(client)
        with pytest.raises(tokentrail.BudgetExceededError, match="env-cap"):
            chat(client)
        tokentrail.flush(timeout=5)
    assert [a.kind for a in alerts] == ["request_cost", "budget_exceeded"]


def test_a_bad_budgets_file_fails_instrument_and_leaves_nothing_instrumented(tmp_path, monkeypatch):
    import openai

    path = tmp_path / "budgets.yaml"
    path.write_text("budgets:\n  - {name: x, limit_usd: 1, window: weekly}\n")
    monkeypatch.setenv("TOKENTRAIL_BUDGETS_FILE", str(path))
    original = openai.resources.chat.completions.Completions.create
    with pytest.raises(ConfigurationError, match=r"budgets\[0\] \(budget 'x'\): field 'window'"):
        tokentrail.instrument()
    assert openai.resources.chat.completions.Completions.create is original
