"""Streams end their call exactly once, however the caller leaves them, for both ways to
stream: ``messages.create(stream=True)`` (an ``anthropic.Stream`` of raw events) and the
``messages.stream()`` helper (whose request is sent in ``__enter__``). A stream left before
``message_delta`` reports what arrived: the exact input and cache counts of
``message_start`` and, for output, the text deltas seen, priced as ``estimated``."""

from __future__ import annotations

import anthropic
import pytest
from anthropic.lib.streaming import (
    AsyncMessageStream,
    AsyncMessageStreamManager,
    MessageStream,
    MessageStreamManager,
)
from opentelemetry.trace import StatusCode

from tests.instrumentation.driver import collected
from tokentrail import names as sc
from tokentrail.fakes.anthropic import OVERLOADED_EVENT
from tokentrail.telemetry.stream import StreamProxy

from .conftest import HTTP, REQUEST

KINDS = ["create", "stream"]


class AppError(Exception):
    pass


def open_stream(api, kind: str, method: str = "messages"):
    """``create(stream=True)`` (sent now) or a ``stream()`` manager (sent when entered)."""
    if kind == "create":
        return api.call(f"{method}.create", **REQUEST, stream=True)
    return api.manager(f"{method}.stream", **REQUEST)


def assert_partial(span, *, deltas: int) -> None:
    """The span of a stream left after ``deltas`` text deltas, before ``message_delta``."""
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] > 1
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == deltas
    assert span.attributes[sc.TOKENTRAIL_COST_STATUS] == "estimated"
    assert sc.GEN_AI_RESPONSE_FINISH_REASONS not in span.attributes


@pytest.mark.parametrize("kind", KINDS)
def test_a_drained_stream_ends_once_with_its_final_usage(instrumented, api, kind):
    opener = open_stream(api, kind)
    events = api.drain(opener) if kind == "create" else api.in_block(opener)

    span = instrumented.span()
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes[sc.TOKENTRAIL_COST_STATUS] == "priced"
    final = next(e for e in events if e.type == "message_delta")
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == final.usage.output_tokens
    if kind == "create":
        api.close(opener)  # closing again changes nothing
    collected()
    assert len(instrumented.spans()) == 1
    assert instrumented.value(sc.METRIC_REQUESTS) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_breaking_out_inside_with_ends_the_call_on_exit(instrumented, api, kind):
    items = api.in_block(open_stream(api, kind), n=4)

    span = instrumented.span()
    assert span.status.status_code is StatusCode.UNSET
    deltas = sum(1 for e in items if e.type == "content_block_delta")
    assert_partial(span, deltas=deltas)


def test_a_stream_broken_out_of_and_dropped_ends_when_collected(instrumented, api):
    stream = open_stream(api, "create")
    api.take(stream, 4)  # message_start, content_block_start, two text deltas
    assert instrumented.spans() == []

    del stream
    collected()
    assert_partial(instrumented.span(), deltas=2)


def test_a_stream_helper_entered_and_dropped_ends_when_collected(instrumented, api):
    manager = open_stream(api, "stream")
    stream = api.wait(manager.__aenter__() if api.asynchronous else manager.__enter__())
    api.take(stream, 3)  # message_start, content_block_start, the first text delta
    assert instrumented.spans() == []

    del stream, manager
    collected()
    assert_partial(instrumented.span(), deltas=1)


def test_closing_a_stream_part_way_ends_the_call(instrumented, api):
    stream = open_stream(api, "create")
    api.take(stream, 3)  # message_start, content_block_start, the first text delta
    api.close(stream)

    assert_partial(instrumented.span(), deltas=1)


def test_closing_a_stream_helper_part_way_ends_the_call(instrumented, api):
    manager = open_stream(api, "stream")
    if api.asynchronous:

        async def run():
            async with manager as stream:
                for _ in range(3):
                    await stream.__anext__()
                await stream.close()

        api.wait(run())
    else:
        with manager as stream:
            api.take(stream, 3)
            stream.close()

    assert_partial(instrumented.span(), deltas=1)


@pytest.mark.parametrize(
    ("cut", "raised"),
    [
        pytest.param(OVERLOADED_EVENT, anthropic.APIStatusError, id="error-event"),
        pytest.param(None, HTTP.ReadError, id="connection-lost"),
    ],
)
@pytest.mark.parametrize("kind", KINDS)
def test_a_stream_cut_mid_way_fails_the_call_and_keeps_what_arrived(
    instrumented, api, fake, kind, cut, raised
):
    fake.break_next_stream(after=5, error=cut)  # message_start, ping, block start, 2 deltas
    opener = open_stream(api, kind)

    with pytest.raises(raised) as caught:
        api.drain(opener) if kind == "create" else api.in_block(opener)

    error_type = type(caught.value).__qualname__
    span = instrumented.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == error_type
    assert_partial(span, deltas=2)
    assert instrumented.value(sc.METRIC_REQUESTS, {sc.ERROR_TYPE: error_type}) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_an_exception_inside_with_fails_the_call_and_propagates(instrumented, api, kind):
    with pytest.raises(AppError):
        api.in_block(open_stream(api, kind), n=4, raise_=AppError("the app gave up"))

    span = instrumented.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == "AppError"
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] > 1


def test_streams_are_still_the_sdks_stream_classes(instrumented, api):
    stream = open_stream(api, "create")
    assert isinstance(stream, anthropic.AsyncStream if api.asynchronous else anthropic.Stream)
    api.drain(stream)

    manager = open_stream(api, "stream")
    expected = AsyncMessageStreamManager if api.asynchronous else MessageStreamManager
    assert isinstance(manager, expected)

    async def enter_async():
        async with manager as stream:
            assert type(stream) is AsyncMessageStream
            assert (await stream.get_final_text()).strip()

    if api.asynchronous:
        api.wait(enter_async())
    else:
        with manager as stream:
            assert type(stream) is MessageStream
            assert "".join(stream.text_stream).strip()
            assert stream.current_message_snapshot.usage.output_tokens > 1
    assert len(instrumented.spans()) == 2


def test_the_beta_stream_helper_returns_the_beta_message_stream(instrumented, api):
    if not hasattr(anthropic.resources.beta.messages.Messages, "stream"):
        pytest.skip("beta.messages.stream() came with anthropic 0.43")
    from anthropic.lib.streaming import BetaAsyncMessageStream, BetaMessageStream

    manager = open_stream(api, "stream", method="beta.messages")

    async def enter_async():
        async with manager as stream:
            assert type(stream) is BetaAsyncMessageStream
            return await stream.get_final_message()

    if api.asynchronous:
        final = api.wait(enter_async())
    else:
        with manager as stream:
            assert type(stream) is BetaMessageStream
            final = stream.get_final_message()
    assert instrumented.span().attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == (
        final.usage.output_tokens
    )


def test_a_stream_consumed_after_the_call_keeps_its_span_unended_until_read(instrumented, api):
    stream = open_stream(api, "create")
    assert instrumented.spans() == []
    api.drain(stream)
    assert len(instrumented.spans()) == 1


def test_the_private_attribute_the_stream_helper_relies_on_is_there(instrumented, fake):
    """Fails loudly when an anthropic release renames ``MessageStream._raw_stream``: calls
    through ``stream()`` would then still be counted, but unpriced."""
    with fake.client().messages.stream(**REQUEST) as stream:
        assert isinstance(stream._raw_stream, StreamProxy)
        assert isinstance(stream._raw_stream, anthropic.Stream)
        stream.until_done()
    assert instrumented.span().attributes[sc.TOKENTRAIL_COST_STATUS] == "priced"
