"""The error policy with google-genai: the SDK's errors pass through unchanged and mark the
span; tokentrail's own faults never change what the application gets; a budget refusal is
raised before anything is sent."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from google.genai import errors, types
from opentelemetry.trace import StatusCode

import tokentrail
from tokentrail import _guard
from tokentrail.budgets.admission import Admission
from tokentrail.fakes.google_genai import FakeGemini
from tokentrail.instrumentation.google_genai import extractors
from tokentrail.instrumentation.google_genai.patch import GenerateContent, RequestLog
from tokentrail.instrumentation.google_genai.streams import ChunkAccumulator
from tokentrail.pricing import PriceBook
from tokentrail.runtime import Runtime

from .conftest import Gemini, get_weather


@pytest.mark.parametrize(
    ("status", "error"), [(400, errors.ClientError), (429, errors.ClientError),
                          (500, errors.ServerError), (503, errors.ServerError)]
)  # fmt: skip
def test_sdk_errors_propagate_unchanged_and_mark_the_span(gemini, instrumented, status, error):
    gemini.fake.fail_next(status)
    with pytest.raises(error) as raised:
        gemini.generate()

    assert type(raised.value) is error
    assert raised.value.code == status
    assert raised.value.message == f"fake error {status}"
    span = instrumented.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == error.__qualname__  # never the message
    assert span.attributes["error.type"] == error.__qualname__
    assert instrumented.value("tokentrail.requests", {"error.type": error.__qualname__}) == 1


def test_an_sdk_validation_error_before_sending_propagates(gemini, instrumented):
    with pytest.raises(ValueError, match="raw HTTP response"):
        gemini.drain(
            gemini.stream(config=types.GenerateContentConfig(should_return_http_response=True))
        )
    assert gemini.fake.requests == []
    assert instrumented.span().attributes["error.type"] == "ValueError"


def test_a_budget_refusal_is_raised_before_anything_is_sent(gemini, instrumented, monkeypatch):
    refusal = tokentrail.BudgetExceededError("team-core", Decimal(5), Decimal(5))

    def refuse(self: Runtime, request: Any, attribution: Any) -> Admission:
        return Admission(refusal=refusal)

    monkeypatch.setattr(Runtime, "admit", refuse)
    with pytest.raises(tokentrail.BudgetExceededError) as raised:
        gemini.generate()
    assert raised.value is refusal
    with pytest.raises(tokentrail.BudgetExceededError):
        gemini.stream()  # refused at the call, before a generator exists

    assert gemini.fake.requests == []
    assert [s.attributes["error.type"] for s in instrumented.spans()] == [
        "BudgetExceededError",
        "BudgetExceededError",
    ]


# -- fault injection -------------------------------------------------------------------------

FAULTS = {
    "request": (extractors, "endpoint_of"),
    "prepare": (GenerateContent, "prepare"),
    "tier": (extractors, "request_tier"),
    "usage": (extractors, "usage_of"),
    "response": (extractors, "generate_response"),
    "log.open": (RequestLog, "open"),
    "log.settle": (RequestLog, "settle"),
    "chunk": (ChunkAccumulator, "add"),
    "stream.response": (ChunkAccumulator, "response"),
    "pricing": (PriceBook, "cost"),
}
STREAM_ONLY = {"chunk", "stream.response"}
PLAIN_ONLY = {"response"}
#: only calls that may call functions keep a log (the others take the fast path); only a
#: config has a tier to read (the calls that have one here are those with functions)
FUNCTIONS_ONLY = {"log.open", "log.settle", "tier"}


def _run(gemini: Gemini, scenario: str) -> Any:
    """What the application gets, as comparable data."""
    ignored = {"sdk_http_response", "response_id", "automatic_function_calling_history"}
    config = types.GenerateContentConfig(tools=[get_weather]) if "afc" in scenario else None
    if scenario.endswith("stream"):
        chunks = gemini.drain(gemini.stream(config=config))
        return [chunk.model_dump(exclude=ignored) for chunk in chunks]
    return gemini.generate(config=config).model_dump(exclude=ignored)


@pytest.mark.parametrize(
    ("fault", "scenario"),
    [
        (fault, scenario)
        for fault in FAULTS
        for scenario in ("plain", "stream", "afc", "afc-stream")
        if not (fault in STREAM_ONLY and not scenario.endswith("stream"))
        and not (fault in PLAIN_ONLY and scenario.endswith("stream"))
        and not (fault in FUNCTIONS_ONLY and "afc" not in scenario)
    ],
)
def test_an_internal_fault_leaves_the_result_identical(
    loop, telemetry, lenient, monkeypatch, fault, scenario
):
    """Sync then async: the same result with a fault injected as without instrumentation."""
    for flavour_loop in (None, loop):
        expected = _run(Gemini(FakeGemini(), flavour_loop), scenario)

        owner, name = FAULTS[fault]
        with monkeypatch.context() as patched:

            def broken(*args: Any, **kwargs: Any) -> Any:
                raise RuntimeError(f"injected fault in {fault}")

            patched.setattr(owner, name, broken)
            _guard.reset()
            tokentrail.instrument(
                tracer_provider=telemetry.tracer_provider,
                meter_provider=telemetry.meter_provider,
            )
            try:
                got = _run(Gemini(FakeGemini(), flavour_loop), scenario)
            finally:
                tokentrail.uninstrument()

        assert got == expected
        assert sum(_guard.error_counts.values()) > 0, "the fault was never reached"


def test_without_a_request_log_each_request_reports_itself_once(
    gemini, instrumented, lenient, monkeypatch
):
    """If the user call's log could not be made, its requests become ordinary child calls:
    still counted once each, and the user's span carries none of them."""

    def broken(config: Any) -> None:
        raise RuntimeError("injected fault")

    monkeypatch.setattr(extractors, "request_tier", broken)
    gemini.fake.tool_rounds = 1
    gemini.generate(config=types.GenerateContentConfig(tools=[get_weather]))

    spans = instrumented.spans()
    (parent,) = [s for s in spans if s.parent is None]
    children = [s for s in spans if s.parent is not None]
    assert len(children) == 2
    assert "tokentrail.cost.status" not in parent.attributes
    assert all(c.attributes["tokentrail.cost.status"] == "priced" for c in children)
    assert instrumented.value("tokentrail.requests") == 2
