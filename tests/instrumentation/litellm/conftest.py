"""Fixtures for the LiteLLM instrumentor tests: the fake providers LiteLLM is pointed at
(``FakeProviders``: the openai route through a client of ``FakeOpenAI``, the routes that use
LiteLLM's own HTTP code over loopback), and ``api``, which runs the same test body through
``completion``/``embedding`` and through ``acompletion``/``aembedding``.

The sync/async machinery is ``tests.instrumentation.driver``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import litellm
import pytest

from tests.instrumentation.driver import (  # noqa: F401 - fixtures
    SyncOrAsync,
    _collections_skip_what_is_loaded,
)
from tests.instrumentation.litellm.loops import finish_logging
from tokentrail.fakes.litellm import FakeProviders

MESSAGES = [{"role": "user", "content": "Summarise the quarterly figures in two sentences."}]
#: a model of each provider route the tests take, as LiteLLM names it
ROUTES = {
    "openai": "gpt-4o-mini",
    "anthropic": "anthropic/claude-haiku-4-5",
    "gemini": "gemini/gemini-2.5-flash",
    "mistral": "mistral/mistral-small-latest",
}


@pytest.fixture(scope="session")
def _session_loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.run_until_complete(finish_logging())
    # as asyncio.run ends a loop: what is still pending (a logging task LiteLLM left here when
    # a later test's loop took its worker over) is cancelled, not destroyed pending
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()


@pytest.fixture
def event_loop_for_test(_session_loop: asyncio.AbstractEventLoop) -> asyncio.AbstractEventLoop:
    """One event loop for every async LiteLLM test, as an application has one: LiteLLM's
    background logging (a worker task, and its queue) stays on the loop it started on (older
    LiteLLM releases cannot move it to another)."""
    return _session_loop


@pytest.fixture
def providers() -> Iterator[FakeProviders]:
    """The fakes; streams have 8 content chunks."""
    with FakeProviders(stream_chunks=8) as fakes:
        yield fakes


class Api(SyncOrAsync):
    """LiteLLM's functions, sync or async, behind calls that read the same in both cases."""

    def __init__(self, providers: FakeProviders, loop: asyncio.AbstractEventLoop | None):
        super().__init__(loop, litellm)
        self.providers = providers

    def completion(self, *args: Any, **kwargs: Any) -> Any:
        return self.call("acompletion" if self.asynchronous else "completion", *args, **kwargs)

    def embedding(self, *args: Any, **kwargs: Any) -> Any:
        return self.call("aembedding" if self.asynchronous else "embedding", *args, **kwargs)

    def route(self, model: str, **kwargs: Any) -> dict[str, Any]:
        """The arguments that send ``model`` to its fake (the openai route: over loopback)."""
        return self.providers.route(model, **kwargs)

    def openai(self, model: str = ROUTES["openai"], **kwargs: Any) -> dict[str, Any]:
        """The arguments of the openai route with a client of ``FakeOpenAI`` (served as
        ``api.openai.com``, so LiteLLM asks for usage in streams, as it does there)."""
        fake = self.providers.openai
        client = fake.async_client() if self.asynchronous else fake.client()
        return {"model": model, "client": client, "max_retries": 0, **kwargs}

    def close(self, stream: Any) -> None:
        """``CustomStreamWrapper.close()`` is synchronous; ``aclose()`` is its async twin."""
        if self.asynchronous:
            self.wait(stream.aclose())
        else:
            stream.close()


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest, providers: FakeProviders) -> Api:
    """``completion``, then ``acompletion``."""
    if request.param == "sync":
        return Api(providers, None)
    return Api(providers, request.getfixturevalue("event_loop_for_test"))
