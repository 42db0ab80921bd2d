"""Fixtures for the mistralai instrumentor tests: the ``FakeMistral`` server, and ``api``,
which runs the same test body against the sync and the async methods (parametrized; one
``Mistral`` client has both: ``chat.complete`` and ``chat.complete_async``).

The sync/async machinery is ``tests.instrumentation.driver``.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace

from tests.instrumentation.driver import (  # noqa: F401 - fixtures
    SyncOrAsync,
    _collections_skip_what_is_loaded,
    event_loop_for_test,
)
from tokentrail.fakes.mistral import FakeMistral
from tokentrail.testing import Telemetry

MODEL = "mistral-small-latest"
MESSAGES = [{"role": "user", "content": "Summarise the quarterly figures in two sentences."}]
CHAT = {"model": MODEL, "messages": MESSAGES}
FIM = {"model": "codestral-latest", "prompt": "def fibonacci(n):", "suffix": "return a"}
EMBEDDINGS = {"model": "mistral-embed", "inputs": ["first document", "second one"]}
#: the HTTP library of the installed mistralai (httpx2 in 3.x, httpx before)
HTTP = FakeMistral.http()


def _sdk_module(name: str) -> Any:
    """``name`` of the SDK's package: ``mistralai.client`` from 2.x on, ``mistralai`` in 1.x
    (where ``mistralai.client`` is a module of the retired 0.x client, not a package)."""
    try:
        return importlib.import_module(f"mistralai.client.{name}")
    except ImportError:
        return importlib.import_module(f"mistralai.{name}")


try:
    _errors = importlib.import_module("mistralai.client.errors")
except ImportError:  # 1.x
    _errors = importlib.import_module("mistralai.models")
#: the SDK's error for an HTTP error response (4xx/5xx other than 422)
SDKError = _errors.SDKError
#: its error for a 422 (the request did not validate)
HTTPValidationError = _errors.HTTPValidationError
#: mistralai >= 1.9.3 keeps fields its models do not declare, such as
#: ``usage.prompt_tokens_details`` (the prompt-cache reads); older versions drop them
KEEPS_CACHE_READS = _sdk_module("models").UsageInfo.model_config.get("extra") == "allow"
needs_cache_reads = pytest.mark.skipif(
    not KEEPS_CACHE_READS, reason="this mistralai drops usage.prompt_tokens_details (< 1.9.3)"
)
_streams = _sdk_module("utils.eventstreaming")
#: what ``chat.stream`` / ``stream_async`` return: ``EventStream`` / ``EventStreamAsync`` from
#: mistralai 1.5 on, plain (async) generators before
STREAM_CLASSES = (
    getattr(_streams, "EventStream", None),
    getattr(_streams, "EventStreamAsync", None),
)
needs_stream_objects = pytest.mark.skipif(
    STREAM_CLASSES[0] is None,
    reason="this mistralai's streams are generators (no with block; < 1.5)",
)
#: ``close()`` on a stream: later 2.x and 3.x (before, ``with`` closes it)
STREAMS_CLOSE = hasattr(STREAM_CLASSES[0], "close")
needs_close = pytest.mark.skipif(
    not STREAMS_CLOSE, reason="this mistralai's streams have no close()"
)
#: mistralai >= 1.10 traces its own calls through this hook module
try:
    TRACING_HOOK: Any = _sdk_module("_hooks.tracing")
except ImportError:
    TRACING_HOOK = None
needs_native_tracing = pytest.mark.skipif(
    TRACING_HOOK is None, reason="this mistralai has no OpenTelemetry tracing of its own (< 1.10)"
)


@pytest.fixture
def fake() -> FakeMistral:
    """The fake API; streams have 6 content chunks."""
    return FakeMistral(stream_chunks=6)


class Api(SyncOrAsync):
    """One ``Mistral`` client whose calls are made sync or async: ``call("chat.complete")``
    calls ``chat.complete`` or awaits ``chat.complete_async``."""

    def __init__(self, fake: FakeMistral, loop: asyncio.AbstractEventLoop | None, **options):
        super().__init__(loop, fake.client(**options))
        self.fake = fake

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return super().call(method + "_async" if self.asynchronous else method, *args, **kwargs)

    def with_client(self, **options: Any) -> Api:
        """The same flavour with another client of the fake (``server_url=...``)."""
        return Api(self.fake, self.loop, **options)

    @property
    def stream_class(self) -> type | None:
        return STREAM_CLASSES[self.asynchronous]


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest, fake: FakeMistral) -> Api:
    """The sync methods, then the async ones."""
    if request.param == "sync":
        return Api(fake, None)
    return Api(fake, request.getfixturevalue("event_loop_for_test"))


@pytest.fixture
def global_tracer(telemetry: Telemetry) -> Iterator[Telemetry]:
    """``telemetry``'s tracer provider is also the global one, so the SDK's own tracing (where
    it is on) records into the same exporter; the previous global provider is restored."""
    saved = trace._TRACER_PROVIDER, trace._TRACER_PROVIDER_SET_ONCE._done
    trace._TRACER_PROVIDER_SET_ONCE._done = False
    trace.set_tracer_provider(telemetry.tracer_provider)
    yield telemetry
    trace._TRACER_PROVIDER, trace._TRACER_PROVIDER_SET_ONCE._done = saved
