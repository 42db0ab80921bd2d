"""Every patched openai method, sync and async, plain and streamed, against the fake API:
one span and one counted request per call, usage read from the right place, the SDK's own
result handed back."""

from __future__ import annotations

import genai_prices
import openai
import pytest
from pydantic import BaseModel

from tokentrail.instrumentation.openai import extractors

from .conftest import MESSAGES

CHAT = {"model": "gpt-4o-mini", "messages": MESSAGES}
RESPONSES = {"model": "gpt-4o-mini", "input": "Summarise the quarterly figures."}
LEGACY = {"model": "gpt-3.5-turbo-instruct", "prompt": "Say hello to the finance team"}
EMBEDDINGS = {"model": "text-embedding-3-small", "input": ["first document", "second one"]}


class Figures(BaseModel):
    quarter: str
    revenue: float
    growth: bool


PLAIN = [
    pytest.param("chat.completions.create", CHAT, "chat", id="chat"),
    pytest.param(
        "chat.completions.parse", {**CHAT, "response_format": Figures}, "chat", id="chat.parse"
    ),
    pytest.param("completions.create", LEGACY, "text_completion", id="legacy"),
    pytest.param("embeddings.create", EMBEDDINGS, "embeddings", id="embeddings"),
    pytest.param("responses.create", RESPONSES, "chat", id="responses"),
    pytest.param(
        "responses.parse", {**RESPONSES, "text_format": Figures}, "chat", id="responses.parse"
    ),
]

STREAMED = [
    pytest.param("chat.completions.create", CHAT, "chat", id="chat"),
    pytest.param("completions.create", LEGACY, "text_completion", id="legacy"),
    pytest.param("responses.create", RESPONSES, "chat", id="responses"),
]


def usage_of(result):
    """Input and output tokens as the SDK object reports them."""
    usage = result.usage
    if hasattr(usage, "prompt_tokens"):
        return usage.prompt_tokens, getattr(usage, "completion_tokens", 0)
    return usage.input_tokens, usage.output_tokens


@pytest.mark.parametrize(("method", "kwargs", "operation"), PLAIN)
def test_plain_call_has_one_priced_span_and_one_request(
    api, instrumented, method, kwargs, operation
):
    """A non-streamed call: one CLIENT span named after the operation and request model, the
    usage of the SDK's result on it, the call counted once in ``tokentrail.requests``."""
    result = api.call(method, **kwargs)

    span = instrumented.span()
    attributes = span.attributes
    assert span.name == f"{operation} {kwargs['model']}"
    assert attributes["gen_ai.operation.name"] == operation
    assert attributes["gen_ai.response.model"] == result.model
    input_tokens, output_tokens = usage_of(result)
    assert attributes["gen_ai.usage.input_tokens"] == input_tokens
    assert attributes["gen_ai.usage.output_tokens"] == output_tokens
    assert attributes["tokentrail.cost.status"] == "priced"
    assert attributes["gen_ai.usage.cost"] > 0
    assert attributes["gen_ai.request.stream"] is False
    assert instrumented.value("tokentrail.requests") == 1
    assert len(api.fake.requests) == 1


def test_parse_returns_the_parsed_model(api, instrumented):
    """``.parse()`` with a pydantic ``response_format`` still parses (the call is not altered)."""
    chat = api.call("chat.completions.parse", **CHAT, response_format=Figures)
    responses = api.call("responses.parse", **RESPONSES, text_format=Figures)

    assert isinstance(chat.choices[0].message.parsed, Figures)
    assert isinstance(responses.output_parsed, Figures)
    assert len(instrumented.spans()) == 2


@pytest.mark.parametrize(("method", "kwargs", "operation"), STREAMED)
def test_streamed_call_is_priced_when_drained(api, instrumented, method, kwargs, operation):
    """``stream=True``: the SDK's stream class (proxied), every item passed through, one span
    that ends when the stream is drained, with the usage the API sent at the end."""
    stream = api.call(method, **kwargs, stream=True)
    assert isinstance(stream, openai.AsyncStream if api.asynchronous else openai.Stream)
    assert stream.response.status_code == 200
    assert instrumented.spans() == []  # not over yet

    items = api.drain(stream)

    assert items
    span = instrumented.span()
    attributes = span.attributes
    assert span.name == f"{operation} {kwargs['model']}"
    assert attributes["gen_ai.request.stream"] is True
    assert attributes["tokentrail.cost.status"] == "priced"
    assert attributes["gen_ai.usage.input_tokens"] > 0
    assert attributes["gen_ai.usage.output_tokens"] > 0
    assert instrumented.value("tokentrail.requests") == 1
    assert instrumented.count("gen_ai.client.operation.time_to_first_chunk") == 1


def test_responses_stream_usage_is_the_completed_event(api, instrumented):
    """Responses streams: the usage is the ``response.completed`` event's."""
    events = api.drain(api.call("responses.create", **RESPONSES, stream=True))

    completed = [e for e in events if e.type == "response.completed"]
    assert len(completed) == 1
    usage = completed[0].response.usage
    attributes = instrumented.span().attributes
    assert attributes["gen_ai.usage.input_tokens"] == usage.input_tokens
    assert attributes["gen_ai.usage.output_tokens"] == usage.output_tokens
    assert attributes["gen_ai.response.id"] == completed[0].response.id
    assert attributes["gen_ai.response.finish_reasons"] == ("completed",)


@pytest.mark.parametrize(
    ("method", "kwargs"),
    [
        pytest.param("chat.completions.stream", CHAT, id="chat"),
        pytest.param("responses.stream", RESPONSES, id="responses"),
    ],
)
def test_stream_helper_is_counted_once(api, instrumented, method, kwargs):
    """The ``.stream()`` helpers call ``create(stream=True)``: exactly one span and one
    request in the metrics, and the helper's own accumulation still works."""
    events, final = api.helper_stream(method, **kwargs)

    assert events
    assert final.id
    assert len(api.fake.requests) == 1
    span = instrumented.span()
    assert span.attributes["gen_ai.request.stream"] is True
    assert span.attributes["tokentrail.cost.status"] == "priced"
    assert instrumented.value("tokentrail.requests") == 1
    assert instrumented.count("gen_ai.client.operation.duration") == 1


def test_chat_stream_helper_with_structured_output(api, instrumented):
    """``chat.completions.stream(response_format=Model)`` parses the streamed JSON."""
    _, final = api.helper_stream("chat.completions.stream", **CHAT, response_format=Figures)

    assert isinstance(final.choices[0].message.parsed, Figures)
    assert instrumented.span().attributes["gen_ai.usage.output_tokens"] > 0


@pytest.mark.parametrize(
    ("method", "kwargs", "read"),
    [
        pytest.param("chat.completions.with_raw_response.create", CHAT, "chat_response", id="chat"),
        pytest.param(
            "chat.completions.with_raw_response.parse",
            {**CHAT, "response_format": Figures},
            "chat_response",
            id="chat.parse",
        ),
        pytest.param(
            "responses.with_raw_response.create", RESPONSES, "responses_response", id="responses"
        ),
        pytest.param(
            "embeddings.with_raw_response.create", EMBEDDINGS, "embeddings_response", id="embed"
        ),
    ],
)
def test_with_raw_response_records_usage_and_parse_returns_the_same_object(
    api, instrumented, monkeypatch, method, kwargs, read
):
    """``with_raw_response``: the usage is read through ``.parse()``, which the SDK caches, so
    the caller's own ``.parse()`` returns the very object that was read."""
    seen = []
    original = getattr(extractors, read)

    def spy(result, **kw):
        seen.append(result)
        return original(result, **kw)

    monkeypatch.setattr(extractors, read, spy)

    raw = api.call(method, **kwargs)

    parsed = raw.parse()  # synchronous on the async client too (LegacyAPIResponse)
    assert seen == [parsed]
    assert seen[0] is parsed
    assert raw.http_response.status_code == 200
    attributes = instrumented.span().attributes
    assert attributes["gen_ai.usage.input_tokens"] == usage_of(parsed)[0]
    assert attributes["tokentrail.cost.status"] == "priced"


def test_with_streaming_response_keeps_working_and_is_counted_unpriced(api, instrumented):
    """``with_streaming_response``: the body is the caller's to read, so it is not touched; the
    call is counted, unpriced."""
    manager = api.client.chat.completions.with_streaming_response.create(**CHAT)
    if api.asynchronous:

        async def read():
            async with manager as response:
                return await response.parse()

        completion = api.wait(read())
    else:
        with manager as response:
            completion = response.parse()

    assert completion.usage.prompt_tokens > 0
    attributes = instrumented.span().attributes
    assert attributes["tokentrail.cost.status"] == "unpriced"
    assert "gen_ai.usage.cost" not in attributes
    assert "stream_options" not in api.fake.requests[0][1]
    assert instrumented.value("tokentrail.requests", {"tokentrail.cost.status": "unpriced"}) == 1


def test_raw_response_of_a_stream_is_counted_unpriced_and_not_altered(api, instrumented):
    """``with_raw_response.create(stream=True)``: the caller reads the SSE body; nothing is
    injected into the request and the call is counted, unpriced."""
    raw = api.call("chat.completions.with_raw_response.create", **CHAT, stream=True)

    chunks = api.drain(raw.parse())

    assert chunks
    assert "stream_options" not in api.fake.requests[0][1]
    assert instrumented.span().attributes["tokentrail.cost.status"] == "unpriced"


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_azure_reports_its_provider_and_is_priced_by_the_response_model(api, instrumented, stream):
    """``AzureOpenAI``: ``gen_ai.provider.name = azure.ai.openai``; the request names a
    deployment, so the price is genai-prices' azure price of the model that answered."""
    api.fake.deployments["finance-chat"] = "gpt-4o-mini"
    azure = api.azure()

    result = azure.call(
        "chat.completions.create", model="finance-chat", messages=MESSAGES, stream=stream
    )
    if stream:
        azure.drain(result)

    attributes = instrumented.span().attributes
    assert attributes["gen_ai.provider.name"] == "azure.ai.openai"
    assert attributes["server.address"] == "fake-resource.openai.azure.com"
    assert attributes["gen_ai.request.model"] == "finance-chat"
    assert attributes["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert attributes["tokentrail.cost.status"] == "priced"
    expected = genai_prices.calc_price(
        genai_prices.Usage(
            input_tokens=attributes["gen_ai.usage.input_tokens"],
            output_tokens=attributes["gen_ai.usage.output_tokens"],
        ),
        "gpt-4o-mini-2024-07-18",
        provider_id="azure",
    ).total_price
    assert attributes["gen_ai.usage.cost"] == float(expected)
    assert (
        instrumented.value("tokentrail.requests", {"gen_ai.provider.name": "azure.ai.openai"}) == 1
    )
