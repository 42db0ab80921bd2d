"""Sinks deliver to real HTTP endpoints: the JSON each receiver expects, bounded retries,
and isolation: a hanging or failing sink delays neither the call nor the other sinks."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime, timezone
from decimal import Decimal
from types import MappingProxyType

import pytest

import tokentrail
from tokentrail import Alert, CallbackSink, LogSink, PagerDutySink, SlackSink, WebhookSink
from tokentrail.alerts import build_sinks
from tokentrail.alerts.delivery import AlertDispatcher
from tokentrail.fakes.openai import FakeOpenAI
from tokentrail.testing import capture

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACE_URL = "https://jaeger.example.com/trace/{trace_id}"


def budget_alert(kind: str = "budget_warning", **changes) -> Alert:
    fields = {
        "kind": kind,
        "severity": "critical" if kind == "budget_exceeded" else "warning",
        "spent_usd": Decimal("40.5"),
        "limit_usd": Decimal("50"),
        "budget": "team-core-daily",
        "window": "day",
        "window_start": datetime(2025, 3, 9, tzinfo=timezone.utc),
        "window_end": datetime(2025, 3, 10, tzinfo=timezone.utc),
        "threshold": Decimal("0.8") if kind == "budget_warning" else Decimal(1),
        "attribution": MappingProxyType({"team": "core", "feature": "search"}),
        "trace_id": TRACE_ID,
        **changes,
    }
    return Alert(**fields)


class Counter:
    def __init__(self) -> None:
        self.added: list[dict] = []

    def add(self, amount: int, attributes: dict) -> None:
        self.added.append(attributes)


def deliver(*sinks, alerts=(), timeout: float = 5.0) -> AlertDispatcher:
    dispatcher = AlertDispatcher(sinks, Counter())
    for alert in alerts or (budget_alert(),):
        dispatcher.fire(alert)
    assert dispatcher.flush(timeout)
    return dispatcher


def test_a_webhook_gets_the_alert_as_json(receiver):
    alert = budget_alert()
    deliver(WebhookSink(receiver.url("/ok"), trace_url=TRACE_URL), alerts=[alert])
    (request,) = receiver.on("/ok")
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("tokentrail/")
    assert request.body == {**alert.to_dict(), "trace_url": TRACE_URL.format(trace_id=TRACE_ID)}
    assert request.body["spent_usd"] == "40.5"  # exact decimal strings, not floats


def test_slack_gets_a_message_with_the_figures_and_a_link_to_the_trace(receiver):
    deliver(SlackSink(receiver.url("/ok"), trace_url=TRACE_URL))
    (request,) = receiver.on("/ok")
    body = request.body
    assert body["text"].startswith(":warning: Budget 'team-core-daily' reached 80% of its limit")
    header, section, fields, context = body["blocks"]
    assert header["text"]["text"] == ":warning: Budget warning: team-core-daily"
    assert section["text"]["text"] == budget_alert().message
    texts = [f["text"] for f in fields["fields"]]
    assert "*Spent*\n$40.5" in texts
    assert "*Limit*\n$50" in texts
    assert "*Attribution*\nteam=core, feature=search" in texts
    link = f"<https://jaeger.example.com/trace/{TRACE_ID}|View trace>"
    assert context["elements"][0]["text"].startswith(link)


def test_pagerduty_gets_an_events_v2_trigger_deduplicated_per_budget_kind_and_window(receiver):
    warning = budget_alert()
    exceeded = budget_alert("budget_exceeded", spent_usd=Decimal(50))
    sink = PagerDutySink("R0UT1NGKEY", url=receiver.url("/accepted"), trace_url=TRACE_URL)
    deliver(sink, alerts=[warning, exceeded, exceeded])
    first, second, third = (r.body for r in receiver.on("/accepted"))
    assert first["routing_key"] == "R0UT1NGKEY"
    assert first["event_action"] == "trigger"
    assert first["dedup_key"] == "tokentrail/budget_warning/team-core-daily/2025-03-09T00:00:00Z"
    assert second["dedup_key"] == third["dedup_key"] != first["dedup_key"]
    payload = first["payload"]
    assert payload["severity"] == "warning"
    assert second["payload"]["severity"] == "critical"
    assert payload["summary"] == warning.message
    assert payload["component"] == "team-core-daily"
    assert payload["group"] == "core"
    assert payload["class"] == "budget_warning"
    assert payload["custom_details"]["limit_usd"] == "50"
    assert first["links"] == [
        {"href": TRACE_URL.format(trace_id=TRACE_ID), "text": "Trace of the call"}
    ]


def test_a_server_error_is_retried_a_bounded_number_of_times(receiver):
    dispatcher = deliver(WebhookSink(receiver.url("/fail"), attempts=3, backoff=0.01))
    assert len(receiver.on("/fail")) == 3
    assert dispatcher.stats()["WebhookSink(host='127.0.0.1')"] == {
        "delivered": 0,
        "failed": 1,
        "dropped": 0,
    }


def test_a_rejected_alert_is_not_retried(receiver):
    deliver(WebhookSink(receiver.url("/bad"), attempts=3, backoff=0.01))
    assert len(receiver.on("/bad")) == 1


def test_too_many_requests_is_retried(receiver):
    deliver(WebhookSink(receiver.url("/busy"), attempts=2, backoff=0.01))
    assert len(receiver.on("/busy")) == 2


def test_a_hanging_and_a_failing_sink_do_not_hold_up_the_others(receiver):
    """Firing returns at once; the healthy sinks deliver while the hanging one still waits."""
    called = threading.Event()
    dispatcher = AlertDispatcher(
        [
            WebhookSink(receiver.url("/hang"), timeout=30, attempts=1),
            WebhookSink(receiver.url("/fail"), attempts=2, backoff=0.01),
            SlackSink(receiver.url("/ok")),
            CallbackSink(lambda alert: called.set()),
        ],
        Counter(),
    )
    started = time.monotonic()
    dispatcher.fire(budget_alert())
    fired_in = time.monotonic() - started
    assert receiver.wait_for("/ok", 1)
    assert called.wait(5)
    assert len(receiver.wait_for("/fail", 2)) == 2
    assert receiver.wait_for("/hang", 1)  # still held by the server
    assert not dispatcher.flush(0.05)  # the hanging delivery is still in flight
    assert fired_in < 0.5
    receiver.release.set()
    assert dispatcher.flush(5)


def test_a_hanging_sink_does_not_delay_the_llm_call(receiver):
    fake = FakeOpenAI()
    sink = WebhookSink(receiver.url("/hang"), timeout=30, attempts=1)
    with capture(max_request_cost_usd="0.000001", alert_sinks=[sink]):
        started = time.monotonic()
        fake.client().chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
        elapsed = time.monotonic() - started
        assert receiver.wait_for("/hang", 1)  # the alert is being delivered ...
        assert elapsed < 5  # ... and the call did not wait for it (the server holds it 30 s)
        receiver.release.set()


def test_a_sink_that_raises_is_logged_and_isolated(receiver, caplog):
    def broken(alert: Alert) -> None:
        raise RuntimeError("boom")

    caplog.set_level(logging.WARNING, logger="tokentrail")
    deliver(CallbackSink(broken), WebhookSink(receiver.url("/ok")))
    assert len(receiver.on("/ok")) == 1
    assert any("could not deliver a budget_warning alert" in r.getMessage() for r in caplog.records)


def test_log_sink_logs_critical_alerts_as_errors(caplog):
    caplog.set_level(logging.WARNING, logger="tokentrail.alerts")
    deliver(LogSink(), alerts=[budget_alert(), budget_alert("budget_exceeded")])
    assert [r.levelno for r in caplog.records if r.name == "tokentrail.alerts"] == [
        logging.WARNING,
        logging.ERROR,
    ]


def test_a_full_queue_drops_new_alerts_and_counts_them(monkeypatch):
    from tokentrail.alerts import delivery

    monkeypatch.setattr(delivery, "QUEUE_SIZE", 2)
    gate = threading.Event()
    received: list[Alert] = []

    def slow(alert: Alert) -> None:
        gate.wait(5)
        received.append(alert)

    dispatcher = AlertDispatcher([CallbackSink(slow)], Counter())
    for _ in range(10):
        dispatcher.fire(budget_alert())
    gate.set()
    assert dispatcher.flush(5)
    stats = next(iter(dispatcher.stats().values()))
    assert stats["delivered"] == len(received)
    assert 2 <= stats["delivered"] <= 3  # the queue size, plus one taken before it filled
    assert stats["dropped"] == 10 - stats["delivered"]


def test_close_gives_up_waiting_retries(receiver):
    dispatcher = AlertDispatcher(
        [WebhookSink(receiver.url("/fail"), attempts=5, backoff=30)], Counter()
    )
    dispatcher.fire(budget_alert())
    receiver.wait_for("/fail", 1)
    started = time.monotonic()
    dispatcher.close(timeout=5)
    assert time.monotonic() - started < 2  # not 30 s of backoff
    assert len(receiver.on("/fail")) <= 2


def test_each_alert_is_counted_by_kind_and_severity():
    counter = Counter()
    dispatcher = AlertDispatcher([], counter)
    dispatcher.fire(budget_alert())
    dispatcher.fire(budget_alert("budget_exceeded"))
    assert counter.added == [
        {"tokentrail.alert.kind": "budget_warning", "tokentrail.alert.severity": "warning"},
        {"tokentrail.alert.kind": "budget_exceeded", "tokentrail.alert.severity": "critical"},
    ]


def test_sinks_come_from_the_environment(receiver, monkeypatch):
    env = {
        "TOKENTRAIL_ALERT_WEBHOOK_URL": receiver.url("/ok"),
        "TOKENTRAIL_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/secret",
        "TOKENTRAIL_PAGERDUTY_ROUTING_KEY": "R0UT1NGKEY",
        "TOKENTRAIL_TRACE_URL": TRACE_URL,
    }
    webhook, slack, pagerduty = build_sinks(None, env)
    assert isinstance(webhook, WebhookSink)
    assert isinstance(slack, SlackSink)
    assert isinstance(pagerduty, PagerDutySink)
    assert pagerduty.url == "https://events.pagerduty.com/v2/enqueue"
    assert slack.trace_url == TRACE_URL
    assert "secret" not in repr(slack)  # webhook URLs are secrets
    assert [type(s) for s in build_sinks(None, {})] == [LogSink]

    monkeypatch.setenv("TOKENTRAIL_ALERT_WEBHOOK_URL", receiver.url("/ok"))
    with capture(max_request_cost_usd="0.000001"):
        FakeOpenAI().client().chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
        assert tokentrail.flush(timeout=5)
    (request,) = receiver.on("/ok")
    assert request.body["kind"] == "request_cost"


def test_a_bad_webhook_url_is_a_configuration_error():
    with pytest.raises(tokentrail.ConfigurationError, match="WebhookSink"):
        build_sinks(None, {"TOKENTRAIL_ALERT_WEBHOOK_URL": "hooks.example.com/x"})


def test_alerts_are_frozen_and_serialise_to_json():
    alert = budget_alert()
    with pytest.raises(AttributeError):
        alert.kind = "budget_exceeded"  # type: ignore[misc]
    data = json.loads(json.dumps(alert.to_dict()))
    assert data["window_start"] == "2025-03-09T00:00:00Z"
    assert data["threshold"] == "0.8"
    assert data["message"] == (
        "Budget 'team-core-daily' reached 80% of its limit: $40.5 of $50 (81%) spent this "
        "day window"
    )
