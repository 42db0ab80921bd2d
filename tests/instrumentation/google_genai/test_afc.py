"""Calls that send several model requests: automatic function calling (AFC), automatic
continuation, chats. Each request is billed once, on a child span of the user's call, whose
own span carries no usage; the metrics count every request once; nothing is counted twice.
One request stays one span.

No ``from __future__ import annotations`` here: older google-genai releases (2.20 for one)
cannot read the string annotations it makes on the tool functions."""

import itertools
from decimal import Decimal
from typing import Any

import genai_prices
import pytest
from google.genai import errors, types
from opentelemetry import trace
from opentelemetry.trace import StatusCode

from .conftest import MODEL, get_weather, needs_continuation

REQUESTS = "tokentrail.requests"
TOKENS = "tokentrail.tokens"
WEATHER = types.GenerateContentConfig(tools=[get_weather])


@pytest.fixture
def answers(fake, monkeypatch) -> list[dict[str, Any]]:
    """The bodies the fake answered with, in order (the final one of each stream)."""
    bodies: list[dict[str, Any]] = []
    generate_body = fake.generate_body

    def recording(*args: Any, **kwargs: Any) -> dict[str, Any]:
        body = generate_body(*args, **kwargs)
        bodies.append(body)
        return body

    monkeypatch.setattr(fake, "generate_body", recording)
    return bodies


def _cost(body: dict[str, Any]) -> Decimal:
    return genai_prices.extract_usage(body, provider_id="google").calc_price().total_price


def _usage_attributes(span) -> set[str]:
    return {k for k in span.attributes if k.startswith(("gen_ai.usage", "tokentrail.cost"))}


def _parent_and_children(telemetry) -> tuple[Any, list[Any]]:
    spans = telemetry.spans()
    (parent,) = [s for s in spans if s.parent is None]
    children = sorted(
        (s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id),
        key=lambda s: s.start_time,
    )
    return parent, children


def _assert_billed_per_request(telemetry, answers: list[dict[str, Any]]) -> None:
    parent, children = _parent_and_children(telemetry)
    assert len(children) == len(answers)
    assert _usage_attributes(parent) == set()
    for child, body in zip(children, answers, strict=True):
        usage = body["usageMetadata"]
        assert child.name == parent.name == f"generate_content {MODEL}"
        assert child.attributes["gen_ai.usage.input_tokens"] == usage["promptTokenCount"]
        assert child.attributes["gen_ai.usage.output_tokens"] == (
            usage["candidatesTokenCount"] + usage.get("thoughtsTokenCount", 0)
        )
        assert Decimal(str(child.attributes["gen_ai.usage.cost"])) == _cost(body)
        assert parent.start_time <= child.start_time <= child.end_time <= parent.end_time
    assert all(c.end_time <= n.start_time for c, n in itertools.pairwise(children))
    assert telemetry.value(REQUESTS) == len(answers)
    assert telemetry.count("gen_ai.client.operation.duration") == len(answers)
    assert telemetry.value(TOKENS, {"gen_ai.token.type": "input"}) == sum(
        b["usageMetadata"]["promptTokenCount"] for b in answers
    )
    assert telemetry.value("tokentrail.cost.usd") == pytest.approx(
        float(sum(_cost(b) for b in answers))
    )


def test_afc_with_two_tool_rounds_bills_three_requests(gemini, fake, answers, instrumented):
    fake.tool_rounds = 2
    response = gemini.generate(contents="Weather in Paris, then in Rome?", config=WEATHER)

    assert len(fake.requests) == 3
    # the SDK returns only the last request's usage: reading it alone would miss two thirds
    assert (
        response.usage_metadata.prompt_token_count
        == answers[-1]["usageMetadata"]["promptTokenCount"]
    )
    _assert_billed_per_request(instrumented, answers)
    parent, children = _parent_and_children(instrumented)
    assert parent.attributes["gen_ai.response.finish_reasons"] == ("STOP",)
    assert parent.status.status_code is StatusCode.UNSET
    assert [c.attributes.get("gen_ai.response.id") for c in children] == [
        b["responseId"] for b in answers
    ]


def test_afc_in_a_stream_bills_each_requests_last_running_total(
    gemini, fake, answers, instrumented
):
    fake.tool_rounds = 2
    chunks = gemini.drain(gemini.stream(contents="Weather in Paris, then Rome?", config=WEATHER))

    assert len(fake.requests) == 3
    assert chunks
    _assert_billed_per_request(instrumented, answers)
    _, children = _parent_and_children(instrumented)
    assert all(c.attributes["tokentrail.cost.status"] == "priced" for c in children)


@needs_continuation
def test_continuation_bills_each_hop_once(gemini, fake, answers, instrumented):
    """The SDK sums the hops into the response: tokentrail counts each hop, not the sum too."""
    fake.continuation_hops = 2
    response = gemini.generate()

    assert len(fake.requests) == 2
    assert response.usage_metadata.prompt_token_count == sum(
        b["usageMetadata"]["promptTokenCount"] for b in answers
    )
    _assert_billed_per_request(instrumented, answers)


@needs_continuation
def test_a_continued_stream_is_never_counted_twice(gemini, fake, answers, instrumented):
    """Continued streams carry running sums over the hops: each hop is read on its own."""
    fake.continuation_hops = 3
    chunks = gemini.drain(gemini.stream())

    assert len(fake.requests) == 3
    assert chunks[-1].usage_metadata.prompt_token_count == sum(
        b["usageMetadata"]["promptTokenCount"] for b in answers
    )
    _assert_billed_per_request(instrumented, answers)


@pytest.mark.parametrize("hops", [1, pytest.param(3, marks=needs_continuation)])
def test_every_request_of_a_stream_is_sent_under_its_call(gemini, fake, instrumented, hops):
    """HTTP client spans nest under the user's call: its span is current whenever the SDK
    sends a request, an automatic continuation's (sent while the stream is read) too."""
    fake.continuation_hops = hops
    current: list[int] = []
    record = fake._record

    def recording(path: str, body: dict[str, Any]) -> Any:
        current.append(trace.get_current_span().get_span_context().span_id)
        return record(path, body)

    fake._record = recording
    gemini.drain(gemini.stream())

    parent, _ = _parent_and_children(instrumented)
    assert current == [parent.context.span_id] * hops


def test_a_failing_second_request_fails_the_call_and_keeps_the_first(
    gemini, fake, answers, instrumented
):
    def get_weather_then_fail(city: str) -> str:
        """The weather in a city; the provider fails the next request."""
        fake.fail_next(500)
        return f"sunny in {city}"

    config = types.GenerateContentConfig(tools=[get_weather_then_fail])
    with pytest.raises(errors.ServerError):
        gemini.generate(contents="Weather in Paris?", config=config)

    parent, (first, second) = _parent_and_children(instrumented)
    assert parent.status.status_code is StatusCode.ERROR
    assert parent.attributes["error.type"] == "ServerError"
    assert _usage_attributes(parent) == set()
    assert first.status.status_code is StatusCode.UNSET
    assert Decimal(str(first.attributes["gen_ai.usage.cost"])) == _cost(answers[0])
    assert second.attributes["error.type"] == "ServerError"
    assert "gen_ai.usage.input_tokens" not in second.attributes
    assert instrumented.value(REQUESTS) == 2
    assert instrumented.value(REQUESTS, {"error.type": "ServerError"}) == 1


def test_a_gemini_call_inside_a_tool_is_its_own_call(gemini, fake, answers, instrumented):
    def lookup(city: str) -> str:
        """Looks a city up (with another model call)."""
        inner = gemini.client.models.generate_content(model="gemini-2.0-flash", contents=city)
        return inner.text

    gemini.generate(contents="Tell me about Paris", config=types.GenerateContentConfig(
        tools=[lookup]
    ))  # fmt: skip

    parent, children = _parent_and_children(instrumented)
    inner = [c for c in children if c.attributes["gen_ai.request.model"] == "gemini-2.0-flash"]
    outer = [c for c in children if c.attributes["gen_ai.request.model"] == MODEL]
    assert len(inner) == 1
    assert len(outer) == 2
    assert _usage_attributes(parent) == set()
    assert inner[0].attributes["tokentrail.cost.status"] == "priced"
    assert instrumented.value(REQUESTS) == 3


def test_a_chat_turn_is_one_call(gemini, instrumented):
    chat = gemini.chat()
    gemini.send(chat, "Hello!")
    gemini.send(chat, "And again.")
    gemini.send_stream(chat, "Stream this one.")

    spans = instrumented.spans()
    assert len(spans) == 3
    assert all(s.parent is None for s in spans)
    assert [s.attributes["gen_ai.request.stream"] for s in spans] == [
        False,
        False,
        True,
    ]
    assert all(s.attributes["tokentrail.cost.status"] == "priced" for s in spans)
    assert instrumented.value(REQUESTS) == 3


def test_a_chat_turn_with_afc_counts_every_request_once(gemini, fake, answers, instrumented):
    """Chats run AFC themselves, one ``generate_content`` per request: one span each (in older
    releases, 2.0 for one, they leave AFC to ``generate_content``: one user call, one span per
    request under it)."""
    fake.tool_rounds = 2
    chat = gemini.chat(config=WEATHER)
    gemini.send(chat, "Weather in Paris, then in Rome?")

    spans = [s for s in instrumented.spans() if "gen_ai.usage.input_tokens" in s.attributes]
    assert len(fake.requests) == len(spans) == 3
    assert [s.attributes["gen_ai.usage.input_tokens"] for s in spans] == [
        b["usageMetadata"]["promptTokenCount"] for b in answers
    ]
    assert [Decimal(str(s.attributes["gen_ai.usage.cost"])) for s in spans] == [
        _cost(b) for b in answers
    ]
    assert instrumented.value(REQUESTS) == 3
