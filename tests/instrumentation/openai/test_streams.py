"""The stream matrix, sync and async: however a stream ends (drained, abandoned, closed, left
in a ``with`` block, failed by the caller or by the network), its call ends exactly once, with
the usage that arrived or an estimate, and the caller sees the SDK's behaviour unchanged."""

from __future__ import annotations

import asyncio
import operator

import openai
import pytest
from opentelemetry.trace import StatusCode

from tests.instrumentation.driver import collected

from .conftest import MESSAGES, STREAM_CONNECTION_LOST, sdk_path

CHAT = {"model": "gpt-4o-mini", "messages": MESSAGES, "stream": True}
RESPONSES = {"model": "gpt-4o-mini", "input": "Summarise the figures.", "stream": True}
SERVER_ERROR = {"error": {"message": "The server had an error processing your request.",
                          "type": "server_error"}}  # fmt: skip


class Boom(Exception):
    """An application error raised while reading a stream."""


def open_chat(api):
    return api.call("chat.completions.create", **CHAT)


def assert_one_call(telemetry, status="priced"):
    """Exactly one span and one counted request, with ``status``."""
    span = telemetry.span()
    assert span.attributes["tokentrail.cost.status"] == status
    assert telemetry.value("tokentrail.requests") == 1
    return span


def test_wrapped_stream_is_still_the_sdk_stream(api, instrumented):
    """``isinstance`` holds, ``.response`` works, and the ``with`` target is the stream."""
    stream = open_chat(api)

    assert isinstance(stream, openai.AsyncStream if api.asynchronous else openai.Stream)
    assert stream.response.headers["content-type"] == "text/event-stream"
    assert api.read_in_block(stream)
    assert_one_call(instrumented)


def test_drained_stream_ends_once(api, instrumented):
    """Drained: the call ends with the reported usage; closing and dropping it afterwards
    changes nothing."""
    stream = open_chat(api)
    chunks = api.drain(stream)

    span = assert_one_call(instrumented)
    assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert span.status.status_code is StatusCode.UNSET
    assert chunks
    api.close(stream)  # everything else that could end it: close, then drop it
    del stream
    collected()
    assert_one_call(instrumented)


@pytest.mark.parametrize(
    "params", [pytest.param(CHAT, id="chat"), pytest.param(RESPONSES, id="responses")]
)
def test_abandoned_stream_ends_when_collected_with_estimated_usage(api, instrumented, params):
    """The caller stops reading and drops the stream: the call ends when it is collected, its
    usage estimated (the usage never came), its status unset (no error)."""
    method = "chat.completions.create" if "messages" in params else "responses.create"
    stream = api.call(method, **params)
    api.take(stream, 6)
    assert instrumented.spans() == []

    del stream
    collected()

    span = assert_one_call(instrumented, "estimated")
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes["gen_ai.usage.output_tokens"] > 0
    assert span.attributes["gen_ai.usage.input_tokens"] > 0
    assert span.attributes["gen_ai.usage.cost"] > 0


def test_break_out_of_for_loop_then_drop(api, instrumented):
    """The usual early exit: ``for chunk in stream: break``."""
    stream = open_chat(api)
    if api.asynchronous:

        async def read_one(chunks):
            async for _ in chunks:
                break

        api.wait(read_one(stream))
    else:
        for _ in stream:
            break
    del stream
    collected()

    assert_one_call(instrumented, "estimated")


def test_close_ends_the_call(api, instrumented):
    """``close()`` part-way: the call ends at once (estimated); the response is closed."""
    stream = open_chat(api)
    api.take(stream, 3)

    api.close(stream)

    assert stream.response.is_closed
    assert_one_call(instrumented, "estimated")
    api.close(stream)  # everything else that could end it: close, then drop it
    del stream
    collected()
    assert_one_call(instrumented, "estimated")


def test_with_block_drained(api, instrumented):
    stream = open_chat(api)

    chunks = api.read_in_block(stream)

    assert chunks
    assert_one_call(instrumented)
    api.close(stream)  # everything else that could end it: close, then drop it
    del stream
    collected()
    assert_one_call(instrumented)


def test_with_block_left_early_ends_the_call(api, instrumented):
    """Leaving the ``with`` block part-way ends the call there (estimated usage)."""
    stream = open_chat(api)

    chunks = api.read_in_block(stream, n=2)

    assert len(chunks) == 2
    assert stream.response.is_closed
    assert_one_call(instrumented, "estimated")
    api.close(stream)  # everything else that could end it: close, then drop it
    del stream
    collected()
    assert_one_call(instrumented, "estimated")


def test_caller_exception_inside_with_block(api, instrumented):
    """An exception the caller raises inside ``with``: it propagates unchanged (the same
    object), and the span is ERROR with its ``error.type``."""
    stream = open_chat(api)
    error = Boom("while rendering")

    with pytest.raises(Boom) as raised:
        api.read_in_block(stream, n=2, raise_=error)

    assert raised.value is error
    span = assert_one_call(instrumented, "estimated")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "Boom"
    assert instrumented.value("tokentrail.requests", {"error.type": "Boom"}) == 1
    api.close(stream)  # everything else that could end it: close, then drop it
    del stream
    collected()
    assert len(instrumented.spans()) == 1


@pytest.fixture
def sdk_errors(api, monkeypatch):
    """The exceptions the SDK stream itself raised (to check that the caller gets them)."""
    raised = []
    cls = openai.AsyncStream if api.asynchronous else openai.Stream
    name = "__anext__" if api.asynchronous else "__next__"
    original = getattr(cls, name)
    if api.asynchronous:

        async def spy(self):
            try:
                return await original(self)
            except StopAsyncIteration:
                raise
            except BaseException as exc:
                raised.append(exc)
                raise

    else:

        def spy(self):
            try:
                return original(self)
            except StopIteration:
                raise
            except BaseException as exc:
                raised.append(exc)
                raise

    monkeypatch.setattr(cls, name, spy)
    return raised


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        pytest.param(None, STREAM_CONNECTION_LOST, id="connection-lost"),
        pytest.param(SERVER_ERROR, openai.APIError, id="error-event"),
    ],
)
def test_error_mid_stream(api, instrumented, sdk_errors, error, expected):
    """The stream fails part-way (the connection drops, or the server sends an error event):
    the SDK's exception reaches the caller unchanged, the span is ERROR with its type, and
    the usage of what arrived is estimated."""
    api.fake.break_next_stream(after=4, error=error)
    stream = open_chat(api)

    with pytest.raises(expected) as raised:
        api.drain(stream)

    assert sdk_errors == [raised.value]
    span = assert_one_call(instrumented, "estimated")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == type(raised.value).__qualname__
    assert span.status.description == type(raised.value).__qualname__
    assert span.events == ()  # no exception event: messages may carry secrets
    assert (
        instrumented.value("tokentrail.requests", {"error.type": type(raised.value).__qualname__})
        == 1
    )
    api.close(stream)  # everything else that could end it: close, then drop it
    del stream
    collected()
    assert len(instrumented.spans()) == 1


def test_error_mid_stream_inside_with_block(api, instrumented, sdk_errors):
    """The same failure inside ``with``: one span, ERROR, the SDK's exception."""
    api.fake.break_next_stream(after=3)
    stream = open_chat(api)

    with pytest.raises(STREAM_CONNECTION_LOST) as raised:
        api.read_in_block(stream)

    assert sdk_errors == [raised.value]
    span = assert_one_call(instrumented, "estimated")
    assert span.attributes["error.type"] == STREAM_CONNECTION_LOST.__qualname__


def test_responses_stream_cut_before_completion(api, instrumented):
    """A Responses stream that drops before ``response.completed``: estimated from deltas,
    with the model and id of ``response.created``."""
    api.fake.break_next_stream(after=6)
    stream = api.call("responses.create", **RESPONSES)

    with pytest.raises(STREAM_CONNECTION_LOST):
        api.drain(stream)

    span = assert_one_call(instrumented, "estimated")
    assert span.attributes["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert span.attributes["gen_ai.response.id"].startswith("resp_")
    assert span.attributes["gen_ai.usage.output_tokens"] == 3  # deltas after 3 set-up events


def test_stream_that_drops_before_its_first_chunk_is_estimated(api, instrumented):
    """The connection drops after the request was answered, before the first chunk: the
    model may have run, so the input is estimated from the prompt (never a certain $0)."""
    api.fake.break_next_stream(after=0)
    stream = open_chat(api)

    with pytest.raises(STREAM_CONNECTION_LOST):
        api.drain(stream)

    span = instrumented.span()
    assert span.attributes["error.type"] == STREAM_CONNECTION_LOST.__qualname__
    assert span.attributes["tokentrail.cost.status"] == "estimated"
    assert span.attributes["gen_ai.usage.input_tokens"] > 0
    assert span.attributes["gen_ai.usage.output_tokens"] == 0
    assert instrumented.count("gen_ai.client.operation.time_to_first_chunk") == 0


def test_stream_helper_left_early_ends_when_dropped(api, instrumented):
    """``chat.completions.stream()`` left part-way: the helper closes the HTTP response, not
    the stream object it wraps, so the call ends when the helper's stream is dropped."""

    def read_two(stream):
        for _, _event in zip(range(2), stream, strict=False):
            pass

    async def read_two_async(manager):
        async with manager as stream:
            async for _ in stream:
                break

    stream_helper = operator.attrgetter(sdk_path("chat.completions.stream"))(api.client)
    manager = stream_helper(model="gpt-4o-mini", messages=MESSAGES)
    if api.asynchronous:
        api.wait(read_two_async(manager))
    else:
        with manager as stream:
            read_two(stream)
        del stream
    del manager
    collected()
    if api.asynchronous:
        # the helper's async generator holds the stream; the event loop finalises it (aclose)
        # on its next turn, as it does for any async generator left part-way
        api.wait(asyncio.sleep(0))
        collected()

    assert_one_call(instrumented, "estimated")
