"""Every patched mistralai method, sync and async, plain and streamed, against the fake API:
one span and one counted request per call, usage read from the right place, the SDK's own
result handed back."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from .conftest import CHAT, EMBEDDINGS, FIM, MESSAGES

PLAIN = [
    pytest.param("chat.complete", CHAT, "chat", id="chat"),
    pytest.param("fim.complete", FIM, "text_completion", id="fim"),
    pytest.param("embeddings.create", EMBEDDINGS, "embeddings", id="embeddings"),
]
STREAMED = [
    pytest.param("chat.stream", CHAT, "chat", id="chat"),
    pytest.param("fim.stream", FIM, "text_completion", id="fim"),
]


class Figures(BaseModel):
    quarter: str
    revenue: float


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
    assert attributes["gen_ai.provider.name"] == "mistral_ai"
    assert attributes["server.address"] == "api.mistral.ai"
    assert attributes["server.port"] == 443
    assert attributes["gen_ai.response.model"] == result.model
    assert attributes["gen_ai.response.id"] == result.id
    assert attributes["gen_ai.usage.input_tokens"] == result.usage.prompt_tokens
    assert attributes["gen_ai.usage.output_tokens"] == (result.usage.completion_tokens or 0)
    assert attributes["tokentrail.cost.status"] == "priced"
    assert attributes["gen_ai.usage.cost"] > 0
    assert attributes["gen_ai.request.stream"] is False
    assert instrumented.value("tokentrail.requests") == 1
    assert len(api.fake.requests) == 1


@pytest.mark.parametrize(("method", "kwargs", "operation"), STREAMED)
def test_streamed_call_is_priced_when_drained(api, instrumented, method, kwargs, operation):
    """A stream: the SDK's stream (proxied), every event passed through, one span that ends
    when the stream is drained, with the usage of its last chunk."""
    stream = api.call(method, **kwargs)
    if api.stream_class is not None:
        assert isinstance(stream, api.stream_class)
    assert instrumented.spans() == []  # not over yet

    events = api.drain(stream)

    assert len(events) == 6
    usage = events[-1].data.usage
    span = instrumented.span()
    attributes = span.attributes
    assert span.name == f"{operation} {kwargs['model']}"
    assert attributes["gen_ai.request.stream"] is True
    assert attributes["gen_ai.usage.input_tokens"] == usage.prompt_tokens
    assert attributes["gen_ai.usage.output_tokens"] == usage.completion_tokens
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert attributes["gen_ai.response.id"] == events[0].data.id
    assert attributes["tokentrail.cost.status"] == "priced"
    assert instrumented.value("tokentrail.requests") == 1
    assert instrumented.count("gen_ai.client.operation.time_to_first_chunk") == 1


def test_result_is_the_sdks_own_object(api, instrumented):
    """The caller gets what the SDK returns, untouched."""
    result = api.call("chat.complete", **CHAT)

    assert type(result).__name__ == "ChatCompletionResponse"
    assert result.choices[0].message.content


def test_parse_is_counted_once_through_complete(api, instrumented):
    """``chat.parse`` (structured output) calls ``chat.complete``: one span, one request, and
    the parsed result is the SDK's."""
    if not hasattr(api.client.chat, "parse"):
        pytest.skip("this mistralai has no chat.parse")
    result = api.call("chat.parse", response_format=Figures, **CHAT)

    assert isinstance(result.choices[0].message.parsed, Figures)
    assert len(api.fake.requests) == 1
    assert instrumented.span().name == "chat mistral-small-latest"
    assert instrumented.value("tokentrail.requests") == 1


def test_request_parameters_are_on_the_span(api, instrumented):
    api.call("chat.complete", **CHAT, max_tokens=120, temperature=0.3)

    attributes = instrumented.span().attributes
    assert attributes["gen_ai.request.max_tokens"] == 120
    assert attributes["gen_ai.request.temperature"] == pytest.approx(0.3)
    assert attributes["gen_ai.response.finish_reasons"] in (("stop",), ("length",))


def test_message_models_are_read_like_dicts(api, instrumented):
    """The SDK also takes its own message models: the prompt is read from them (content
    capture and estimates see the same text)."""
    try:
        from mistralai.client.models import UserMessage
    except ImportError:  # 1.x
        from mistralai.models import UserMessage

    api.call("chat.complete", model="mistral-small-latest", messages=[UserMessage(content="Hi!")])

    assert instrumented.span().attributes["tokentrail.cost.status"] == "priced"


def test_the_server_is_the_clients_or_the_calls(api, instrumented):
    """The SDK's default server, a client's ``server_url`` and a call's own ``server_url``:
    the span names the host that was called."""
    api.with_client(server_url=None).call("chat.complete", **CHAT)
    proxy = api.with_client(server_url="https://mistral.internal.example:8443")
    proxy.call("chat.complete", **CHAT)
    api.call("chat.complete", **CHAT, server_url="http://localhost:9000")

    addresses = [
        (s.attributes["server.address"], s.attributes["server.port"]) for s in instrumented.spans()
    ]
    assert addresses == [
        ("api.mistral.ai", 443),
        ("mistral.internal.example", 8443),
        ("localhost", 9000),
    ]
    assert {s.attributes["gen_ai.provider.name"] for s in instrumented.spans()} == {"mistral_ai"}


def test_embeddings_without_a_model_argument(api, instrumented):
    """Where the SDK defaults ``model`` (1.x: mistral-embed), the span still has the model that
    answered."""
    result = api.call("embeddings.create", **EMBEDDINGS)

    assert instrumented.span().attributes["gen_ai.response.model"] == result.model
    assert instrumented.span().attributes["gen_ai.usage.output_tokens"] == 0


def test_capture_content_records_chat_and_fim(api, telemetry):
    import tokentrail

    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        capture_content=True,
    )
    try:
        chat = api.call("chat.complete", **CHAT)
        events = api.drain(api.call("chat.stream", **CHAT))
        api.call("fim.complete", **FIM)
    finally:
        tokentrail.uninstrument()

    plain, streamed, fim = telemetry.spans()
    assert MESSAGES[0]["content"] in plain.attributes["gen_ai.input.messages"]
    assert chat.choices[0].message.content in plain.attributes["gen_ai.output.messages"]
    text = "".join(e.data.choices[0].delta.content for e in events)
    assert text.strip() in streamed.attributes["gen_ai.output.messages"]
    assert FIM["prompt"] in fim.attributes["gen_ai.input.messages"]
    assert FIM["suffix"] in fim.attributes["gen_ai.input.messages"]
