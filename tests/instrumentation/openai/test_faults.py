"""What is left of the telemetry when one internal step around an openai call fails
(docs/architecture.md, error zone 2): the other steps still run. That the application sees
nothing of such a fault, at every guarded site, is tests/reliability/test_fault_sites.py."""

from __future__ import annotations

import pytest

from tests.instrumentation.driver import explode, runtime_of
from tokentrail.instrumentation.openai import OpenAIInstrumentor

from .conftest import MESSAGES

EMITTER = "tokentrail.telemetry.emitter"


@pytest.fixture
def runtime(telemetry):
    """Instrumented with an explicit runtime, so that a test can add a listener."""
    with runtime_of(OpenAIInstrumentor, telemetry) as runtime:
        yield runtime


def chat(api, **kwargs):
    return api.call("chat.completions.create", model="gpt-4o-mini", messages=MESSAGES, **kwargs)


def test_failed_span_emission_still_ends_the_span_and_runs_listeners(
    api, telemetry, lenient, monkeypatch, runtime
):
    """A bug in the span attributes must not leave the span open, nor skip the metrics and
    the listeners (budgets would miss the spend)."""
    monkeypatch.setattr(f"{EMITTER}.Call.span_attributes", explode)
    ended = []
    runtime.emitter.listeners.append(ended.append)

    chat(api)

    assert len(telemetry.spans()) == 1
    assert telemetry.value("tokentrail.requests") == 1
    assert len(ended) == 1
    assert ended[0].cost.amount_usd > 0


def test_failed_metric_recording_still_runs_listeners(
    api, telemetry, lenient, monkeypatch, runtime
):
    monkeypatch.setattr(f"{EMITTER}.Emitter.record", explode)
    ended = []
    runtime.emitter.listeners.append(ended.append)

    chat(api)

    assert telemetry.span().attributes["tokentrail.cost.status"] == "priced"
    assert len(ended) == 1


def test_failed_pricing_leaves_the_call_unpriced(api, telemetry, lenient, monkeypatch, runtime):
    monkeypatch.setattr("tokentrail.pricing.book.PriceBook.cost", explode)

    chat(api)

    attributes = telemetry.span().attributes
    assert attributes["tokentrail.cost.status"] == "unpriced"
    assert "gen_ai.usage.cost" not in attributes
    assert attributes["gen_ai.usage.input_tokens"] > 0
