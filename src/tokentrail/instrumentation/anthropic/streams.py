"""Anthropic streams: the accumulator of raw message events, and the proxies of the
``messages.stream()`` managers, whose request is sent in ``__enter__``/``__aenter__``.

The manager proxies hand the caller the SDK's own ``MessageStream``; only its raw event
stream (``MessageStream._raw_stream``) is replaced by a ``StreamProxy``, so that everything
the helper reads (iteration, ``text_stream``, ``get_final_message()``, ``until_done()``)
passes through the accumulator once.
"""

from __future__ import annotations

import inspect
from dataclasses import replace
from typing import Any

import wrapt

from ... import names as sc
from ...exceptions import TokenTrailError
from ...telemetry.records import Response
from ...telemetry.stream import AsyncStreamProxy, StreamProxy
from . import extractors as ex


class MessageStreamAccumulator:
    """Raw message events (``Stream[RawMessageStreamEvent]``, beta too).

    Usage is ``message_start``'s, overridden by the non-null fields of the last (cumulative)
    ``message_delta``. A stream that stops before ``message_delta`` (an early break, a cut)
    reports what arrived: the exact input and cache counts of ``message_start`` and, for
    output, its placeholder or the number of content deltas seen, whichever is larger,
    marked ``estimated``.
    """

    __slots__ = ("_deltas", "_final", "_message", "_text")

    def __init__(self, *, capture_content: bool) -> None:
        self._message: Any = None
        self._final: Any = None
        self._deltas = 0
        self._text: list[str] | None = [] if capture_content else None

    def add(self, event: Any) -> bool:
        kind = event.type
        if kind == "content_block_delta":
            self._deltas += 1
            if self._text is not None:
                text = getattr(event.delta, "text", None)
                if text:
                    self._text.append(text)
        elif kind == "message_delta":
            self._final = event
        elif kind == "message_start":
            self._message = event.message
        return True

    def response(self) -> Response:
        message, final = self._message, self._final
        if message is None:
            return Response()
        start_usage = getattr(message, "usage", None)
        if final is None:
            usage = ex.message_usage(start_usage)
            if usage is not None:
                usage = replace(
                    usage, output_tokens=max(usage.output_tokens, self._deltas), estimated=True
                )
            stop_reason = None  # message_start's stop_reason is a placeholder
        else:
            usage = ex.message_usage(start_usage, final.usage)
            stop_reason = getattr(final.delta, "stop_reason", None)
            if not isinstance(stop_reason, str):
                stop_reason = None
        attributes = None
        if self._text:
            attributes = {
                sc.GEN_AI_OUTPUT_MESSAGES: ex.text_output_messages("".join(self._text), stop_reason)
            }
        return Response(
            usage,
            model=getattr(message, "model", None),
            id=getattr(message, "id", None),
            finish_reasons=(stop_reason,) if stop_reason else None,
            price_context=ex.price_context(start_usage),
            attributes=attributes,
        )


# -- messages.stream() ---------------------------------------------------------------------


def _close_unsent_request(manager: Any) -> None:
    """A budget refused the call, so the request coroutine the async manager was built with
    (``stream()`` makes it, ``__aenter__`` awaits it) will never run: close it, or Python
    reports it as never awaited."""
    for value in vars(manager).values():
        if inspect.iscoroutine(value):
            value.close()


class MessageStreamManagerProxy(wrapt.ObjectProxy):
    """A ``MessageStreamManager`` whose ``__enter__`` (where the request is sent) is one
    instrumented call; ``enter`` is the ``sync_wrapper`` of that call's ``Operation``.
    ``remake(**kwargs)`` builds another manager when a budget action changed the call."""

    def __init__(
        self, manager: Any, enter: Any, resource: Any, kwargs: dict[str, Any], remake: Any
    ) -> None:
        super().__init__(manager)
        self._self_enter = enter
        self._self_resource = resource
        self._self_kwargs = kwargs
        self._self_remake = remake
        self._self_stream: Any = None

    def _self_send(self, **kwargs: Any) -> Any:
        if kwargs != self._self_kwargs:  # a budget action changed the model or the cap
            self.__wrapped__ = self._self_remake(**kwargs)
        return self.__wrapped__.__enter__()

    def __enter__(self) -> Any:
        stream = self._self_enter(self._self_send, self._self_resource, (), self._self_kwargs)
        self._self_stream = stream
        return stream

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Any:
        # Close the raw stream first, so that the call ends here (failed by an exception
        # raised in the block) on every SDK version: anthropic 0.x's MessageStream.close()
        # closes the HTTP response without going through its raw stream.
        raw = getattr(self._self_stream, "_raw_stream", None)
        if isinstance(raw, StreamProxy):
            raw.__exit__(exc_type, exc, tb)
        return self.__wrapped__.__exit__(exc_type, exc, tb)


class AsyncMessageStreamManagerProxy(wrapt.ObjectProxy):
    """The async twin: the request is sent in ``__aenter__``."""

    def __init__(
        self, manager: Any, enter: Any, resource: Any, kwargs: dict[str, Any], remake: Any
    ) -> None:
        super().__init__(manager)
        self._self_enter = enter
        self._self_resource = resource
        self._self_kwargs = kwargs
        self._self_remake = remake
        self._self_stream: Any = None

    def _self_send(self, **kwargs: Any) -> Any:
        if kwargs != self._self_kwargs:  # a budget action changed the model or the cap
            _close_unsent_request(self.__wrapped__)
            self.__wrapped__ = self._self_remake(**kwargs)
        return self.__wrapped__.__aenter__()

    async def __aenter__(self) -> Any:
        try:
            stream = await self._self_enter(
                self._self_send, self._self_resource, (), self._self_kwargs
            )
        except TokenTrailError:
            _close_unsent_request(self.__wrapped__)
            raise
        self._self_stream = stream
        return stream

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Any:
        raw = getattr(self._self_stream, "_raw_stream", None)
        if isinstance(raw, AsyncStreamProxy):
            await raw.__aexit__(exc_type, exc, tb)
        return await self.__wrapped__.__aexit__(exc_type, exc, tb)
