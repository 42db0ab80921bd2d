"""``StreamProxy`` / ``AsyncStreamProxy`` against tiny fake streams and generators: whatever
path a stream takes, its call ends exactly once (one span, one ``response()`` of the
accumulator), with the right outcome; a dropped stream is reported on the finaliser thread,
never inside the garbage collector on the caller's thread."""

from __future__ import annotations

import asyncio
import gc
import threading
import time

import pytest
from opentelemetry.trace import StatusCode

from tokentrail import _background
from tokentrail.attribution import EMPTY
from tokentrail.pricing import PriceBook
from tokentrail.telemetry.emitter import Emitter
from tokentrail.telemetry.records import Request, Response
from tokentrail.telemetry.stream import (
    ActiveStreamProxy,
    AsyncStreamProxy,
    CallStream,
    StreamProxy,
)
from tokentrail.usage import Usage


class Broken(Exception):
    """The stream's own failure (a lost connection)."""


class CallerError(Exception):
    """What the application raises while it reads."""


class FakeStream:
    """An SDK-like sync stream: iteration, ``close()``, ``with``, an extra attribute."""

    def __init__(self, items, fail_after=None):
        self.items = list(items)
        self.fail_after = fail_after
        self.position = 0
        self.closed = 0
        self.response = "http-response"

    def _next(self):
        if self.fail_after is not None and self.position == self.fail_after:
            raise Broken("connection lost")
        if self.position >= len(self.items):
            raise StopIteration
        self.position += 1
        return self.items[self.position - 1]

    def __iter__(self):
        return self

    def __next__(self):
        return self._next()

    def close(self):
        self.closed += 1

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


class FakeAsyncStream(FakeStream):
    def __aiter__(self):
        return self

    async def __anext__(self):
        try:
            return self._next()
        except StopIteration:
            raise StopAsyncIteration from None

    async def close(self):
        self.closed += 1

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        await self.close()


class Accumulator:
    """Counts what it sees; hides items equal to "hidden"."""

    def __init__(self):
        self.items = []
        self.responses = 0

    def add(self, item):
        self.items.append(item)
        return item != "hidden"

    def response(self):
        self.responses += 1
        return Response(Usage(input_tokens=10, output_tokens=len(self.items)), model="m")


@pytest.fixture
def emitter(telemetry):
    return Emitter(
        price_book=PriceBook(),
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
    )


@pytest.fixture
def start(emitter):
    def start_call():
        request = Request("chat", "openai", "unknown-model", stream=True)
        return emitter.start(request, EMPTY), Accumulator()

    return start_call


def collected() -> None:
    """Collect garbage and wait for what the finalisers handed to the finaliser thread."""
    gc.collect()
    assert _background.deferred.wait_idle(time.monotonic() + 5)


def proxy(stream, call, accumulator, activate=None):
    observer = CallStream(call, accumulator)
    if hasattr(stream, "__anext__"):
        return AsyncStreamProxy(stream, observer, activate=activate)
    if activate is not None:
        return ActiveStreamProxy(stream, observer, activate)
    return StreamProxy(stream, observer)


def ended_once(telemetry, accumulator, error=None):
    span = telemetry.span()
    assert accumulator.responses == 1
    if error is None:
        assert span.status.status_code is StatusCode.UNSET
        assert "error.type" not in span.attributes
    else:
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes["error.type"] == error
    return span


ITEMS = ["a", "b", "hidden", "c"]


# -- synchronous proxy ---------------------------------------------------------------------


def test_sync_drained(telemetry, start):
    call, accumulator = start()
    stream = proxy(FakeStream(ITEMS), call, accumulator)

    assert list(stream) == ["a", "b", "c"]
    span = ended_once(telemetry, accumulator)
    assert span.attributes["gen_ai.usage.output_tokens"] == 4
    assert call.time_to_first_chunk is not None
    stream.close()
    with stream:
        pass
    del stream
    collected()
    ended_once(telemetry, accumulator)


def test_sync_proxy_is_transparent(start):
    call, accumulator = start()
    inner = FakeStream(ITEMS)
    stream = proxy(inner, call, accumulator)

    assert isinstance(stream, FakeStream)
    assert stream.response == "http-response"
    assert stream.__wrapped__ is inner
    with stream as opened:
        assert opened is stream
    assert inner.closed == 1


def test_sync_abandoned_then_collected(telemetry, start):
    call, accumulator = start()
    stream = proxy(FakeStream(ITEMS), call, accumulator)
    for _ in stream:
        break
    assert telemetry.spans() == []

    del stream
    collected()

    span = ended_once(telemetry, accumulator)
    assert span.attributes["gen_ai.usage.output_tokens"] == 1


def test_sync_close(telemetry, start):
    call, accumulator = start()
    inner = FakeStream(ITEMS)
    stream = proxy(inner, call, accumulator)
    next(stream)

    stream.close()
    stream.close()

    assert inner.closed == 2
    ended_once(telemetry, accumulator)
    del stream
    collected()
    ended_once(telemetry, accumulator)


@pytest.mark.parametrize("read", [0, 2, 10])
def test_sync_with_block(telemetry, start, read):
    call, accumulator = start()
    stream = proxy(FakeStream(ITEMS), call, accumulator)

    with stream:
        for _, _item in zip(range(read), stream, strict=False):
            pass

    ended_once(telemetry, accumulator)


def test_sync_exception_inside_with_block(telemetry, start):
    call, accumulator = start()
    stream = proxy(FakeStream(ITEMS), call, accumulator)
    error = CallerError("the caller's")

    def use():
        with stream:
            next(stream)
            raise error

    with pytest.raises(CallerError) as raised:
        use()

    assert raised.value is error
    ended_once(telemetry, accumulator, "CallerError")


def test_sync_error_mid_stream(telemetry, start):
    call, accumulator = start()
    stream = proxy(FakeStream(ITEMS, fail_after=2), call, accumulator)

    with pytest.raises(Broken):
        list(stream)
    with pytest.raises(Broken):  # the stream's own behaviour on a second read is kept
        next(stream)

    ended_once(telemetry, accumulator, "Broken")


# -- asynchronous proxy --------------------------------------------------------------------


def test_async_drained_then_closed(telemetry, start):
    call, accumulator = start()
    stream = proxy(FakeAsyncStream(ITEMS), call, accumulator)

    async def main():
        items = [item async for item in stream]
        await stream.close()
        async with stream:
            pass
        return items

    assert asyncio.run(main()) == ["a", "b", "c"]
    ended_once(telemetry, accumulator)


def test_async_proxy_is_transparent(start):
    call, accumulator = start()
    inner = FakeAsyncStream(ITEMS)
    stream = proxy(inner, call, accumulator)

    async def main():
        async with stream as opened:
            assert opened is stream

    asyncio.run(main())
    assert isinstance(stream, FakeAsyncStream)
    assert stream.response == "http-response"
    assert inner.closed == 1


def test_async_abandoned_then_collected(telemetry, start):
    call, accumulator = start()
    stream = proxy(FakeAsyncStream(ITEMS), call, accumulator)

    async def first(chunks):
        async for chunk in chunks:
            return chunk
        return None

    assert asyncio.run(first(stream)) == "a"
    assert telemetry.spans() == []
    del stream
    collected()

    ended_once(telemetry, accumulator)


def test_async_close(telemetry, start):
    call, accumulator = start()
    stream = proxy(FakeAsyncStream(ITEMS), call, accumulator)

    async def main():
        await stream.__anext__()
        await stream.close()
        await stream.close()

    asyncio.run(main())
    ended_once(telemetry, accumulator)


def test_async_exception_inside_with_block(telemetry, start):
    call, accumulator = start()
    stream = proxy(FakeAsyncStream(ITEMS), call, accumulator)
    error = CallerError("the caller's")

    async def main():
        async with stream:
            await stream.__anext__()
            raise error

    with pytest.raises(CallerError) as raised:
        asyncio.run(main())

    assert raised.value is error
    ended_once(telemetry, accumulator, "CallerError")


def test_async_error_mid_stream(telemetry, start):
    call, accumulator = start()
    stream = proxy(FakeAsyncStream(ITEMS, fail_after=1), call, accumulator)

    async def main():
        return [item async for item in stream]

    with pytest.raises(Broken):
        asyncio.run(main())

    ended_once(telemetry, accumulator, "Broken")


# -- generators (google-genai streams) -----------------------------------------------------


def test_generator_drained_closed_and_failed(telemetry, start):
    call, accumulator = start()
    assert list(proxy(iter(ITEMS), call, accumulator)) == ["a", "b", "c"]
    ended_once(telemetry, accumulator)

    telemetry.clear()
    call, accumulator = start()
    generator = proxy((item for item in ITEMS), call, accumulator)
    next(generator)
    generator.close()
    ended_once(telemetry, accumulator)

    telemetry.clear()
    call, accumulator = start()
    with pytest.raises(Broken):
        list(proxy(FakeStream(ITEMS, fail_after=1), call, accumulator))
    ended_once(telemetry, accumulator, "Broken")


def test_generator_runs_with_its_call_current(start):
    """A generator that sends its request inside ``next()`` sees its call as current (so the
    HTTP spans and the per-request reports of google-genai nest under it), and only then."""
    from tokentrail.telemetry.emitter import current_call

    call, accumulator = start()
    seen = []

    def generator():
        for item in ITEMS:
            seen.append(current_call())
            yield item

    stream = proxy(generator(), call, accumulator, activate=call)
    assert list(stream) == ["a", "b", "c"]
    assert seen == [call] * len(ITEMS)
    assert current_call() is None


def test_async_generator_drained_closed_and_failed(telemetry, start):
    async def items(fail=False):
        for item in ITEMS:
            if fail and item == "b":
                raise Broken("lost")
            yield item

    async def drain(generator):
        return [item async for item in generator]

    call, accumulator = start()
    assert asyncio.run(drain(proxy(items(), call, accumulator))) == ["a", "b", "c"]
    ended_once(telemetry, accumulator)

    telemetry.clear()
    call, accumulator = start()

    async def first_then_close():
        generator = proxy(items(), call, accumulator)
        await generator.__anext__()
        await generator.aclose()

    asyncio.run(first_then_close())
    ended_once(telemetry, accumulator)

    telemetry.clear()
    call, accumulator = start()
    with pytest.raises(Broken):
        asyncio.run(drain(proxy(items(fail=True), call, accumulator)))
    ended_once(telemetry, accumulator, "Broken")


# -- finalisers ------------------------------------------------------------------------------


@pytest.mark.parametrize("asynchronous", [False, True])
def test_a_dropped_stream_ends_on_the_finaliser_thread(emitter, telemetry, start, asynchronous):
    """Ending a call takes locks and may export a span: never inside ``__del__`` on the
    caller's thread, where the garbage collector may have interrupted code holding those
    locks (a deadlock) and where a Ctrl-C would be swallowed."""
    threads = []
    emitter.listeners.append(lambda call: threads.append(threading.current_thread().name))
    call, accumulator = start()
    stream = proxy(FakeAsyncStream(ITEMS) if asynchronous else FakeStream(ITEMS), call, accumulator)
    del stream
    gc.collect()
    assert threads in ([], ["tokentrail-finaliser"])
    collected()
    assert threads == ["tokentrail-finaliser"]
    ended_once(telemetry, accumulator)
