"""The LiteLLM functions tokentrail wraps, and how each call is read.

Patched: ``completion`` and ``acompletion`` (plain and streamed), ``embedding`` and
``aembedding``, both as ``litellm.<name>`` and ``litellm.main.<name>`` (applications hold
either; in recent LiteLLM they are different functions, the first calling the second). Each
call sends one billable request. The ``Router`` is not patched: it calls
``litellm.acompletion`` (or ``completion``, ``aembedding`` ...) once per attempt, so each
retry and each fallback is a call of its own, as each is a request the provider may bill.

LiteLLM reaches some providers through an SDK tokentrail also instruments (the openai SDK
for Azure chat, for embeddings with an ``encoding_format``, for legacy completions): these
operations ``covers_sdk_calls``, so the SDK's wrapper reports nothing of a call LiteLLM
reports (one usage span per billable call). LiteLLM calling itself (``acompletion`` runs
``completion`` in a thread; its own ``fallbacks=``/``num_retries=`` call ``completion``
again) is covered the same way: the outer call is the one reported, with the outcome of the
last attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from ... import _guard
from ... import names as sc
from ...telemetry.emitter import Call
from ...telemetry.records import Request
from ...telemetry.stream import CallStream
from .._base import Operation, Patch, async_wrapper, sync_wrapper
from .._content import input_attributes
from .._sdk import first_given_int, given_float
from . import extractors as ex
from .streams import CapturingChunkAccumulator, ChunkAccumulator, CustomStreamProxy

logger = logging.getLogger("tokentrail")

#: the modules whose functions are patched: the package re-exports ``litellm.main``'s
MODULES = ("litellm", "litellm.main")
_NATIVE_TRACING = _guard.site(
    "litellm.native_tracing", "tokentrail.instrumentation.litellm.patch:_otel_callback_list"
)


class _LiteLLMOperation(Operation):
    operation: ClassVar[str]
    #: the argument holding the prompt (content capture, estimates)
    prompt_argument: ClassVar[str]
    covers_sdk_calls = True

    def __init__(self, runtime: Any, asynchronous: bool = False) -> None:
        super().__init__(runtime, asynchronous)
        self.routes = ex.Routes()

    def request(self, instance: Any, args: tuple, kwargs: dict[str, Any]) -> Request:
        if not _native_tracing_checked:
            _warn_if_litellm_traces()
        route = self.routes.of(kwargs)
        prompt = kwargs.get(self.prompt_argument)
        attributes = input_attributes(prompt) if self.capture_content else None
        return Request(
            self.operation,
            route.provider,
            route.model or None,
            server_address=route.address,
            server_port=route.port,
            stream=kwargs.get("stream") is True,
            max_tokens=first_given_int(kwargs, self.max_tokens_arguments),
            temperature=given_float(kwargs.get("temperature")),
            attributes=attributes,
            prompt=prompt,
        )

    def apply(self, request: Request, kwargs: dict[str, Any]) -> dict[str, Any]:
        """As for any SDK, with LiteLLM's ``provider/`` prefix kept in front of the model a
        budget chose (a downgrade stays with the provider)."""
        changed = super().apply(request, kwargs)
        if request.model and changed.get("model") is not kwargs.get("model"):
            changed["model"] = self.routes.of(kwargs).prefix + request.model
        return changed

    def prepare(
        self, request: Request, instance: Any, kwargs: dict[str, Any]
    ) -> tuple[dict[str, Any], ex.Route]:
        """The route the call takes (``Call.state``): its LiteLLM provider names the
        response's model."""
        return kwargs, self.routes.of(kwargs)


#: LiteLLM's callbacks were looked at since ``instrument()`` (``patches``)
_native_tracing_checked = False
#: where LiteLLM keeps the callbacks it was given (names, or logger objects)
_CALLBACK_LISTS = ("callbacks", "success_callback", "_async_success_callback")


def _warn_if_litellm_traces() -> None:
    """LiteLLM's own OpenTelemetry callback (``litellm.callbacks = ["otel"]``) makes a span
    with usage for each call too: say so once, at the first call."""
    global _native_tracing_checked
    _native_tracing_checked = True
    try:
        name = _otel_callback_list()
    except Exception as exc:
        _guard.report(_NATIVE_TRACING, exc)
        return
    if name is not None:
        logger.warning(
            "tokentrail: LiteLLM's own OpenTelemetry callback is on (litellm.%s): each call "
            "gets its span and its usage twice; remove it to keep tokentrail's",
            name,
        )


def _otel_callback_list() -> str | None:
    """The name of LiteLLM's callback list that holds its OpenTelemetry callback, if any."""
    import litellm

    for name in _CALLBACK_LISTS:
        for callback in getattr(litellm, name, None) or ():
            if callback == "otel" or any(
                cls.__name__ == "OpenTelemetry" for cls in type(callback).__mro__
            ):
                return name
    return None


def _litellm_provider(call: Call) -> str:
    route = call.state
    return route.litellm_provider if isinstance(route, ex.Route) else ""


class Completion(_LiteLLMOperation):
    site = "litellm.completion"
    operation = sc.OP_CHAT
    prompt_argument = "messages"
    max_tokens_arguments = ("max_tokens", "max_completion_tokens")

    def result(self, call: Call, result: Any) -> Any:
        provider = _litellm_provider(call)
        if call.request.stream and _is_stream(result):
            kind = CapturingChunkAccumulator if self.capture_content else ChunkAccumulator
            accumulator = kind(result, provider, prompt=call.request.prompt)
            return CustomStreamProxy(result, CallStream(call, accumulator))
        call.end(ex.completion_response(result, provider, capture_content=self.capture_content))
        return result


def _is_stream(result: Any) -> bool:
    """A ``CustomStreamWrapper`` (a cached or mocked answer to a streamed call may be a
    ``ModelResponse``)."""
    kind = type(result)
    return hasattr(kind, "__next__") or hasattr(kind, "__anext__")


class Embedding(_LiteLLMOperation):
    site = "litellm.embedding"
    operation = sc.OP_EMBEDDINGS
    prompt_argument = "input"
    max_tokens_arguments = ()

    def result(self, call: Call, result: Any) -> Any:
        call.end(ex.embedding_response(result, _litellm_provider(call)))
        return result


#: function -> (operation, asynchronous, its leading positional parameters, and for a sync
#: function the keyword that makes it the thread-side half of its async twin)
_FUNCTIONS: dict[str, tuple[type[_LiteLLMOperation], bool, tuple[str, ...], str | None]] = {
    "completion": (Completion, False, ("model", "messages"), "acompletion"),
    "acompletion": (Completion, True, ("model", "messages"), None),
    "embedding": (Embedding, False, ("model", "input"), "aembedding"),
    "aembedding": (Embedding, True, ("model", "input"), None),
}


def _wrapper_maker(function: str) -> Callable[[Any], Callable[..., Any]]:
    operation, asynchronous, positional, async_half = _FUNCTIONS[function]
    factory = async_wrapper if asynchronous else sync_wrapper

    def make(runtime: Any) -> Callable[..., Any]:
        inner = factory(operation(runtime, asynchronous))

        def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
            if async_half is not None and kwargs.get(async_half) is True:
                # ``completion(..., acompletion=True)``: how ``acompletion`` (which reports
                # the call) runs ``completion`` in a thread; not counted when called so directly
                return wrapped(*args, **kwargs)
            if kwargs.get("mock_response") is not None:
                return wrapped(*args, **kwargs)  # LiteLLM answers itself: nothing is billed
            if args and len(args) <= len(positional):
                # ``completion("gpt-4o", messages)``: as keywords, so that a budget action
                # can replace the model
                kwargs = {**dict(zip(positional, args, strict=False)), **kwargs}
                args = ()
            return inner(wrapped, instance, args, kwargs)

        wrapper._tokentrail = True  # type: ignore[attr-defined]
        return wrapper

    return make


def patches() -> Iterable[Patch]:
    # each instrument() looks at LiteLLM's callbacks again at its first call: the
    # application may have changed them since the last one
    global _native_tracing_checked
    _native_tracing_checked = False
    for module in MODULES:
        for function in _FUNCTIONS:
            yield Patch(module, "", function, _wrapper_maker(function))
