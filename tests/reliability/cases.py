"""What the reliability tests need from each provider: one ``Cases`` object per provider in
``tokentrail.instrumentation.providers.PROVIDERS``, as ``CASES`` in
``tests/instrumentation/<provider>/reliability.py`` (a provider without one fails
``test_every_provider_has_reliability_cases``). A new provider adds that one module.

* ``scenarios``: what an application does with the SDK — plain calls, streams read to the
  end, closed early, left in a ``with`` block or dropped, the SDK's stream helpers, calls
  that fail (an HTTP error, a stream cut mid-way, an argument the SDK rejects). Each runs in
  an ``Env`` (sync or async; fakes reset before each use) and returns what the application
  got. The fault-injection test runs every one of them with a fault at every
  guarded site and compares what the application got with what it gets without tokentrail.
* ``call`` and ``fail_next``: one call (or stream) with ``PROMPT``, and how to make it fail in
  each way the billing rule distinguishes (``FAILURE_KINDS``), for the billing, interrupt,
  soak and secrets tests.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections.abc import Callable
from typing import Any, Protocol

from tests.instrumentation.driver import SyncOrAsync, collected
from tokentrail.instrumentation.providers import PROVIDERS

#: every scenario's prompt: the secrets test looks for it in everything exported
PROMPT = "Summarise the Q3 figures of account Zanzibar-7731 in two sentences."

#: the failure kinds of the billing rule (docs/reliability.md, "What a failed call costs")
FAILURE_KINDS = (
    "http_error",  # an error response (4xx/5xx): not billed
    "refused",  # the connection was refused: never sent, not billed
    "read_timeout",  # sent, no answer in time: estimated input
    "dropped",  # a stream whose connection dropped before its first chunk: estimated input
    "cut",  # a stream cut mid-way: estimated from what arrived
)
#: the kinds that fail a stream (the others fail the call itself)
STREAM_FAILURES = ("dropped", "cut")

Loop = asyncio.AbstractEventLoop | None
Scenario = Callable[["Env"], Any]


class Cases(Protocol):
    #: the provider's name in ``PROVIDERS``
    name: str
    #: ``gen_ai.provider.name`` of its calls
    provider: str
    #: the model of ``call``
    model: str
    #: scenario name -> run(env): what the application got (see the module docstring)
    scenarios: dict[str, Scenario]
    #: SDK modules that applications import only after ``instrument()`` (openai 3 imports
    #: its resource modules on first use): the fault test imports them late, as they do
    imported_late: tuple[str, ...]

    def fake(self, **options: Any) -> Any:
        """A fresh fake provider (``latency=``)."""

    def client(self, fake: Any, loop: Loop) -> Any:
        """A client of ``fake``: sync (``loop`` None) or async."""

    def call(self, client: Any, *, stream: bool = False) -> Any:
        """One call with ``PROMPT`` as the SDK returns it: the result, or a stream not read
        yet (an async client's: awaitable)."""

    def fail_next(self, fake: Any, kind: str) -> None:
        """Make the next call fail as ``kind`` (one of ``FAILURE_KINDS``) says;
        ``http_error`` is a 401 whose message quotes the client's API key, as APIs do."""


#: providers whose reliability cases are not written yet (each leaves this set as its
#: ``reliability.py`` lands)
PENDING = frozenset({"bedrock", "mistralai", "litellm"})


def provider_cases() -> dict[str, Cases]:
    """Each installed provider's cases, by provider name."""
    found = {}
    for provider in PROVIDERS:
        if provider.installed() and provider.name not in PENDING:
            module = importlib.import_module(f"tests.instrumentation.{provider.name}.reliability")
            found[provider.name] = module.CASES
    return found


class Env(SyncOrAsync):
    """Where scenarios run: ``loop`` (None: the sync flavour) and the fakes and clients they
    reuse (a new SDK client costs up to tens of milliseconds; a fake that is reset answers
    the same calls with the same answers). ``drain``, ``take``, ``in_block`` as the
    instrumentation tests' driver has them."""

    def __init__(self, loop: Loop = None) -> None:
        super().__init__(loop, None)
        self._made: dict[Any, tuple[Any, Any]] = {}

    def made(self, key: Any, make_fake: Callable[[], Any], make_client: Callable[[Any], Any]):
        """(fake, client) for ``key``: made the first time, the fake reset every time."""
        entry = self._made.get(key)
        if entry is None:
            fake = make_fake()
            entry = self._made[key] = (fake, make_client(fake))
        else:
            entry[0].reset()
        return entry

    def wait(self, value: Any) -> Any:
        """``value``, awaited when it is awaitable (the async flavour's calls; a stream
        manager is not)."""
        return run(self.loop, value)

    run = wait

    def read_then_close(self, stream: Any, n: int) -> list[Any]:
        """``n`` items, then ``close()`` (awaited for an async stream)."""
        items = self.take(stream, n)
        self.wait(stream.close())
        return items

    def read_then_drop(self, stream: Any, n: int) -> list[Any]:
        """``n`` items, then the stream is dropped and collected (an async generator left
        part-way is finalised by its loop)."""
        items = self.take(stream, n)
        del stream
        collected()
        if self.loop is not None:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        return items


def run(loop: Loop, value: Any) -> Any:
    """``value``, awaited on ``loop`` when it is awaitable (the async flavour's calls)."""
    return loop.run_until_complete(value) if inspect.isawaitable(value) else value


def fail_transport(fake: Any, kind: str) -> bool:
    """Arrange the failures every fake makes the same way, with its SDK's HTTP library: a
    refused connection, a read timeout. False for the other kinds."""
    http = fake.http()
    if kind == "refused":
        fake.raise_next(http.ConnectError("connection refused"))
    elif kind == "read_timeout":
        fake.raise_next(http.ReadTimeout("timed out"))
    else:
        return False
    return True


class AppError(Exception):
    """An error of the application's own, raised while it reads a stream."""
