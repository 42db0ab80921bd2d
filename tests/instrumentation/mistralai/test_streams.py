"""The stream matrix, sync and async: however a ``chat.stream``/``fim.stream`` ends (drained,
abandoned, closed, left in a ``with`` block, failed by the caller or by the network), its call
ends exactly once, with the usage that arrived or an estimate, and the caller sees the SDK's
behaviour unchanged."""

from __future__ import annotations

import pytest
from opentelemetry.trace import StatusCode

from tests.instrumentation.driver import collected

from .conftest import CHAT, FIM, HTTP, STREAMS_CLOSE, needs_close, needs_stream_objects


class Boom(Exception):
    """An application error raised while reading a stream."""


def open_chat(api):
    return api.call("chat.stream", **CHAT)


def assert_one_call(telemetry, status="priced"):
    """Exactly one span and one counted request, with ``status``."""
    span = telemetry.span()
    assert span.attributes["tokentrail.cost.status"] == status
    assert telemetry.value("tokentrail.requests") == 1
    return span


def dropped(api, stream) -> None:
    """Everything else that could end a stream that has ended: close it, then drop it."""
    if STREAMS_CLOSE:
        api.close(stream)
    del stream
    collected()


@needs_stream_objects
def test_wrapped_stream_is_still_the_sdk_stream(api, instrumented):
    """``isinstance`` holds, ``.response`` works, and the ``with`` target is the stream."""
    stream = open_chat(api)

    assert isinstance(stream, api.stream_class)
    assert stream.response.headers["content-type"] == "text/event-stream"
    assert api.in_block(stream, yields_itself=True)
    assert_one_call(instrumented)


@pytest.mark.parametrize("kwargs", [CHAT, FIM], ids=["chat", "fim"])
def test_drained_stream_ends_once(api, instrumented, kwargs):
    """Drained: the call ends with the reported usage; closing and dropping it afterwards
    changes nothing."""
    method = "chat.stream" if "messages" in kwargs else "fim.stream"
    stream = api.call(method, **kwargs)
    events = api.drain(stream)

    span = assert_one_call(instrumented)
    assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert span.attributes["gen_ai.usage.output_tokens"] == events[-1].data.usage.completion_tokens
    assert span.status.status_code is StatusCode.UNSET
    dropped(api, stream)
    assert_one_call(instrumented)


def test_abandoned_stream_ends_when_collected_with_estimated_usage(api, instrumented):
    """The caller stops reading and drops the stream: the call ends when it is collected, its
    usage estimated (the usage never came), its status unset (no error)."""
    stream = open_chat(api)
    api.take(stream, 4)
    assert instrumented.spans() == []

    del stream
    collected()

    span = assert_one_call(instrumented, "estimated")
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes["gen_ai.usage.output_tokens"] == 4
    assert span.attributes["gen_ai.usage.input_tokens"] > 0
    assert span.attributes["gen_ai.usage.cost"] > 0


def test_break_out_of_for_loop_then_drop(api, instrumented):
    """The usual early exit: ``for event in stream: break``."""
    stream = open_chat(api)
    if api.asynchronous:

        async def read_one(events):
            async for _ in events:
                break

        api.wait(read_one(stream))
    else:
        for _ in stream:
            break
    del stream
    collected()

    assert_one_call(instrumented, "estimated")


@needs_close
def test_close_ends_the_call(api, instrumented):
    """``close()`` part-way: the call ends at once (estimated); the response is closed."""
    stream = open_chat(api)
    api.take(stream, 3)

    api.close(stream)

    assert stream.response.is_closed
    assert_one_call(instrumented, "estimated")
    dropped(api, stream)
    assert_one_call(instrumented, "estimated")


@needs_stream_objects
def test_with_block_drained(api, instrumented):
    stream = open_chat(api)

    events = api.in_block(stream)

    assert len(events) == 6
    assert_one_call(instrumented)
    dropped(api, stream)
    assert_one_call(instrumented)


@needs_stream_objects
def test_with_block_left_early_ends_the_call(api, instrumented):
    """Leaving the ``with`` block part-way ends the call there (estimated usage)."""
    stream = open_chat(api)

    events = api.in_block(stream, n=2)

    assert len(events) == 2
    assert stream.response.is_closed
    assert_one_call(instrumented, "estimated")
    dropped(api, stream)
    assert_one_call(instrumented, "estimated")


@needs_stream_objects
def test_caller_exception_inside_with_block(api, instrumented):
    """An exception the caller raises inside ``with``: it propagates unchanged (the same
    object), and the span is ERROR with its ``error.type``."""
    stream = open_chat(api)
    error = Boom("while rendering")

    with pytest.raises(Boom) as raised:
        api.in_block(stream, n=2, raise_=error)

    assert raised.value is error
    span = assert_one_call(instrumented, "estimated")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "Boom"
    assert instrumented.value("tokentrail.requests", {"error.type": "Boom"}) == 1
    dropped(api, stream)
    assert len(instrumented.spans()) == 1


def test_connection_lost_mid_stream(api, instrumented):
    """The connection drops part-way: the HTTP library's read error reaches the caller
    unchanged (the SDK does not wrap it), the span is ERROR with its type, and the usage of
    what arrived is estimated (the model may have run to the end: never a certain $0)."""
    api.fake.break_next_stream(after=3)
    stream = open_chat(api)

    with pytest.raises(HTTP.ReadError) as raised:
        api.drain(stream)

    assert type(raised.value) is HTTP.ReadError
    span = assert_one_call(instrumented, "estimated")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "ReadError"
    assert span.status.description == "ReadError"
    assert span.events == ()  # no exception event: messages may carry secrets
    assert span.attributes["gen_ai.usage.output_tokens"] == 3
    assert span.attributes["gen_ai.usage.cost"] > 0
    assert instrumented.value("tokentrail.requests", {"error.type": "ReadError"}) == 1
    dropped(api, stream)
    assert len(instrumented.spans()) == 1


@needs_stream_objects
def test_connection_lost_inside_with_block(api, instrumented):
    api.fake.break_next_stream(after=2)
    stream = open_chat(api)

    with pytest.raises(HTTP.ReadError):
        api.in_block(stream)

    span = assert_one_call(instrumented, "estimated")
    assert span.attributes["error.type"] == "ReadError"


def test_stream_that_drops_before_its_first_chunk_is_estimated(api, instrumented):
    """The connection drops after the request was answered, before the first event: the
    model may have run, so the input is estimated from the prompt (never a certain $0)."""
    api.fake.break_next_stream(after=0)
    stream = open_chat(api)

    with pytest.raises(HTTP.ReadError):
        api.drain(stream)

    span = instrumented.span()
    assert span.attributes["error.type"] == "ReadError"
    assert span.attributes["tokentrail.cost.status"] == "estimated"
    assert span.attributes["gen_ai.usage.input_tokens"] > 0
    assert span.attributes["gen_ai.usage.output_tokens"] == 0
    assert instrumented.count("gen_ai.client.operation.time_to_first_chunk") == 0
