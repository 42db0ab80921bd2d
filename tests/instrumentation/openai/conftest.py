"""Fixtures for the openai instrumentor tests: the ``FakeOpenAI`` server, sync and async
clients, and ``api``, which runs the same test body against both (parametrized).

The sync/async machinery is ``tests.instrumentation.driver``.
"""

from __future__ import annotations

import asyncio
import operator
from typing import Any

import openai.resources.chat.completions
import pytest
from packaging.version import Version

from tests.instrumentation.driver import (  # noqa: F401 - fixtures
    SyncOrAsync,
    _collections_skip_what_is_loaded,
    event_loop_for_test,
)
from tokentrail.fakes.openai import FakeOpenAI

MESSAGES = [{"role": "user", "content": "Summarise the quarterly figures in two sentences."}]
#: the HTTP library of the installed openai (httpx before 3.0, httpx2 since)
HTTP = FakeOpenAI.http()
#: openai >= 3.14 wraps a connection lost mid-stream in ``APIConnectionError``; older
#: versions let the HTTP library's ``ReadError`` through
STREAM_CONNECTION_LOST = (
    openai.APIConnectionError if Version(openai.__version__) >= Version("3.14") else HTTP.ReadError
)
#: before openai 1.92, ``parse`` and ``stream`` of chat completions are on ``client.beta.chat``
_CHAT_HELPERS_IN_BETA = not hasattr(openai.resources.chat.completions.Completions, "parse")


def sdk_path(method: str) -> str:
    """``method`` as the installed openai spells it (``chat.completions.parse`` is
    ``beta.chat.completions.parse`` before 1.92)."""
    helper = method.startswith("chat.completions.") and method.endswith((".parse", ".stream"))
    return "beta." + method if _CHAT_HELPERS_IN_BETA and helper else method


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


class Api(SyncOrAsync):
    """One openai client, sync or async, behind calls that read the same in both cases."""

    def __init__(self, fake: FakeOpenAI, loop: asyncio.AbstractEventLoop | None, client: Any):
        super().__init__(loop, client)
        self.fake = fake

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return super().call(sdk_path(method), *args, **kwargs)

    # -- clients -------------------------------------------------------------------------------

    def with_client(self, **kwargs: Any) -> Api:
        """The same flavour with another client of the fake (``base_url=...``)."""
        make = self.fake.async_client if self.asynchronous else self.fake.client
        return Api(self.fake, self.loop, make(**kwargs))

    def azure(self, **kwargs: Any) -> Api:
        return Api(
            self.fake, self.loop, self.fake.azure_client(asynchronous=self.asynchronous, **kwargs)
        )

    def read_in_block(
        self, stream: Any, *, n: int | None = None, raise_: BaseException | None = None
    ) -> list[Any]:
        """Read ``stream`` inside ``with`` / ``async with`` (``n`` items, or all), then
        raise ``raise_`` inside the block if given."""
        return self.in_block(stream, n=n, raise_=raise_, yields_itself=True)

    def helper_stream(self, method: str, **kwargs: Any) -> tuple[list[Any], Any]:
        """Use a ``.stream()`` helper (``chat.completions.stream``, ``responses.stream``) as
        documented; return its events and ``get_final_completion()``/``get_final_response()``."""
        manager = operator.attrgetter(sdk_path(method))(self.client)(**kwargs)
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


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest, fake: FakeOpenAI) -> Api:
    """The sync client, then the async one."""
    if request.param == "sync":
        return Api(fake, None, fake.client())
    loop = request.getfixturevalue("event_loop_for_test")
    return Api(fake, loop, fake.async_client())
