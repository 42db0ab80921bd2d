"""What the provider test suites share: a driver that runs the same test body against an SDK's
sync and async client, and the fixtures behind it.

The async twin drives one event loop per test with ``run_until_complete`` (no pytest-asyncio):
a stream opened in one step and read in the next must stay on the loop that opened it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import operator
import time
from collections.abc import Iterator
from typing import Any

import pytest
from genai_prices import data_snapshot


class SyncOrAsync:
    """An SDK client, sync or async, behind calls that read the same in both cases."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None, client: Any) -> None:
        self.loop = loop
        self.client = client
        self.asynchronous = loop is not None

    def wait(self, value: Any) -> Any:
        return self.loop.run_until_complete(value) if self.loop is not None else value

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """``call("chat.completions.create", model=...)``: the SDK's result (awaited)."""
        return self.wait(operator.attrgetter(method)(self.client)(*args, **kwargs))

    def drain(self, stream: Any) -> list[Any]:
        if not self.asynchronous:
            return list(stream)

        async def collect() -> list[Any]:
            return [item async for item in stream]

        return self.wait(collect())

    def take(self, stream: Any, n: int) -> list[Any]:
        """The next ``n`` items (``next()`` / ``anext()``), leaving the stream open."""
        if not self.asynchronous:
            return [next(stream) for _ in range(n)]

        async def collect() -> list[Any]:
            return [await stream.__anext__() for _ in range(n)]

        return self.wait(collect())

    def close(self, stream: Any) -> None:
        self.wait(stream.close())

    def in_block(
        self,
        opener: Any,
        *,
        n: int | None = None,
        raise_: BaseException | None = None,
        yields_itself: bool = False,
    ) -> list[Any]:
        """Enter ``opener`` (a stream, or a stream manager) with ``with``/``async with``, read
        ``n`` items (or all), then raise ``raise_`` inside the block if given.
        ``yields_itself``: check that entering a stream gives the stream itself."""
        items: list[Any] = []
        if not self.asynchronous:
            with opener as opened:
                assert not yields_itself or opened is opener
                for item in opened:
                    items.append(item)
                    if n is not None and len(items) == n:
                        break
                if raise_ is not None:
                    raise raise_
            return items

        async def run() -> list[Any]:
            async with opener as opened:
                assert not yields_itself or opened is opener
                async for item in opened:
                    items.append(item)
                    if n is not None and len(items) == n:
                        break
                if raise_ is not None:
                    raise raise_
            return items

        return self.wait(run())


@pytest.fixture
def event_loop_for_test() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()


@pytest.fixture(scope="session", autouse=True)
def _collections_skip_what_is_loaded() -> Iterator[None]:
    """Stream tests collect garbage on purpose (a dropped stream ends its call when
    collected); keeping the price data and the SDKs out of those collections makes each one
    take milliseconds instead of a tenth of a second."""
    data_snapshot.get_snapshot()
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


def collected() -> None:
    """Collect garbage, then wait until the calls of the streams it dropped are reported
    (that happens on tokentrail's finaliser thread, not inside the collector)."""
    from tokentrail import _background

    gc.collect()
    assert _background.deferred.wait_idle(time.monotonic() + 10), "finaliser thread stuck"


def record_raised(monkeypatch: pytest.MonkeyPatch, cls: type, asynchronous: bool) -> list:
    """Spy on ``cls.request`` (the SDK client's request machinery): the list fills with the
    exceptions it raised, as it raised them."""
    raised: list[BaseException] = []
    original = cls.request
    if asynchronous:

        async def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return await original(self, *args, **kwargs)
            except Exception as exc:
                raised.append(exc)
                raise

    else:

        def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return original(self, *args, **kwargs)
            except Exception as exc:
                raised.append(exc)
                raise

    monkeypatch.setattr(cls, "request", spy)
    return raised


class InjectedFault(Exception):
    """The error fault-injection tests put into one of tokentrail's internal steps."""


def explode(*args: Any, **kwargs: Any) -> Any:
    raise InjectedFault("injected")


@contextlib.contextmanager
def runtime_of(instrumentor_cls: type, telemetry: Any) -> Iterator[Any]:
    """``instrumentor_cls`` instrumented with an explicit runtime on ``telemetry``'s
    providers, so that a test can reach the runtime (add a listener, say)."""
    from tokentrail.runtime import Runtime

    runtime = Runtime(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    instrumentor = instrumentor_cls()
    instrumentor.instrument(runtime=runtime)
    try:
        yield runtime
    finally:
        instrumentor.uninstrument()
        runtime.close()
