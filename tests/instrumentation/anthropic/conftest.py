"""Fixtures for the anthropic instrumentor tests: the ``FakeAnthropic`` server, and ``api``,
which runs the same test body against the sync and the async client (parametrized).

Clients keep the SDK's default ``open_telemetry`` (its own tracing on, as users get it); the
global tracer provider is the API's no-op one unless a test asks for ``global_tracer``.
The async twin drives one event loop per test with ``run_until_complete``: a stream opened in
one step and read in the next must stay on the loop that opened it.
"""

from __future__ import annotations

import asyncio
import gc
import operator
from collections.abc import Iterator
from typing import Any

import pytest
from genai_prices import data_snapshot
from opentelemetry import trace

from tokentrail.fakes.anthropic import FakeAnthropic
from tokentrail.testing import Telemetry

MODEL = "claude-haiku-4-5"
MESSAGES = [{"role": "user", "content": "Summarise the quarterly figures in two sentences."}]
REQUEST = {"model": MODEL, "max_tokens": 256, "messages": MESSAGES}


@pytest.fixture(scope="session", autouse=True)
def _collections_skip_what_is_loaded() -> Iterator[None]:
    """Stream tests collect garbage on purpose (a dropped stream ends its call when
    collected); keeping the price data and the SDKs out of those collections keeps them quick."""
    data_snapshot.get_snapshot()
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


@pytest.fixture
def fake() -> FakeAnthropic:
    """The fake API; streams have 6 text deltas."""
    return FakeAnthropic(stream_chunks=6)


class Api:
    """One anthropic client, sync or async, behind calls that read the same in both cases."""

    def __init__(self, fake: FakeAnthropic, loop: asyncio.AbstractEventLoop | None, **options):
        self.fake = fake
        self.loop = loop
        self.asynchronous = loop is not None
        self.client = (fake.async_client if self.asynchronous else fake.client)(**options)

    def with_client(self, **options: Any) -> Api:
        """The same flavour with another client of the fake (``open_telemetry=False`` ...)."""
        return Api(self.fake, self.loop, **options)

    def wait(self, value: Any) -> Any:
        return self.loop.run_until_complete(value) if self.asynchronous else value

    def call(self, method: str, **kwargs: Any) -> Any:
        """``call("messages.create", **REQUEST)``: the SDK's result (awaited)."""
        return self.wait(operator.attrgetter(method)(self.client)(**kwargs))

    def manager(self, method: str, **kwargs: Any) -> Any:
        """A ``stream()`` manager (sync or async: neither is awaited)."""
        return operator.attrgetter(method)(self.client)(**kwargs)

    # -- streams -------------------------------------------------------------------------------

    def drain(self, stream: Any) -> list[Any]:
        if not self.asynchronous:
            return list(stream)

        async def collect() -> list[Any]:
            return [item async for item in stream]

        return self.wait(collect())

    def take(self, stream: Any, n: int) -> list[Any]:
        """The next ``n`` items, leaving the stream open."""
        if not self.asynchronous:
            return [next(stream) for _ in range(n)]

        async def collect() -> list[Any]:
            return [await stream.__anext__() for _ in range(n)]

        return self.wait(collect())

    def close(self, stream: Any) -> None:
        self.wait(stream.close())

    def in_block(
        self, opener: Any, *, n: int | None = None, raise_: BaseException | None = None
    ) -> list[Any]:
        """Enter ``opener`` (a stream, or a ``stream()`` manager) with ``with``/``async with``,
        read ``n`` items (or all), then raise ``raise_`` inside the block if given."""
        items: list[Any] = []
        if not self.asynchronous:
            with opener as opened:
                for item in opened:
                    items.append(item)
                    if n is not None and len(items) == n:
                        break
                if raise_ is not None:
                    raise raise_
            return items

        async def run() -> list[Any]:
            async with opener as opened:
                async for item in opened:
                    items.append(item)
                    if n is not None and len(items) == n:
                        break
                if raise_ is not None:
                    raise raise_
            return items

        return self.wait(run())

    def final_message(self, method: str = "messages.stream", **kwargs: Any) -> Any:
        """``with client.messages.stream(...) as s: s.get_final_message()``, as documented."""
        manager = self.manager(method, **kwargs)
        if not self.asynchronous:
            with manager as stream:
                return stream.get_final_message()

        async def run() -> Any:
            async with manager as stream:
                return await stream.get_final_message()

        return self.wait(run())


@pytest.fixture
def event_loop_for_test() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest, fake: FakeAnthropic) -> Api:
    """The sync client, then the async one."""
    if request.param == "sync":
        return Api(fake, None)
    return Api(fake, request.getfixturevalue("event_loop_for_test"))


@pytest.fixture
def global_tracer(telemetry: Telemetry) -> Iterator[Telemetry]:
    """``telemetry``'s tracer provider is also the global one, so the anthropic SDK's own
    tracing records (into the same exporter); the previous global provider is restored."""
    saved = trace._TRACER_PROVIDER, trace._TRACER_PROVIDER_SET_ONCE._done
    trace._TRACER_PROVIDER_SET_ONCE._done = False
    trace.set_tracer_provider(telemetry.tracer_provider)
    yield telemetry
    trace._TRACER_PROVIDER, trace._TRACER_PROVIDER_SET_ONCE._done = saved
