"""What every provider instrumentor shares: the wrapper around an SDK method, and patching.

A provider describes each patched method with an ``Operation`` (how to read the request, how
to read the result); the wrappers here apply the error policy (docs/architecture.md, "Error
zones") the same way for all:

1. the SDK call is never altered: its exceptions propagate unchanged and its return value is
   the SDK's own object or a transparent proxy;
2. our code around it (``Operation.request``/``prepare``/``result``) runs guarded: an internal
   error costs telemetry, never the call (``TOKENTRAIL_STRICT=1`` re-raises);
3. only a budget refusal (``Admission.refusal``, a ``TokenTrailError``) is raised on purpose,
   before anything is sent.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from types import ModuleType
from typing import Any, ClassVar

import wrapt
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
from opentelemetry.instrumentation.utils import is_instrumentation_enabled, unwrap

from .. import _guard
from ..names import OP_EMBEDDINGS
from ..runtime import RUNTIME_OPTIONS, Runtime, state
from ..telemetry.emitter import Call
from ..telemetry.records import EMPTY_RESPONSE, Request, Response
from ._sdk import given_int

logger = logging.getLogger("tokentrail")

#: Stainless SDKs (openai, anthropic) mark ``with_raw_response``/``with_streaming_response``
#: calls with this header: "true"/"raw" (body read, ``.parse()`` available) or "stream"
RAW_RESPONSE_HEADER = "X-Stainless-Raw-Response"


def raw_response_mode(kwargs: Mapping[str, Any]) -> str | None:
    headers = kwargs.get("extra_headers")
    if headers is None:  # the usual call: no ABC check
        return None
    if isinstance(headers, Mapping):
        mode = headers.get(RAW_RESPONSE_HEADER)
        return mode if isinstance(mode, str) else None
    return None


class Operation:
    """How one kind of SDK call is read. Subclasses set ``site`` and override ``request``
    and ``result`` (or ``response``).

    The wrapper calls, in order: ``request`` (describe the call), the budgets' admission,
    ``prepare`` (the keyword arguments to send, and the state to keep), the SDK method, then
    ``result`` (or ``failed``). Each step is a guarded site of its own, named
    ``"<site>.<step>"`` (declared here for every subclass, for the fault-injection test).
    Ending the call after a step failed is the emitter's work, the same for every operation:
    sites ``call.end`` and ``call.fail``.
    """

    #: names the call in internal-error reports
    site: ClassVar[str] = "call"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "site" in cls.__dict__:
            steps = ["request", "apply", "prepare", "result", "failed"]
            if getattr(cls, "operation", None) == OP_EMBEDDINGS:
                steps.remove("apply")  # no budget action changes an embeddings call
            for step in steps:
                _guard.site(f"{cls.site}.{step}", f"{cls.__module__}:{cls.__qualname__}.{step}")

    def __init__(self, runtime: Runtime, asynchronous: bool = False) -> None:
        self.runtime = runtime
        #: patched on an ``Async*`` class: streams are async, ``parse()`` may be a coroutine
        self.asynchronous = asynchronous
        self.emitter = runtime.emitter
        self.capture_content = runtime.capture_content

    def request(self, instance: Any, args: tuple, kwargs: dict[str, Any]) -> Request:
        raise NotImplementedError

    #: the call reports everything it sends, also what it sends through another SDK that
    #: tokentrail instruments (LiteLLM calls the openai SDK): instrumented methods called
    #: while it runs are part of it and report nothing of their own (``covered()``)
    covers_sdk_calls: ClassVar[bool] = False

    def traced(self, instance: Any) -> bool:
        """Whether the call gets a tokentrail span (False when another span already carries
        its usage, e.g. an SDK's own); its metrics are recorded either way."""
        return True

    #: the keyword argument that names the model
    model_argument: ClassVar[str] = "model"
    #: the keyword arguments that cap the output, the preferred one first
    max_tokens_arguments: ClassVar[tuple[str, ...]] = ("max_tokens",)

    def apply(self, request: Request, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The keyword arguments that send ``request`` (a budget action changed its model or
        its output cap): the model argument replaced; the cap set in the argument the caller
        used, else in the preferred one. The caller's dict is never modified."""
        changed = dict(kwargs)
        if request.model and kwargs.get(self.model_argument) != request.model:
            changed[self.model_argument] = request.model
        if request.max_tokens is not None:
            names = self.max_tokens_arguments
            name = next((n for n in names if given_int(kwargs.get(n)) is not None), names[0])
            changed[name] = request.max_tokens
        return changed

    def prepare(
        self, request: Request, instance: Any, kwargs: dict[str, Any]
    ) -> tuple[dict[str, Any], Any]:
        """The keyword arguments to call the SDK with (the caller's, unless we must add one)
        and the state to keep until the call ends (``Call.state``)."""
        return kwargs, None

    def result(self, call: Call, result: Any) -> Any:
        """End ``call`` from ``result`` (or wrap a stream that will end it); return what the
        caller gets."""
        call.end(self.response(result))
        return result

    def response(self, result: Any) -> Response:
        return EMPTY_RESPONSE

    def passthrough(self, call: Call, result: Any) -> Any:
        """What the caller gets when ``result`` failed: the SDK's result, as it would be had
        ``prepare`` not changed the request (an item tokentrail asked for stays hidden)."""
        return result

    def failed(self, call: Call, exc: BaseException) -> None:
        """The SDK call raised ``exc``: end ``call`` with what arrived before (usually
        nothing; a Gemini call may have finished model requests that were billed)."""
        call.fail(exc)


_END = _guard.site("call.end", "tokentrail.telemetry.emitter:Call.end")
_FAIL = _guard.site("call.fail", "tokentrail.telemetry.emitter:Call.fail")
_APPLY = "tokentrail.instrumentation._base:TokenTrailInstrumentor._apply"
_PATCH = _guard.site("instrument.patch", _APPLY)


def _begin(
    op: Operation, instance: Any, args: tuple, kwargs: dict[str, Any]
) -> tuple[Call, dict[str, Any]] | None:
    """Describe the call, let the budgets decide, open its span. None: report nothing (our
    own error), send as is. Raises a budget's refusal, after reporting the refused call."""
    site = op.site
    try:
        request = op.request(instance, args, kwargs)
    except Exception as exc:
        _guard.report(f"{site}.request", exc)
        return None
    attribution = op.runtime.attribution()
    admission = op.runtime.admit(request, attribution)
    if admission is not None and admission.request is not None and admission.refusal is None:
        # a budget's action changed the call: send what it decided
        try:
            kwargs = op.apply(admission.request, kwargs)
            request = admission.request
        except Exception as exc:
            _guard.report(f"{site}.apply", exc)
            admission = admission.unchanged()
    state = None
    if admission is None or admission.refusal is None:
        try:
            kwargs, state = op.prepare(request, instance, kwargs)
        except Exception as exc:
            _guard.report(f"{site}.prepare", exc)
    try:
        call = op.emitter.start(
            request,
            attribution,
            admission=admission,
            state=state,
            with_span=op.traced(instance),
        )
    except Exception as exc:
        _guard.report(f"{site}.request", exc)
        return None
    if admission is not None and admission.refusal is not None:
        # a budget said no: the call is never sent; its span and the alert say so
        try:
            call.fail(admission.refusal)
        except Exception as error:
            _guard.report(_FAIL, error)
        raise admission.refusal
    return call, kwargs


class _Cover:
    """Marks the context of a running call whose operation ``covers_sdk_calls``.

    Closed when the call returns, not only reset: a context copied while it ran (a thread or
    a task the client started for its callbacks) is covered no longer once the call is over.
    """

    __slots__ = ("_token", "open")

    def __init__(self) -> None:
        self.open = True
        self._token = _cover.set(self)

    def close(self) -> None:
        self.open = False
        _cover.reset(self._token)


_cover: ContextVar[_Cover | None] = ContextVar("tokentrail_cover", default=None)


def covered() -> bool:
    """Whether an instrumented method called now is part of a call already being reported
    (one usage span per billable call: a LiteLLM call that goes through the openai SDK is
    LiteLLM's span only). Only that: a call made inside another instrumented call that does
    not cover its SDK calls (a Gemini tool function that calls a model) is a call of its own.
    """
    cover = _cover.get()
    return cover is not None and cover.open


def _fail(op: Operation, call: Call, exc: BaseException) -> None:
    try:
        op.failed(call, exc)
    except Exception as error:
        _guard.report(f"{op.site}.failed", error)
    try:
        call.fail(exc)  # does nothing if op.failed ended it
    except Exception as error:
        _guard.report(_FAIL, error)


def _complete(op: Operation, call: Call, result: Any) -> Any:
    try:
        return op.result(call, result)
    except Exception as exc:
        _guard.report(f"{op.site}.result", exc)
    try:
        call.end(EMPTY_RESPONSE)
    except Exception as exc:
        _guard.report(_END, exc)
    try:
        return op.passthrough(call, result)
    except Exception as exc:
        _guard.report(f"{op.site}.result", exc)
        return result


def _current(wrapped: Callable[..., Any], instance: Any, wrapper: Callable[..., Any]) -> Any:
    """What a call through a wrapper of an uninstrumented runtime should run instead.

    The Stainless SDKs' ``with_raw_response``/``with_streaming_response`` keep the bound method
    they found when first used: after ``uninstrument()`` such a stale wrapper goes through
    whatever the class has now (the SDK's own method, or the wrapper of a new ``instrument()``).
    """
    current = getattr(instance, getattr(wrapped, "__name__", ""), None)
    if current is None or getattr(current, "_self_wrapper", None) is wrapper:
        return wrapped
    return current


def sync_wrapper(op: Operation) -> Callable[..., Any]:
    covers = op.covers_sdk_calls

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        if op.runtime.closed:
            return _current(wrapped, instance, wrapper)(*args, **kwargs)
        if not is_instrumentation_enabled() or covered():
            return wrapped(*args, **kwargs)
        begun = _begin(op, instance, args, kwargs)
        if begun is None:
            return wrapped(*args, **kwargs)
        call, kwargs = begun
        call.activate()
        cover = _Cover() if covers else None
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            if cover is not None:
                cover.close()
            call.deactivate()
            _fail(op, call, exc)
            raise
        if cover is not None:
            cover.close()
        call.deactivate()
        return _complete(op, call, result)

    wrapper._tokentrail = True  # type: ignore[attr-defined]
    return wrapper


def async_wrapper(op: Operation) -> Callable[..., Any]:
    """For ``Async*`` methods, whether they are ``async def`` or a ``def`` returning a
    coroutine (openai and anthropic wrap ``create`` in a plain ``def``): the wrapper is a plain
    ``def`` that returns our coroutine, so the budget check runs when the caller awaits."""
    covers = op.covers_sdk_calls

    async def run(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        begun = _begin(op, instance, args, kwargs)
        if begun is None:
            return await wrapped(*args, **kwargs)
        call, kwargs = begun
        call.activate()
        cover = _Cover() if covers else None
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            if cover is not None:
                cover.close()
            call.deactivate()
            _fail(op, call, exc)
            raise
        if cover is not None:
            cover.close()
        call.deactivate()
        return _complete(op, call, result)

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        if op.runtime.closed:
            return _current(wrapped, instance, wrapper)(*args, **kwargs)
        if not is_instrumentation_enabled() or covered():
            return wrapped(*args, **kwargs)
        return run(wrapped, instance, args, kwargs)

    wrapper._tokentrail = True  # type: ignore[attr-defined]
    return wrapper


@dataclass(frozen=True)
class Patch:
    """One SDK method to wrap: ``module``'s ``cls.method`` (``cls`` empty: the module's
    function ``method``) with a wrapper built for a runtime.

    ``make_wrapper`` runs when the patch is applied (the module is imported by then); it may
    return None to skip the patch for this SDK version."""

    module: str
    cls: str
    method: str
    make_wrapper: Callable[[Runtime], Callable[..., Any] | None]


def patch(module: str, target: str, operation: type[Operation], *, asynchronous: bool) -> Patch:
    """``target``: ``"Class.method"``, or ``"function"`` for a function of the module."""
    cls, _, method = target.rpartition(".")
    factory = async_wrapper if asynchronous else sync_wrapper
    return Patch(module, cls, method, lambda runtime: factory(operation(runtime, asynchronous)))


class TokenTrailInstrumentor(BaseInstrumentor):
    """Base of the provider instrumentors: patches a table of methods for one runtime.

    ``instrument()`` accepts the keywords of ``tokentrail.instrument()`` (``tracer_provider``,
    ``meter_provider``, ``budgets``, ...); with none, the instrumentors share one runtime
    configured by the environment (zero-code use)."""

    #: the supported SDK versions (the same range as the extra in pyproject.toml)
    instruments: ClassVar[tuple[str, ...]]

    def instrumentation_dependencies(self) -> Iterable[str]:
        return self.instruments

    def patches(self) -> Iterable[Patch]:
        raise NotImplementedError

    def _instrument(self, **kwargs: Any) -> None:
        runtime = kwargs.get("runtime")
        self._tokentrail_owned: Runtime | None = None
        self._tokentrail_shared: Runtime | None = None
        if runtime is None:
            options = {key: kwargs[key] for key in RUNTIME_OPTIONS if key in kwargs}
            if options:
                runtime = self._tokentrail_owned = Runtime(**options)
                state().add(runtime)
            else:
                runtime = self._tokentrail_shared = state().acquire_shared()
        self._tokentrail_patched: list[tuple[Any, str]] = []
        #: the wrappers this instrumentor installed (to recognise one under another name)
        self._tokentrail_wrappers: list[Any] = []
        self._tokentrail_runtime = runtime
        for target in self.patches():
            module = sys.modules.get(target.module)
            if module is None:
                # Not imported yet (openai 3 imports its resource modules lazily, on first
                # use): patch it when the app imports it, instead of importing it now.
                _when_imported(target.module, self, target)
            else:
                try:
                    self._apply(module, target)
                except Exception as exc:  # never break the app's instrument(): skip the patch
                    _guard.report(_PATCH, exc)

    def _apply(self, module: ModuleType, target: Patch) -> None:
        owner = getattr(module, target.cls, None) if target.cls else module
        if owner is None or not hasattr(owner, target.method):
            logger.debug("tokentrail: %s.%s.%s not found", target.module, target.cls, target.method)
            return
        if (owner, target.method) in self._tokentrail_patched:
            return  # an alias of a class already patched (openai's beta.chat since 1.92)
        current = owner.__dict__.get(target.method)
        if any(current is wrapped for wrapped in self._tokentrail_wrappers):
            # a function this instrumentor wrapped, imported under another name (a package
            # that re-exports its submodule's functions): restored with it, not wrapped twice
            self._tokentrail_patched.append((owner, target.method))
            return
        wrapper = target.make_wrapper(self._tokentrail_runtime)
        if wrapper is None:
            return  # the patch declined: the SDK lacks something it needs
        _warn_if_foreign(owner, target.method)
        wrapt.wrap_function_wrapper(owner, target.method, wrapper)
        self._tokentrail_patched.append((owner, target.method))
        self._tokentrail_wrappers.append(owner.__dict__[target.method])

    def _uninstrument(self, **kwargs: Any) -> None:
        _forget(self)
        for owner, method in reversed(getattr(self, "_tokentrail_patched", ())):
            unwrap(owner, method)
        self._tokentrail_patched = []
        self._tokentrail_wrappers = []
        if getattr(self, "_tokentrail_owned", None) is not None:
            self._tokentrail_owned.close()
            self._tokentrail_owned = None
        if getattr(self, "_tokentrail_shared", None) is not None:
            state().release_shared(self._tokentrail_shared)
            self._tokentrail_shared = None


_DEFERRED_PATCH = _guard.site("instrument.deferred", _APPLY)

# Patches waiting for their module to be imported: module name -> [(instrumentor, patch)].
# One wrapt post-import hook per module name for the life of the process (wrapt has no way to
# remove one); it applies what is waiting when the module arrives.
_waiting: dict[str, list[tuple[TokenTrailInstrumentor, Patch]]] = {}
_hooked: set[str] = set()
_waiting_lock = threading.Lock()


def _when_imported(module: str, instrumentor: TokenTrailInstrumentor, target: Patch) -> None:
    with _waiting_lock:
        _waiting.setdefault(module, []).append((instrumentor, target))
        register = module not in _hooked
        _hooked.add(module)
    if register:
        # calls the hook at once if the module was imported in the meantime
        wrapt.register_post_import_hook(_on_import, module)


def _on_import(module: ModuleType) -> None:
    with _waiting_lock:
        waiting = _waiting.pop(module.__name__, [])
    for instrumentor, target in waiting:
        try:
            instrumentor._apply(module, target)
        except Exception as exc:  # never break the app's import
            _guard.report(_DEFERRED_PATCH, exc)


def _forget(instrumentor: TokenTrailInstrumentor) -> None:
    with _waiting_lock:
        for module, waiting in list(_waiting.items()):
            kept = [entry for entry in waiting if entry[0] is not instrumentor]
            if kept:
                _waiting[module] = kept
            else:
                del _waiting[module]


def _warn_if_foreign(owner: Any, method: str) -> None:
    """Another instrumentation already wraps this method: its spans and ours would both count
    the call. Say so once, at instrument time."""
    current = owner.__dict__.get(method)
    # any wrapt function wrapper (wrapt 2 no longer makes them ObjectProxy instances)
    wrapper = getattr(current, "_self_wrapper", None)
    if wrapper is not None and not getattr(wrapper, "_tokentrail", False):
        logger.warning(
            "tokentrail: %s.%s is already wrapped by %s; two instrumentations of the same SDK "
            "report each call twice (disable one, e.g. with OTEL_PYTHON_DISABLED_INSTRUMENTATIONS)",
            getattr(owner, "__qualname__", owner.__name__),  # a class, or a module
            method,
            getattr(wrapper, "__module__", "another instrumentation"),
        )
