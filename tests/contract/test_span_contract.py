"""The span contract, for every provider (parametrised over tests/contract/scenarios.py): kind,
name, scope; every attribute that is known and nothing else, none set to None; attribution
keys; ``gen_ai.request.stream``; no content unless asked for, and then input and output
messages."""

from __future__ import annotations

import json

import pytest
from opentelemetry.trace import SpanKind, StatusCode

import tokentrail
from tokentrail.instrumentation.providers import PROVIDERS

from .scenarios import PROMPT, scenarios

SCENARIOS = scenarios()


@pytest.fixture(params=sorted(SCENARIOS))
def scenario(request):
    return SCENARIOS[request.param]


def test_every_provider_has_a_contract_scenario():
    assert set(SCENARIOS) == {p.name for p in PROVIDERS if p.installed()}


def _instrumented_calls(telemetry, scenario, *, capture_content=False, attribution=None, **call):
    fake = scenario.fake()
    client = scenario.client(fake)
    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        capture_content=capture_content,
    )
    try:
        with tokentrail.attribute(**(attribution or {})):
            return scenario.call(client, **call)
    finally:
        tokentrail.uninstrument()


def no_none(attributes) -> None:
    assert [key for key, value in attributes.items() if value is None] == []


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_kind_name_scope_and_status(telemetry, scenario, stream):
    _instrumented_calls(telemetry, scenario, stream=stream)

    span = telemetry.span()
    assert span.kind is SpanKind.CLIENT
    assert span.name == f"{scenario.operation} {scenario.model}"
    assert span.instrumentation_scope.name == "tokentrail"
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes["gen_ai.operation.name"] == scenario.operation
    assert span.attributes["gen_ai.provider.name"] == scenario.provider
    assert span.attributes["gen_ai.request.stream"] is stream
    no_none(span.attributes)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_every_known_attribute_is_set_and_nothing_else(telemetry, scenario, stream):
    """A call whose request and usage carry everything: every attribute that is known is on
    the span, with its value, and nothing else (no content)."""
    _instrumented_calls(
        telemetry,
        scenario,
        stream=stream,
        max_tokens=500,
        temperature=0.2,
        attribution={
            "feature": "search",
            "team": "core",
            "endpoint": "/ask",
            "user_id": "u-42",
            "tenant": "acme",
        },
    )

    attributes = telemetry.span().attributes
    no_none(attributes)
    assert set(attributes) | set(getattr(scenario, "unreported", ())) == {
        "gen_ai.operation.name",
        "gen_ai.provider.name",
        "gen_ai.request.model",
        "gen_ai.request.max_tokens",
        "gen_ai.request.temperature",
        "gen_ai.request.stream",
        "gen_ai.response.model",
        "gen_ai.response.id",
        "gen_ai.response.finish_reasons",
        *scenario.usage,
        "gen_ai.usage.cost",
        "tokentrail.cost.status",
        "tokentrail.pricing.source",
        "server.address",
        "server.port",
        "tokentrail.feature",
        "tokentrail.team",
        "tokentrail.endpoint",
        "user.id",
        "tokentrail.tenant",
    }
    assert attributes["gen_ai.request.model"] == scenario.model
    assert attributes["gen_ai.request.max_tokens"] == 500
    assert attributes["gen_ai.request.temperature"] == 0.2
    assert attributes["gen_ai.response.finish_reasons"] == scenario.finish_reasons
    for name, value in scenario.usage.items():
        assert attributes[name] == value, name
    assert attributes["gen_ai.usage.cost"] > 0
    assert attributes["tokentrail.cost.status"] == "priced"
    assert attributes["tokentrail.pricing.source"].startswith("genai-prices ")
    assert (attributes["server.address"], attributes["server.port"]) == scenario.server
    assert attributes["tokentrail.feature"] == "search"
    assert attributes["tokentrail.team"] == "core"
    assert attributes["tokentrail.endpoint"] == "/ask"
    assert attributes["user.id"] == "u-42"
    assert attributes["tokentrail.tenant"] == "acme"


def test_a_failed_call_is_an_error_span_without_the_message(telemetry, scenario):
    fake = scenario.fake()
    client = scenario.client(fake)
    expected = scenario.fail_next(fake)
    with _Instrumented(telemetry), pytest.raises(expected):
        scenario.call(client)

    span = telemetry.span()
    name = expected.__qualname__
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == name
    assert span.attributes["error.type"] == name
    assert span.events == ()
    assert "gen_ai.usage.input_tokens" not in span.attributes


class _Instrumented:
    def __init__(self, telemetry) -> None:
        self.telemetry = telemetry

    def __enter__(self) -> None:
        tokentrail.instrument(
            tracer_provider=self.telemetry.tracer_provider,
            meter_provider=self.telemetry.meter_provider,
        )

    def __exit__(self, *exc_info) -> None:
        tokentrail.uninstrument()


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_no_content_is_recorded_by_default(telemetry, scenario, stream):
    result = _instrumented_calls(telemetry, scenario, stream=stream)

    attributes = telemetry.span().attributes
    assert "gen_ai.input.messages" not in attributes
    assert "gen_ai.output.messages" not in attributes
    text = scenario.output_text(result)
    for value in attributes.values():
        assert "quarterly" not in str(value)
        assert not text or text not in str(value)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_capture_content_records_input_and_output_messages(telemetry, scenario, stream):
    """With ``capture_content=True``: ``gen_ai.input.messages`` and ``gen_ai.output.messages``
    as the semconv JSON (role and parts)."""
    result = _instrumented_calls(telemetry, scenario, stream=stream, capture_content=True)

    attributes = telemetry.span().attributes
    inputs = json.loads(attributes["gen_ai.input.messages"])
    outputs = json.loads(attributes["gen_ai.output.messages"])
    assert inputs[-1]["role"] == "user"
    assert inputs[-1]["parts"] == [{"type": "text", "content": PROMPT}]
    assert outputs[0]["role"] == "assistant"
    text = "".join(part.get("content", "") for part in outputs[0]["parts"])
    assert text.strip()
    assert text == scenario.output_text(result)
