"""Streams: pass every item through to the caller, let an accumulator watch them, and end the
call exactly once — when the stream is drained, fails, is closed, leaves its ``with`` block,
or is garbage-collected after the caller broke out of it.

The proxies are ``wrapt.ObjectProxy`` objects, so ``isinstance(stream, openai.Stream)``,
``.response``, ``.close()`` and the SDKs' own stream helpers keep working. An accumulator is
a small per-provider object:

* ``add(item) -> bool``: look at one item (cheaply: this runs per chunk); return False to hide
  the item from the caller (the usage-only chunk of an ``include_usage`` the caller did not ask
  for);
* ``response() -> Response``: what the stream reported, once it is over.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol

import wrapt

from .. import _guard
from .emitter import Call
from .records import EMPTY_RESPONSE, Response

__all__ = ["AsyncStreamProxy", "StreamAccumulator", "StreamProxy", "watch_async", "watch_sync"]


class StreamAccumulator(Protocol):
    def add(self, item: Any) -> bool: ...

    def response(self) -> Response: ...


def _end(call: Call, accumulator: StreamAccumulator, exc: BaseException | None) -> None:
    if call.ended:
        return
    failure = None
    try:
        response = accumulator.response()
    except Exception as error:
        failure, response = error, EMPTY_RESPONSE
    try:
        if exc is None:
            call.end(response)
        else:
            call.fail(exc, response)
    except Exception as error:
        _guard.report("stream.end", error)
    # reported after the call has ended: strict mode re-raises, and a call left open would
    # be ended a second time when the stream is collected
    if failure is not None:
        _guard.report("stream.response", failure)


def _add(call: Call, accumulator: StreamAccumulator, item: Any) -> bool:
    if call.time_to_first_chunk is None:
        call.first_chunk()
    try:
        return accumulator.add(item)
    except Exception as error:
        _guard.report("stream.chunk", error)
        return True


class StreamProxy(wrapt.ObjectProxy):
    """A synchronous SDK stream (``openai.Stream``, ``anthropic.Stream``) that reports itself."""

    def __init__(self, wrapped: Any, call: Call, accumulator: StreamAccumulator) -> None:
        super().__init__(wrapped)
        self._self_call = call
        self._self_accumulator = accumulator

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        call, accumulator, stream = self._self_call, self._self_accumulator, self.__wrapped__
        while True:
            try:
                item = stream.__next__()
            except StopIteration:
                _end(call, accumulator, None)
                raise
            except BaseException as exc:
                _end(call, accumulator, exc)
                raise
            if _add(call, accumulator, item):
                return item

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            _end(self._self_call, self._self_accumulator, None)

    def __enter__(self) -> StreamProxy:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(exc_type, exc, tb)
        finally:
            _end(self._self_call, self._self_accumulator, exc)

    def __del__(self) -> None:
        call = getattr(self, "_self_call", None)
        if call is not None and not call.ended:
            _end(call, self._self_accumulator, None)


class AsyncStreamProxy(wrapt.ObjectProxy):
    """An asynchronous SDK stream (``openai.AsyncStream``, ``anthropic.AsyncStream``)."""

    def __init__(self, wrapped: Any, call: Call, accumulator: StreamAccumulator) -> None:
        super().__init__(wrapped)
        self._self_call = call
        self._self_accumulator = accumulator

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        call, accumulator, stream = self._self_call, self._self_accumulator, self.__wrapped__
        while True:
            try:
                item = await stream.__anext__()
            except StopAsyncIteration:
                _end(call, accumulator, None)
                raise
            except BaseException as exc:
                _end(call, accumulator, exc)
                raise
            if _add(call, accumulator, item):
                return item

    async def close(self) -> Any:
        try:
            return await self.__wrapped__.close()
        finally:
            _end(self._self_call, self._self_accumulator, None)

    async def __aenter__(self) -> AsyncStreamProxy:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, tb)
        finally:
            _end(self._self_call, self._self_accumulator, exc)

    def __del__(self) -> None:
        call = getattr(self, "_self_call", None)
        if call is not None and not call.ended:
            _end(call, self._self_accumulator, None)


def watch_sync(iterator: Iterator[Any], call: Call, accumulator: StreamAccumulator):
    """Wrap a plain generator (google-genai streams have no stream object).

    Such a generator does its work (sends its requests) inside ``next()``, so the call is
    made current around each ``next()``; closing the wrapper closes the generator first, as
    ``yield from`` does, so that whatever it holds is finished before the call ends."""
    try:
        while True:
            call.activate()
            try:
                item = next(iterator)
            except StopIteration:
                break
            finally:
                call.deactivate()
            if _add(call, accumulator, item):
                yield item
    except GeneratorExit:  # the caller closed the generator or dropped it
        try:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
        finally:
            _end(call, accumulator, None)
        raise
    except BaseException as exc:
        _end(call, accumulator, exc)
        raise
    _end(call, accumulator, None)


async def watch_async(iterator: AsyncIterator[Any], call: Call, accumulator: StreamAccumulator):
    """Wrap a plain async generator (see ``watch_sync``)."""
    try:
        while True:
            call.activate()
            try:
                item = await iterator.__anext__()
            except StopAsyncIteration:
                break
            finally:
                call.deactivate()
            if _add(call, accumulator, item):
                yield item
    except GeneratorExit:
        try:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()
        finally:
            _end(call, accumulator, None)
        raise
    except BaseException as exc:
        _end(call, accumulator, exc)
        raise
    _end(call, accumulator, None)
