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

Items tokentrail asked for and the caller did not (openai's usage-only chunk) are hidden by
the accumulator as it reads them, and also by a ``hidden`` test of their own when reading an
item failed, or when tokentrail could not watch the stream at all (``filtered``): a fault must
not show the caller an item it would not have got without tokentrail.

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
from .emitter import Call, current_call_var
from .records import EMPTY_RESPONSE, Response

#: an accumulator's ``add``, called directly per item (the openai chat one stands for all)
_CHUNK = _guard.site(
    "stream.chunk", "tokentrail.instrumentation.openai.streams:CompletionStreamAccumulator.add"
)
_RESPONSE = _guard.site("stream.response", "tokentrail.telemetry.stream:CallStream.response")
_END = _guard.site("stream.end", "tokentrail.telemetry.emitter:Call.end")

#: whether the caller must not see an item
Hidden = Callable[[Any], bool]


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
    observer's, so that a chunk costs one call), and the call ends with what it reports.
    ``hidden``: the items the caller must not see, kept from it when the accumulator fails."""

    __slots__ = ("accumulator", "add", "call", "hidden", "started")

    def __init__(
        self, call: Call, accumulator: StreamAccumulator, hidden: Hidden | None = None
    ) -> None:
        self.call = call
        call.observed_by(self)
        self.accumulator = accumulator
        self.add = accumulator.add
        self.started = call.first_chunk
        self.hidden = hidden

    @property
    def ended(self) -> bool:
        return self.call.ended

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

    def response(self) -> Response:
        """What the accumulator says the stream reported (the guarded part of ``end``)."""
        return self.accumulator.response()


class Filter:
    """The observer of a stream whose call is not watched (tokentrail could not read its
    result): it only keeps ``hidden`` items from the caller."""

    __slots__ = ("hidden",)
    ended = True

    def __init__(self, hidden: Hidden) -> None:
        self.hidden = hidden

    def add(self, item: Any) -> bool:
        return _shown(self.hidden, item)

    def started(self) -> None:
        pass

    def end(self, error: BaseException | None) -> None:
        pass


def _shown(hidden: Hidden | None, item: Any) -> bool:
    if hidden is None:
        return True
    try:
        return not hidden(item)
    except Exception as error:
        _guard.report(_CHUNK, error)
        return True


def _after_fault(observer: Any, item: Any, error: Exception) -> bool:
    """Whether to show ``item`` after the observer failed to read it: the failure costs
    telemetry, never an item, and never shows one the caller would not have got."""
    _guard.report(getattr(observer, "chunk_site", _CHUNK), error)
    return _shown(getattr(observer, "hidden", None), item)


def _added(observer: Any, item: Any) -> bool:
    """``observer.add(item)``, guarded; a Ctrl-C while tokentrail looks at the item ends the
    stream's call before it goes on."""
    try:
        return observer.add(item)
    except Exception as error:
        return _after_fault(observer, item, error)
    except BaseException as exc:
        observer.end(exc)
        raise


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
        call = self.call
        while True:
            try:
                item = self.read() if call is None else self._read_active(call)
            except StopIteration:
                self.observer.end(None)
                raise
            except BaseException as exc:
                self.observer.end(exc)
                raise
            try:
                if self.waiting:
                    self.waiting = False
                    self.observer.started()
                if self.add(item):
                    return item
            except Exception as error:
                if _after_fault(self.observer, item, error):
                    return item
            except BaseException as exc:  # a Ctrl-C while tokentrail looked at the item
                self.observer.end(exc)
                raise
            # hidden (the usage-only chunk tokentrail asked for): read the next one

    def _read_active(self, call: Call) -> Any:
        """One read with ``call`` current (``ActiveStreamProxy``): with its span until the
        first item arrives (or at every read), else the call alone, set here rather than by
        ``Call.activate``/``deactivate`` (two calls less per chunk)."""
        if self.waiting or self.span_each_read:
            call.activate()
            try:
                return self.read()
            finally:
                call.deactivate()
        token = current_call_var.set(call)
        try:
            return self.read()
        finally:
            current_call_var.reset(token)


def sync_reader(
    wrapped: Any, observer: StreamObserver, call: Call | None = None, span_each_read: bool = True
) -> Any:
    """The ``__next__`` of a synchronous proxy of ``wrapped`` that reports to ``observer``
    (``call``: made current around each read, its span too unless ``span_each_read`` is
    False and the first item has arrived)."""
    # an iterable that is not its own iterator (botocore's EventStream) gets one now:
    # making it reads nothing
    next_ = getattr(type(wrapped), "__next__", None)
    read = wrapped.__next__ if next_ is not None else iter(wrapped).__next__
    reader = _Reader(read, observer, call, span_each_read)
    return reader.next


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
        self._self_next = sync_reader(wrapped, observer, call, span_each_read)

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
                try:
                    observer.started()
                except BaseException as exc:  # a Ctrl-C as the first item arrived
                    observer.end(exc)
                    raise
            if _added(observer, item):
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
    (and keeps ``hidden`` items from the caller should reading them fail)."""
    proxy = AsyncStreamProxy if asynchronous else StreamProxy
    return proxy(stream, CallStream(call, accumulator, hidden))


def filtered(stream: Any, hidden: Hidden, *, asynchronous: bool) -> Any:
    """``stream`` as a proxy that only keeps ``hidden`` items from the caller."""
    proxy = AsyncStreamProxy if asynchronous else StreamProxy
    return proxy(stream, Filter(hidden))
