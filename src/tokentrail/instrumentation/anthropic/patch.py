"""The anthropic methods tokentrail wraps, and how each call is read.

Patched, sync and async, on ``messages`` and on ``beta.messages`` (a different class with the
same methods): ``create`` (plain and ``stream=True``), ``parse`` and ``stream()``. ``parse`` and
``stream()`` send their request through ``_post`` without calling ``create``, so each call is
counted exactly once; ``beta.messages.tool_runner``/``thread`` call ``beta.messages.create``.
``stream()`` returns a manager that sends the request in ``__enter__``/``__aenter__``: that is
where its call starts.

Not patched: ``count_tokens`` (free, and it consumes nothing: a usage span for it would show
as spent input tokens on every dashboard that sums ``gen_ai.usage.input_tokens``), and Message
Batches (billed per result, at batch prices, long after the call that created them).

Also wrapped: the SDK's ``start_api_call_span``, so that the SDK's own tracing propagates
tokentrail's span instead of opening a second one (see ``native``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from ... import _guard
from ... import names as sc
from ...runtime import Runtime
from ...telemetry.emitter import Call
from ...telemetry.records import EMPTY_RESPONSE, Request, Response
from ...telemetry.stream import watch
from .._base import Operation, Patch, async_wrapper, patch, raw_response_mode, sync_wrapper
from .._sdk import given_float, given_int, given_str
from . import extractors as ex
from . import native
from .streams import (
    AsyncMessageStreamManagerProxy,
    MessageStreamAccumulator,
    MessageStreamManagerProxy,
)

_STREAM_MANAGER = _guard.site(
    "anthropic.messages.stream_manager",
    "tokentrail.instrumentation.anthropic.streams:MessageStreamManagerProxy.__init__",
)


class Messages(Operation):
    """``messages.create`` / ``parse`` (and their beta twins): a ``Message``, or with
    ``stream=True`` a ``Stream`` of raw events."""

    site = "anthropic.messages"

    def request(self, instance: Any, args: tuple, kwargs: dict[str, Any]) -> Request:
        endpoint = ex.endpoint_of(instance._client)
        messages = kwargs.get("messages")
        system = kwargs.get("system")
        attributes = ex.input_attributes(system, messages) if self.capture_content else None
        return Request(
            sc.OP_CHAT,
            endpoint.provider,
            given_str(kwargs.get("model")),
            server_address=endpoint.address,
            server_port=endpoint.port,
            stream=self.streams(kwargs),
            max_tokens=given_int(kwargs.get("max_tokens")),
            temperature=_temperature(kwargs),
            attributes=attributes,
            prompt=messages if system is None else (system, messages),
        )

    def streams(self, kwargs: dict[str, Any]) -> bool:
        return kwargs.get("stream") is True

    def traced(self, instance: Any) -> bool:
        return native.adoptable() or not native.native_tracing_on(instance._client)

    def prepare(
        self, request: Request, instance: Any, kwargs: dict[str, Any]
    ) -> tuple[dict[str, Any], str | None]:
        """The state is the ``with_raw_response``/``with_streaming_response`` marker."""
        return kwargs, raw_response_mode(kwargs)

    def result(self, call: Call, result: Any) -> Any:
        mode = call.state
        if mode is None:
            if call.request.stream:
                return self.stream_proxy(result, call)
            call.end(self.response(result))
        elif mode == "stream" or call.request.stream:
            # with_streaming_response (body unread) or a raw stream the caller reads itself:
            # reading usage would consume it, so this call stays unpriced
            call.end(EMPTY_RESPONSE)
        else:
            # with_raw_response: the body is read; decode it rather than call .parse(), which
            # is a coroutine on the async client (anthropic >= 1.0)
            call.end(ex.message_response(ex.raw_body(result), capture_content=self.capture_content))
        return result

    def response(self, result: Any) -> Response:
        return ex.message_response(result, capture_content=self.capture_content)

    def stream_proxy(self, stream: Any, call: Call) -> Any:
        accumulator = MessageStreamAccumulator(capture_content=self.capture_content)
        return watch(stream, call, accumulator, asynchronous=self.asynchronous)


def _temperature(kwargs: dict[str, Any]) -> float | None:
    """anthropic >= 1.0 has no ``temperature`` argument: it is sent in ``extra_body``."""
    temperature = given_float(kwargs.get("temperature"))
    if temperature is None:
        extra = kwargs.get("extra_body")
        if isinstance(extra, dict):
            temperature = given_float(extra.get("temperature"))
    return temperature


class StreamHelper(Messages):
    """The ``__enter__``/``__aenter__`` of a ``messages.stream()`` manager: it returns the
    SDK's ``MessageStream``, whose raw event stream is watched."""

    site = "anthropic.messages.stream"

    def streams(self, kwargs: dict[str, Any]) -> bool:
        return True

    def prepare(
        self, request: Request, instance: Any, kwargs: dict[str, Any]
    ) -> tuple[dict[str, Any], str | None]:
        return kwargs, None

    def result(self, call: Call, result: Any) -> Any:
        raw = getattr(result, "_raw_stream", None)
        if raw is None:  # a helper that keeps its events elsewhere: counted, unpriced
            call.end(EMPTY_RESPONSE)
        else:
            result._raw_stream = self.stream_proxy(raw, call)
        return result


def _stream_manager(asynchronous: bool) -> Callable[[Runtime], Callable[..., Any]]:
    """The wrapper of ``messages.stream()``: it sends nothing, it returns a manager whose
    ``__enter__``/``__aenter__`` is instrumented as one call."""
    proxy = AsyncMessageStreamManagerProxy if asynchronous else MessageStreamManagerProxy
    wrap_enter = async_wrapper if asynchronous else sync_wrapper

    def make(runtime: Runtime) -> Callable[..., Any]:
        enter = wrap_enter(StreamHelper(runtime, asynchronous))

        def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
            manager = wrapped(*args, **kwargs)
            if runtime.closed or not is_instrumentation_enabled():
                return manager
            try:
                # the manager holds its request from here on: a budget action decided at
                # __enter__ builds another one from ``stream`` itself
                remake = functools.partial(wrapped, *args)
                return proxy(manager, enter, instance, kwargs, remake)
            except Exception as exc:
                _guard.report(_STREAM_MANAGER, exc)
                return manager

        wrapper._tokentrail = True  # type: ignore[attr-defined]
        return wrapper

    return make


def patches() -> Iterable[Patch]:
    for module in ("anthropic.resources.messages", "anthropic.resources.beta.messages"):
        for cls, asynchronous in (("Messages", False), ("AsyncMessages", True)):
            for method in ("create", "parse"):
                yield patch(module, f"{cls}.{method}", Messages, asynchronous=asynchronous)
            yield Patch(module, cls, "stream", _stream_manager(asynchronous))
    # skipped when an SDK has no such hook (adoptable() is then false)
    module, _, name = native.HOOK_MODULE.rpartition(".")
    yield Patch(module, name, native.HOOK_NAME, lambda runtime: native.start_api_call_span)
