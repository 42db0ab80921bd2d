"""Fixtures for the anthropic instrumentor tests: the ``FakeAnthropic`` server, and ``api``,
which runs the same test body against the sync and the async client (parametrized).

Clients keep the SDK's default ``open_telemetry`` (its own tracing on, as users get it); the
global tracer provider is the API's no-op one unless a test asks for ``global_tracer``.
The sync/async machinery is ``tests.instrumentation.driver``.
"""

from __future__ import annotations

import asyncio
import operator
from collections.abc import Iterator
from typing import Any

import anthropic._base_client
import pytest
from opentelemetry import trace

from tests.instrumentation.driver import (  # noqa: F401 - fixtures
    SyncOrAsync,
    _collections_skip_what_is_loaded,
    event_loop_for_test,
)
from tokentrail.fakes.anthropic import FakeAnthropic
from tokentrail.testing import Telemetry

MODEL = "claude-haiku-4-5"
MESSAGES = [{"role": "user", "content": "Summarise the quarterly figures in two sentences."}]
REQUEST = {"model": MODEL, "max_tokens": 256, "messages": MESSAGES}
#: the HTTP library of the installed anthropic (httpx before 1.0, httpx2 since)
HTTP = FakeAnthropic.http()
#: anthropic >= 1.14 traces its own calls (``open_telemetry=``) through this hook
NATIVE_TRACING = hasattr(anthropic._base_client, "start_api_call_span")
needs_native_tracing = pytest.mark.skipif(
    not NATIVE_TRACING, reason="this anthropic has no OpenTelemetry tracing of its own (< 1.14)"
)


@pytest.fixture
def fake() -> FakeAnthropic:
    """The fake API; streams have 6 text deltas."""
    return FakeAnthropic(stream_chunks=6)


class Api(SyncOrAsync):
    """One anthropic client, sync or async, behind calls that read the same in both cases."""

    def __init__(self, fake: FakeAnthropic, loop: asyncio.AbstractEventLoop | None, **options):
        client = (fake.async_client if loop is not None else fake.client)(**options)
        super().__init__(loop, client)
        self.fake = fake

    def with_client(self, **options: Any) -> Api:
        """The same flavour with another client of the fake (``open_telemetry=False`` ...)."""
        return Api(self.fake, self.loop, **options)

    def manager(self, method: str, **kwargs: Any) -> Any:
        """A ``stream()`` manager (sync or async: neither is awaited)."""
        return operator.attrgetter(method)(self.client)(**kwargs)

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
