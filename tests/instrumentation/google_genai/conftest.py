"""Fixtures for the google-genai instrumentor tests: the ``FakeGemini`` server and ``gemini``,
which runs one test body against the sync client (``client.models``) and the async one
(``client.aio.models``).

The async flavour drives one event loop per test with ``run_until_complete`` (no
pytest-asyncio): a stream opened in one step and read in the next stays on its loop.

No ``from __future__ import annotations``: older google-genai releases (2.20 for one) cannot
read string annotations on the tool functions (``get_weather``) of automatic function calling.
"""

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import genai_prices
import pytest
from google.genai import types

from tokentrail.fakes.google_genai import FakeGemini

#: features of newer google-genai releases that some tests need
CONTINUATION = "continuation_token" in types.Candidate.model_fields
EMBED_USAGE = "usage_metadata" in types.EmbedContentResponse.model_fields
SERVICE_TIER = "service_tier" in types.GenerateContentConfig.model_fields
needs_continuation = pytest.mark.skipif(
    not CONTINUATION, reason="this google-genai has no automatic continuation"
)
needs_service_tier = pytest.mark.skipif(
    not SERVICE_TIER, reason="this google-genai has no service_tier option"
)
needs_embed_usage = pytest.mark.skipif(
    not EMBED_USAGE, reason="this google-genai drops the usage of embeddings (< 3.1)"
)

MODEL = "gemini-2.5-flash"
PROMPT = "Summarise the quarterly figures in two sentences."


def get_weather(city: str) -> str:
    """The weather in a city (a tool for automatic function calling)."""
    return f"sunny and 21 degrees in {city}"


def genai_prices_cost(response: Any) -> Decimal:
    """What genai-prices says one Gemini response costs (the independent reference)."""
    data = response.model_dump(mode="json", by_alias=True, exclude_none=True)
    return genai_prices.extract_usage(data, provider_id="google").calc_price().total_price


@pytest.fixture
def fake() -> FakeGemini:
    return FakeGemini()


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()


class Gemini:
    """One client of the fake, sync or async, behind calls that read the same in both."""

    def __init__(self, fake: FakeGemini, loop: asyncio.AbstractEventLoop | None, **client: Any):
        self.fake = fake
        self.loop = loop
        self.asynchronous = loop is not None
        self.client = fake.client(**client)
        self.models = self.client.aio.models if self.asynchronous else self.client.models
        self.chats = self.client.aio.chats if self.asynchronous else self.client.chats

    def other(self, **client: Any) -> "Gemini":
        """The same flavour with another client of the fake (``vertexai=True``)."""
        return Gemini(self.fake, self.loop, **client)

    def wait(self, value: Any) -> Any:
        return self.loop.run_until_complete(value) if self.asynchronous else value

    # -- calls -----------------------------------------------------------------------------------

    def generate(self, model: str = MODEL, contents: Any = PROMPT, **kwargs: Any) -> Any:
        return self.wait(self.models.generate_content(model=model, contents=contents, **kwargs))

    def stream(self, model: str = MODEL, contents: Any = PROMPT, **kwargs: Any) -> Any:
        """The stream, not read yet (async: the awaited async generator)."""
        return self.wait(
            self.models.generate_content_stream(model=model, contents=contents, **kwargs)
        )

    def embed(self, model: str = "gemini-embedding-001", contents: Any = PROMPT, **kw: Any):
        return self.wait(self.models.embed_content(model=model, contents=contents, **kw))

    def count_tokens(self, model: str = MODEL, contents: Any = PROMPT) -> Any:
        return self.wait(self.models.count_tokens(model=model, contents=contents))

    def chat(self, model: str = MODEL, **kwargs: Any) -> Any:
        return self.chats.create(model=model, **kwargs)

    def send(self, chat: Any, message: str) -> Any:
        return self.wait(chat.send_message(message))

    def send_stream(self, chat: Any, message: str) -> list[Any]:
        if not self.asynchronous:
            return list(chat.send_message_stream(message))

        async def collect() -> list[Any]:
            return [chunk async for chunk in await chat.send_message_stream(message)]

        return self.wait(collect())

    # -- streams ---------------------------------------------------------------------------------

    def drain(self, stream: Any, into: list[Any] | None = None) -> list[Any]:
        """Read every chunk (into ``into`` as they come, so that they are kept if the
        stream fails)."""
        chunks = [] if into is None else into
        if not self.asynchronous:
            chunks.extend(stream)
            return chunks

        async def collect() -> list[Any]:
            async for chunk in stream:
                chunks.append(chunk)
            return chunks

        return self.wait(collect())

    def raise_while_reading(self, stream: Any, exc: BaseException) -> None:
        """Raise ``exc`` from the body of the caller's loop at the first chunk."""
        if not self.asynchronous:
            for _ in stream:
                raise exc
            return

        async def run() -> None:
            async for _ in stream:
                raise exc

        self.wait(run())

    def take(self, stream: Any, n: int) -> list[Any]:
        """The next ``n`` chunks, leaving the stream open."""
        if not self.asynchronous:
            return [next(stream) for _ in range(n)]

        async def collect() -> list[Any]:
            return [await stream.__anext__() for _ in range(n)]

        return self.wait(collect())

    def close(self, stream: Any) -> None:
        if self.asynchronous:
            self.wait(stream.aclose())
        else:
            stream.close()

    def read_until_break(self, stream: Any, n: int) -> list[Any]:
        """``for chunk in stream: ... break`` after ``n`` chunks, as an application would."""
        chunks: list[Any] = []
        if not self.asynchronous:
            for chunk in stream:
                chunks.append(chunk)
                if len(chunks) == n:
                    break
            return chunks

        async def run() -> list[Any]:
            async for chunk in stream:
                chunks.append(chunk)
                if len(chunks) == n:
                    break
            return chunks

        return self.wait(run())


@pytest.fixture(params=["sync", "async"])
def gemini(request: pytest.FixtureRequest, fake: FakeGemini) -> Gemini:
    """The sync client, then the async one."""
    if request.param == "sync":
        return Gemini(fake, None)
    return Gemini(fake, request.getfixturevalue("loop"))
