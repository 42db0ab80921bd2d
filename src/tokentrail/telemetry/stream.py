"""Streams: pass every item through to the caller, let an observer watch them, and tell it
exactly once that the stream is over — drained, failed, closed, left its ``with`` block, or
dropped by the caller and garbage-collected.

The proxies are ``wrapt.ObjectProxy`` objects, so ``isinstance(stream, openai.Stream)``,
``.response``, ``.close()`` and the SDKs' own stream helpers keep working. They wrap SDK
stream objects and plain generators alike (google-genai streams are generators, which send
their request inside ``next()``: ``activate=`` makes the call current around each ``next()``).

An observer has ``add(item) -> bool`` (look at one item, cheaply: this runs per chunk; False
hides the item from the caller) and ``end(error)`` (once). The usual observer is
``CallStream``: it feeds a per-provider *accumulator* (``add(item) -> bool`` and
``response() -> Response``, what the stream reported once it is over) and ends the call.
Items tokentrail asked for and the caller did not (openai's usage-only chunk) are hidden by a
``hidden`` test of their own, not by the accumulator: a fault in reading an item, or in
watching the stream at all (``filtered``), must not show the caller an item it would not have
got without tokentrail.

A stream the caller dropped is reported from its finaliser, but not *in* it: ``__del__`` runs
wherever the garbage collector happens to run, in the middle of the caller's code, so the
ending is handed to tokentrail's finaliser thread (``_background.defer``), never run there.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Protocol

import wrapt

from .. import _guard
from .._background import defer
from .emitter import Call
from .records import EMPTY_RESPONSE, Response

_CHUNK = _guard.site("stream.chunk", "tokentrail.telemetry.stream:CallStream.read")
_RESPONSE = _guard.site("stream.response", "tokentrail.telemetry.stream:CallStream.response")
_END = _guard.site("stream.end", "tokentrail.telemetry.emitter:Call.end")


#: whether the caller must not see an item
Hidden = Callable[[Any], bool]


class StreamAccumulator(Protocol):
    def add(self, item: Any) -> bool: ...

    def response(self) -> Response: ...


class StreamObserver(Protocol):
    @property
    def ended(self) -> bool: ...

    def add(self, item: Any) -> bool: ...

    def end(self, error: BaseException | None) -> None: ...


class CallStream:
    """The observer of a call's stream: an accumulator reads the items, and the call ends
    with what it reports. ``hidden``: the items the caller must not see (an item tokentrail
    asked for), kept from it whatever becomes of the accumulator."""

    __slots__ = ("accumulator", "call", "hidden")

    def __init__(
        self, call: Call, accumulator: StreamAccumulator, hidden: Hidden | None = None
    ) -> None:
        self.call = call
        self.accumulator = accumulator
        self.hidden = hidden

    @property
    def ended(self) -> bool:
        return self.call.ended

    def add(self, item: Any) -> bool:
        call = self.call
        if call.time_to_first_chunk is None:
            call.first_chunk()
        try:
            shown = self.read(item)
        except Exception as error:
            _guard.report(_CHUNK, error)
            shown = True
        return shown if self.hidden is None else shown and _shown(self.hidden, item)

    def read(self, item: Any) -> bool:
        """The accumulator's look at one item (the guarded part of ``add``)."""
        return self.accumulator.add(item)

    def response(self) -> Response:
        """What the accumulator says the stream reported (the guarded part of ``end``)."""
        return self.accumulator.response()

    def end(self, error: BaseException | None) -> None:
        call = self.call
        if call.ended:
            return
        failure = None
        try:
            response = self.response()
        except Exception as exc:
            failure, response = exc, EMPTY_RESPONSE
        try:
            if error is None:
                call.end(response)
            else:
                call.fail(error, response)
        except Exception as exc:
            _guard.report(_END, exc)
        # reported after the call has ended: strict mode re-raises, and a call left open
        # would be ended a second time when the stream is collected
        if failure is not None:
            _guard.report(_RESPONSE, failure)


class Filter:
    """The observer of a stream whose call is not watched (tokentrail could not read its
    result): it only keeps ``hidden`` items from the caller."""

    __slots__ = ("hidden",)
    ended = True

    def __init__(self, hidden: Hidden) -> None:
        self.hidden = hidden

    def add(self, item: Any) -> bool:
        return _shown(self.hidden, item)

    def end(self, error: BaseException | None) -> None:
        pass


def _shown(hidden: Hidden, item: Any) -> bool:
    try:
        return not hidden(item)
    except Exception as error:
        _guard.report(_CHUNK, error)
        return True


class StreamProxy(wrapt.ObjectProxy):
    """A synchronous stream (``openai.Stream``, ``anthropic.Stream``, a generator) that
    reports itself. ``activate``: the call to make current around each ``next()``."""

    def __init__(self, wrapped: Any, observer: StreamObserver, activate: Call | None = None):
        super().__init__(wrapped)
        self._self_observer = observer
        self._self_activate = activate

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        observer, stream, call = self._self_observer, self.__wrapped__, self._self_activate
        while True:
            try:
                if call is None:
                    item = stream.__next__()
                else:
                    call.activate()
                    try:
                        item = stream.__next__()
                    finally:
                        call.deactivate()
            except StopIteration:
                observer.end(None)
                raise
            except BaseException as exc:
                observer.end(exc)
                raise
            try:
                shown = observer.add(item)
            except BaseException as exc:  # a Ctrl-C while tokentrail looked at the item
                observer.end(exc)
                raise
            if shown:
                return item

    def close(self) -> Any:
        try:
            result = self.__wrapped__.close()
        except BaseException as exc:
            self._self_observer.end(exc)
            raise
        self._self_observer.end(interrupting())
        return result

    def __enter__(self) -> StreamProxy:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(exc_type, exc, tb)
        finally:
            self._self_observer.end(exc)

    def __del__(self) -> None:
        observer = getattr(self, "_self_observer", None)
        if observer is not None and not observer.ended:
            defer(observer.end, None)


class AsyncStreamProxy(wrapt.ObjectProxy):
    """An asynchronous stream (``openai.AsyncStream``, ``anthropic.AsyncStream``, an async
    generator)."""

    def __init__(self, wrapped: Any, observer: StreamObserver, activate: Call | None = None):
        super().__init__(wrapped)
        self._self_observer = observer
        self._self_activate = activate

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        observer, stream, call = self._self_observer, self.__wrapped__, self._self_activate
        while True:
            try:
                if call is None:
                    item = await stream.__anext__()
                else:
                    call.activate()
                    try:
                        item = await stream.__anext__()
                    finally:
                        call.deactivate()
            except StopAsyncIteration:
                observer.end(None)
                raise
            except BaseException as exc:
                observer.end(exc)
                raise
            try:
                shown = observer.add(item)
            except BaseException as exc:  # a Ctrl-C while tokentrail looked at the item
                observer.end(exc)
                raise
            if shown:
                return item

    async def close(self) -> Any:
        return await self._closing(self.__wrapped__.close)

    async def aclose(self) -> Any:
        return await self._closing(self.__wrapped__.aclose)

    async def _closing(self, close: Any) -> Any:
        try:
            result = await close()
        except BaseException as exc:
            self._self_observer.end(exc)
            raise
        self._self_observer.end(interrupting())
        return result

    async def __aenter__(self) -> AsyncStreamProxy:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, tb)
        finally:
            self._self_observer.end(exc)

    def __del__(self) -> None:
        observer = getattr(self, "_self_observer", None)
        if observer is not None and not observer.ended:
            defer(observer.end, None)


def interrupting() -> BaseException | None:
    """The interrupt (Ctrl-C, a cancellation, ``sys.exit``) that the caller's ``finally`` or
    ``except`` block is handling, if any: a stream closed as it unwinds ends with it."""
    error = sys.exc_info()[1]
    return None if error is None or isinstance(error, (Exception, GeneratorExit)) else error


def watch(
    stream: Any,
    call: Call,
    accumulator: StreamAccumulator,
    *,
    asynchronous: bool,
    hidden: Hidden | None = None,
) -> Any:
    """``stream`` (an SDK stream object) as a proxy that ends ``call`` from ``accumulator``
    (and keeps ``hidden`` items from the caller)."""
    proxy = AsyncStreamProxy if asynchronous else StreamProxy
    return proxy(stream, CallStream(call, accumulator, hidden))


def filtered(stream: Any, hidden: Hidden, *, asynchronous: bool) -> Any:
    """``stream`` as a proxy that only keeps ``hidden`` items from the caller."""
    proxy = AsyncStreamProxy if asynchronous else StreamProxy
    return proxy(stream, Filter(hidden))
