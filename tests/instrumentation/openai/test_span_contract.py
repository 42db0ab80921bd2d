"""The span contract of DESIGN §3 for openai calls: kind, name, scope, the attributes (every
one that is known, none set to None), attribution keys and content capture."""

from __future__ import annotations

import json
import operator

import pytest
from opentelemetry.trace import SpanKind, StatusCode

import tokentrail
from tokentrail.fakes.openai import FakeOpenAI

from .conftest import MESSAGES

#: a chat-shaped usage with every subset the API reports
USAGE = {
    "prompt_tokens": 1800,
    "completion_tokens": 400,
    "total_tokens": 2200,
    "prompt_tokens_details": {"cached_tokens": 1024, "cache_write_tokens": 256},
    "completion_tokens_details": {"reasoning_tokens": 128},
}


def no_none(attributes) -> None:
    assert [key for key, value in attributes.items() if value is None] == []


@pytest.mark.parametrize(
    ("method", "kwargs", "operation"),
    [
        pytest.param(
            "chat.completions.create",
            {"model": "gpt-4o", "messages": MESSAGES},
            "chat",
            id="chat",
        ),
        pytest.param(
            "responses.create", {"model": "gpt-4o", "input": "hi"}, "chat", id="responses"
        ),
        pytest.param(
            "embeddings.create",
            {"model": "text-embedding-3-small", "input": "hi"},
            "embeddings",
            id="embeddings",
        ),
        pytest.param(
            "completions.create",
            {"model": "gpt-3.5-turbo-instruct", "prompt": "hi"},
            "text_completion",
            id="legacy",
        ),
    ],
)
def test_span_kind_name_scope_and_operation(api, instrumented, method, kwargs, operation):
    """Kind CLIENT, name ``"{operation} {request model}"``, scope ``tokentrail``, status unset
    on success, and no attribute written as None."""
    api.call(method, **kwargs)

    span = instrumented.span()
    assert span.kind is SpanKind.CLIENT
    assert span.name == f"{operation} {kwargs['model']}"
    assert span.instrumentation_scope.name == "tokentrail"
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes["gen_ai.operation.name"] == operation
    assert span.attributes["gen_ai.provider.name"] == "openai"
    no_none(span.attributes)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_every_known_attribute_is_set(telemetry, stream):
    """A chat call whose request and usage carry everything: every DESIGN §3 attribute that is
    known is on the span, and nothing else (no content)."""
    fake = FakeOpenAI(usage=USAGE)
    client = fake.client()
    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    try:
        with tokentrail.attribute(
            feature="search", team="core", endpoint="/ask", user_id="u-42", tenant="acme"
        ):
            result = client.chat.completions.create(
                model="gpt-4o",
                messages=MESSAGES,
                max_tokens=500,
                temperature=0.2,
                stream=stream,
            )
        if stream:
            list(result)
    finally:
        tokentrail.uninstrument()

    attributes = telemetry.span().attributes
    no_none(attributes)
    assert set(attributes) == {
        "gen_ai.operation.name",
        "gen_ai.provider.name",
        "gen_ai.request.model",
        "gen_ai.request.max_tokens",
        "gen_ai.request.temperature",
        "gen_ai.request.stream",
        "gen_ai.response.model",
        "gen_ai.response.id",
        "gen_ai.response.finish_reasons",
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.cache_creation.input_tokens",
        "gen_ai.usage.reasoning.output_tokens",
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
    assert attributes["gen_ai.request.stream"] is stream
    assert attributes["gen_ai.request.max_tokens"] == 500
    assert attributes["gen_ai.request.temperature"] == 0.2
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert attributes["gen_ai.usage.input_tokens"] == 1800
    assert attributes["gen_ai.usage.output_tokens"] == 400
    assert attributes["gen_ai.usage.cache_read.input_tokens"] == 1024
    assert attributes["gen_ai.usage.cache_creation.input_tokens"] == 256
    assert attributes["gen_ai.usage.reasoning.output_tokens"] == 128
    assert attributes["tokentrail.pricing.source"].startswith("genai-prices ")
    assert attributes["server.address"] == "api.openai.com"
    assert attributes["server.port"] == 443
    assert attributes["tokentrail.feature"] == "search"
    assert attributes["tokentrail.team"] == "core"
    assert attributes["tokentrail.endpoint"] == "/ask"
    assert attributes["user.id"] == "u-42"
    assert attributes["tokentrail.tenant"] == "acme"


@pytest.mark.parametrize(
    ("method", "kwargs", "expected"),
    [
        pytest.param(
            "chat.completions.create",
            {"model": "gpt-4o", "messages": MESSAGES, "max_tokens": 300},
            300,
            id="chat-max_tokens",
        ),
        pytest.param(
            "chat.completions.create",
            {"model": "o4-mini", "messages": MESSAGES, "max_completion_tokens": 700},
            700,
            id="chat-max_completion_tokens",
        ),
        pytest.param(
            "responses.create",
            {"model": "gpt-4o", "input": "hi", "max_output_tokens": 250},
            250,
            id="responses-max_output_tokens",
        ),
        pytest.param(
            "completions.create",
            {"model": "gpt-3.5-turbo-instruct", "prompt": "hi", "max_tokens": 64},
            64,
            id="legacy-max_tokens",
        ),
        pytest.param(
            "chat.completions.create", {"model": "gpt-4o", "messages": MESSAGES}, None, id="absent"
        ),
    ],
)
def test_request_max_tokens(api, instrumented, method, kwargs, expected):
    """``gen_ai.request.max_tokens`` comes from ``max_tokens``/``max_completion_tokens``
    (chat) and ``max_output_tokens`` (responses); absent when the request has none."""
    api.call(method, **kwargs)

    assert instrumented.span().attributes.get("gen_ai.request.max_tokens") == expected


def test_stream_attribute_is_a_bool(api, instrumented):
    """``gen_ai.request.stream`` is a bool on every call: False when not streamed."""
    api.call("chat.completions.create", model="gpt-4o", messages=MESSAGES)
    api.drain(api.call("chat.completions.create", model="gpt-4o", messages=MESSAGES, stream=True))

    assert [s.attributes["gen_ai.request.stream"] for s in instrumented.spans()] == [False, True]


def test_no_content_is_recorded_by_default(api, instrumented):
    """Message content is never recorded unless ``capture_content=True``."""
    api.call("chat.completions.create", model="gpt-4o", messages=MESSAGES)
    api.drain(api.call("responses.create", model="gpt-4o", input="secret plans", stream=True))

    for span in instrumented.spans():
        assert "gen_ai.input.messages" not in span.attributes
        assert "gen_ai.output.messages" not in span.attributes
        assert not any("quarterly" in str(v) for v in span.attributes.values())


@pytest.mark.parametrize(
    ("method", "kwargs"),
    [
        pytest.param("chat.completions.create", {"messages": MESSAGES}, id="chat"),
        pytest.param(
            "chat.completions.create", {"messages": MESSAGES, "stream": True}, id="chat-stream"
        ),
        pytest.param("responses.create", {"input": MESSAGES}, id="responses"),
        pytest.param(
            "responses.create", {"input": MESSAGES, "stream": True}, id="responses-stream"
        ),
    ],
)
def test_capture_content_records_input_and_output_messages(telemetry, fake, method, kwargs):
    """With ``capture_content=True`` the span has ``gen_ai.input.messages`` and
    ``gen_ai.output.messages`` (semconv JSON: role and parts)."""
    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        capture_content=True,
    )
    try:
        result = operator.attrgetter(method)(fake.client())(model="gpt-4o", **kwargs)
        if kwargs.get("stream"):
            list(result)
    finally:
        tokentrail.uninstrument()

    attributes = telemetry.span().attributes
    inputs = json.loads(attributes["gen_ai.input.messages"])
    outputs = json.loads(attributes["gen_ai.output.messages"])
    assert inputs == [
        {"role": "user", "parts": [{"type": "text", "content": MESSAGES[0]["content"]}]}
    ]
    assert outputs[0]["role"] == "assistant"
    assert outputs[0]["parts"][0]["type"] == "text"
    assert outputs[0]["parts"][0]["content"].strip()


def test_capture_content_of_legacy_completions_and_embeddings(telemetry, fake):
    """Legacy completions: the prompt(s) and the completion text; embeddings: the inputs
    (a batch of strings is a batch of user messages)."""
    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        capture_content=True,
    )
    try:
        client = fake.client()
        completion = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Say hi")
        client.embeddings.create(model="text-embedding-3-small", input=["first", "second"])
        client.embeddings.create(model="text-embedding-3-small", input=[[101, 2023]])
    finally:
        tokentrail.uninstrument()

    legacy, embeddings, token_ids = (s.attributes for s in telemetry.spans())
    assert json.loads(legacy["gen_ai.output.messages"]) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": completion.choices[0].text}],
            "finish_reason": "length",
        }
    ]
    assert json.loads(embeddings["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "first"}]},
        {"role": "user", "parts": [{"type": "text", "content": "second"}]},
    ]
    assert "gen_ai.input.messages" not in token_ids
