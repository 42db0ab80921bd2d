"""Fixtures for the openai instrumentor tests: the ``FakeOpenAI`` server, sync and async
clients, and ``api``, which runs the same test body against both (parametrized).

The async twin drives one event loop per test with ``run_until_complete`` (no pytest-asyncio):
a stream opened in one step and read in the next must stay on the loop that opened it.
"""

from __future__ import annotations

import asyncio
import gc
import operator
from collections.abc import Iterator
from typing import Any

import pytest
from genai_prices import data_snapshot

from tokentrail.fakes.openai import FakeOpenAI

MESSAGES = [{"role": "user", "content": "Summarise the quarterly figures in two sentences."}]


@pytest.fixture(scope="session", autouse=True)
def _collections_skip_what_is_loaded() -> Iterator[None]:
    """Stream tests collect garbage on purpose (an abandoned stream ends its call when
    collected); keeping the price data and the SDKs out of those collections makes each
    one take milliseconds instead of a tenth of a second."""
    data_snapshot.get_snapshot()
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


@pytest.fixture
def fake() -> FakeOpenAI:
    """The fake API; streams have 8 content chunks (enough for every test, and quick)."""
    return FakeOpenAI(stream_chunks=8)


@pytest.fixture
def client(fake: FakeOpenAI) -> Any:
    return fake.client()


@pytest.fixture
def async_client(fake: FakeOpenAI) -> Any:
    return fake.async_client()


class Api:
    """One openai client, sync or async, behind calls that read the same in both cases."""

    def __init__(self, fake: FakeOpenAI, loop: asyncio.AbstractEventLoop | None, client: Any):
        self.fake = fake
        self.loop = loop
        self.client = client
        self.asynchronous = loop is not None

    # -- clients -------------------------------------------------------------------------------

    def with_client(self, **kwargs: Any) -> Api:
        """The same flavour with another client of the fake (``base_url=...``)."""
        make = self.fake.async_client if self.asynchronous else self.fake.client
        return Api(self.fake, self.loop, make(**kwargs))

    def azure(self, **kwargs: Any) -> Api:
        return Api(
            self.fake, self.loop, self.fake.azure_client(asynchronous=self.asynchronous, **kwargs)
        )

    # -- calls -----------------------------------------------------------------------------------

    def wait(self, value: Any) -> Any:
        return self.loop.run_until_complete(value) if self.asynchronous else value

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """``call("chat.completions.create", model=...)``: the SDK's result (awaited)."""
        return self.wait(operator.attrgetter(method)(self.client)(*args, **kwargs))

    # -- streams -------------------------------------------------------------------------------

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

    def read_in_block(
        self, stream: Any, *, n: int | None = None, raise_: BaseException | None = None
    ) -> list[Any]:
        """Read ``stream`` inside ``with`` / ``async with`` (``n`` items, or all), then
        raise ``raise_`` inside the block if given."""
        items: list[Any] = []
        if not self.asynchronous:
            with stream as opened:
                assert opened is stream
                for item in opened:
                    items.append(item)
                    if n is not None and len(items) == n:
                        break
                if raise_ is not None:
                    raise raise_
            return items

        async def run() -> list[Any]:
            async with stream as opened:
                assert opened is stream
                async for item in opened:
                    items.append(item)
                    if n is not None and len(items) == n:
                        break
                if raise_ is not None:
                    raise raise_
            return items

        return self.wait(run())

    def helper_stream(self, method: str, **kwargs: Any) -> tuple[list[Any], Any]:
        """Use a ``.stream()`` helper (``chat.completions.stream``, ``responses.stream``) as
        documented; return its events and ``get_final_completion()``/``get_final_response()``."""
        manager = operator.attrgetter(method)(self.client)(**kwargs)
        final = "get_final_response" if method.startswith("responses") else "get_final_completion"
        if not self.asynchronous:
            with manager as stream:
                events = list(stream)
                return events, getattr(stream, final)()

        async def run() -> tuple[list[Any], Any]:
            async with manager as stream:
                events = [event async for event in stream]
                return events, await getattr(stream, final)()

        return self.wait(run())


@pytest.fixture
def event_loop_for_test() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest, fake: FakeOpenAI) -> Api:
    """The sync client, then the async one."""
    if request.param == "sync":
        return Api(fake, None, fake.client())
    loop = request.getfixturevalue("event_loop_for_test")
    return Api(fake, loop, fake.async_client())
