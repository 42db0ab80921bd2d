"""Streams: pass every item through to the caller, let an observer watch them, and tell it
exactly once that the stream is over — drained, failed, closed, left its ``with`` block, or
dropped by the caller and garbage-collected.

The proxies are ``wrapt.ObjectProxy`` objects, so ``isinstance(stream, openai.Stream)``,
``.response``, ``.close()`` and the SDKs' own stream helpers keep working. They wrap SDK
stream objects and plain generators alike (google-genai streams are generators, which send
their request inside ``next()``: ``activate=`` makes the call current around each ``next()``).

An observer has ``add(item) -> bool`` (look at one item, cheaply: this runs per chunk; False
hides the item from the caller), ``started()`` (the first item arrived) and ``end(error)``
(once). The usual observer is ``CallStream``: a per-provider *accumulator* (``add(item) ->
bool`` and ``response() -> Response``, what the stream reported once it is over) reads the
items, and the call ends with what it reports.

A stream the caller dropped is reported from its finaliser, but not *in* it: ``__del__`` runs
wherever the garbage collector happens to run, in the middle of the caller's code, so the
ending is handed to tokentrail's finaliser thread (``_background.defer``), never run there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol

import wrapt

from .. import _guard
from .._background import defer
from .emitter import Call
from .records import EMPTY_RESPONSE, Response

_CHUNK = _guard.site("stream.chunk", None)
_RESPONSE = _guard.site("stream.response", None)
_END = _guard.site("stream.end", None)


class StreamAccumulator(Protocol):
    def add(self, item: Any) -> bool: ...

    def response(self) -> Response: ...


class StreamObserver(Protocol):
    """What a stream proxy reports to: ``add`` (per item; False hides it), ``started`` (the
    first item arrived), ``end`` (once: the stream is over), ``ended``."""

    @property
    def ended(self) -> bool: ...

    def add(self, item: Any) -> bool: ...

    def started(self) -> None: ...

    def end(self, error: BaseException | None) -> None: ...


class CallStream:
    """The observer of a call's stream: an accumulator reads the items (its ``add`` is the
    observer's, so that a chunk costs one call), and the call ends with what it reports."""

    __slots__ = ("accumulator", "add", "call", "started")

    def __init__(self, call: Call, accumulator: StreamAccumulator) -> None:
        self.call = call
        self.accumulator = accumulator
        self.add = accumulator.add
        self.started = call.first_chunk

    @property
    def ended(self) -> bool:
        return self.call.ended

    def end(self, error: BaseException | None) -> None:
        call = self.call
        if call.ended:
            return
        failure = None
        try:
            response = self.accumulator.response()
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


def _added(add: Any, item: Any) -> bool:
    """``add(item)``, guarded (an observer's error costs telemetry, never the item)."""
    try:
        return add(item)
    except Exception as error:
        _guard.report(_CHUNK, error)
        return True


class _Reader:
    """What a synchronous proxy does per item, in a slotted object: an attribute of a wrapt
    proxy costs ~75 ns to read and as much to write (its ``__getattr__``/``__setattr__``
    forward to the wrapped object), a slot ~10 ns. The proxy's ``__next__`` reads one
    attribute, this object's ``next``; everything else happens here."""

    __slots__ = ("add", "call", "observer", "read", "span_each_read", "waiting")

    def __init__(
        self, read: Any, observer: StreamObserver, call: Call | None, span_each_read: bool
    ) -> None:
        #: the wrapped stream's ``__next__``, bound once
        self.read = read
        self.observer = observer
        self.add = observer.add
        #: the call to make current around each read (``ActiveStreamProxy``), or None
        self.call = call
        #: its span too, at every read (else only until the first item arrives)
        self.span_each_read = span_each_read
        self.waiting = True

    def next(self) -> Any:
        while True:
            try:
                item = self.read()
            except StopIteration:
                self.observer.end(None)
                raise
            except BaseException as exc:
                self.observer.end(exc)
                raise
            if self.waiting:
                self.waiting = False
                self.observer.started()
            try:
                if self.add(item):
                    return item
            except Exception as error:
                _guard.report(_CHUNK, error)
                return item
            # hidden (the usage-only chunk tokentrail asked for): read the next one

    def next_active(self) -> Any:
        call = self.call
        while True:
            call.activate(self.waiting or self.span_each_read)  # type: ignore[union-attr]
            try:
                item = self.read()
            except StopIteration:
                call.deactivate()  # type: ignore[union-attr]
                self.observer.end(None)
                raise
            except BaseException as exc:
                call.deactivate()  # type: ignore[union-attr]
                self.observer.end(exc)
                raise
            call.deactivate()  # type: ignore[union-attr]
            if self.waiting:
                self.waiting = False
                self.observer.started()
            if _added(self.add, item):
                return item


class StreamProxy(wrapt.ObjectProxy):
    """A synchronous stream (``openai.Stream``, ``anthropic.Stream``, a generator) that
    reports itself to an observer. Per item: one read of the proxy's attributes, the wrapped
    stream's ``__next__`` and the observer's ``add`` (``_Reader``)."""

    def __init__(
        self,
        wrapped: Any,
        observer: StreamObserver,
        call: Call | None = None,
        span_each_read: bool = True,
    ) -> None:
        super().__init__(wrapped)
        self._self_observer = observer
        # an iterable that is not its own iterator (botocore's EventStream) gets one now:
        # making it reads nothing
        next_ = getattr(type(wrapped), "__next__", None)
        read = wrapped.__next__ if next_ is not None else iter(wrapped).__next__
        reader = _Reader(read, observer, call, span_each_read)
        self._self_next = reader.next if call is None else reader.next_active

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        return self._self_next()

    def close(self) -> Any:
        try:
            result = self.__wrapped__.close()
        except BaseException as exc:
            self._self_observer.end(exc)
            raise
        self._self_observer.end(None)
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


class ActiveStreamProxy(StreamProxy):
    """A generator that sends its request inside ``next()`` (google-genai): the call is
    current around each ``next()``, so that what the SDK does there nests under it.

    ``span_each_read=False``: a call that sends one request, in the first ``next()`` (more
    only in the rare case of an automatic continuation, whose own stream makes the span
    current again): its span is current until the first item arrives, and only the call
    (``current_call()``) after that, which is what counts a further request; making the
    span current costs more than reading a chunk."""

    def __init__(
        self, wrapped: Any, observer: StreamObserver, call: Call, span_each_read: bool = True
    ) -> None:
        super().__init__(wrapped, observer, call, span_each_read)


class AsyncStreamProxy(wrapt.ObjectProxy):
    """An asynchronous stream (``openai.AsyncStream``, ``anthropic.AsyncStream``, an async
    generator). ``activate``: the call to make current around each ``__anext__()``."""

    def __init__(self, wrapped: Any, observer: StreamObserver, activate: Call | None = None):
        super().__init__(wrapped)
        self._self_observer = observer
        self._self_add = observer.add
        self._self_activate = activate
        self._self_waiting = True

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
            if self._self_waiting:
                self._self_waiting = False
                observer.started()
            if _added(self._self_add, item):
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
        self._self_observer.end(None)
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


def watch(stream: Any, call: Call, accumulator: StreamAccumulator, *, asynchronous: bool) -> Any:
    """``stream`` (an SDK stream object) as a proxy that ends ``call`` from ``accumulator``."""
    proxy = AsyncStreamProxy if asynchronous else StreamProxy
    return proxy(stream, CallStream(call, accumulator))
