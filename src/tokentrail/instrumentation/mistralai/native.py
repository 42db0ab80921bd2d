"""One span per call alongside the mistralai SDK's own OpenTelemetry tracing.

mistralai >= 1.10 traces its calls through a request hook (``_hooks/tracing.py``): before each
request it calls ``get_traced_request_and_span(...)``, which opens a span that later gets the
call's usage. The hook's tracer comes from ``get_or_create_otel_tracer``: in 1.10 to 2.x
always from the global tracer provider, so any application that sets one (every application
that exports tokentrail's spans) gets the SDK's spans; in 3.x only when told to
(``MISTRAL_SDK_TELEMETRY`` or ``configure_telemetry(client, ...)``), from the global provider
(``"global"``) or from a provider of the client's own (``"dedicated"``, which exports to
Mistral, or one the application passed).

A span of the SDK's beside tokentrail's, in the same traces, would carry the same usage twice.
So while tokentrail is sending a call it instruments, the hook opens no span when its tracer
is the global provider's: the call has one span, tokentrail's, with its usage, cost and
attribution. The SDK's calls that tokentrail does not instrument (files, batches, agents,
conversations, OCR ...) keep the SDK's spans, and so do all the calls of a client given a
tracer provider of its own (they go where that provider sends them, not into the traces
tokentrail's spans are in). Both functions are looked up by the hook in its module's
namespace, which is where they are wrapped.
"""

from __future__ import annotations

import weakref
from typing import Any

from ... import _guard
from ...telemetry.emitter import current_call

_SKIP_SPAN = _guard.site(
    "mistralai.native_tracing", "tokentrail.instrumentation.mistralai.native:_sending"
)

#: the modules that hold the SDK's tracing hook (2.x and 3.x; 1.x)
HOOK_MODULES = ("mistralai.client._hooks", "mistralai._hooks")
HOOK_SUBMODULE = "tracing"
TRACER_LOOKUP = "get_or_create_otel_tracer"
SPAN_START = "get_traced_request_and_span"

#: tracers of a client's own tracer provider (3.x): their spans are left alone
_own_provider_tracers: weakref.WeakSet = weakref.WeakSet()


def get_or_create_otel_tracer(
    wrapped: Any, instance: Any, args: tuple, kwargs: dict[str, Any]
) -> Any:
    """Wrapper of the hook's tracer lookup: remembers the tracers of a client's own provider
    (3.x passes it; None, or no argument in older versions, is the global provider)."""
    found = wrapped(*args, **kwargs)
    if kwargs.get("provider", args[0] if args else None) is not None:
        try:
            _own_provider_tracers.add(found[1])
        except Exception as exc:  # a tracer that cannot be referenced weakly
            _guard.report(_SKIP_SPAN, exc)
    return found


def get_traced_request_and_span(
    wrapped: Any, instance: Any, args: tuple, kwargs: dict[str, Any]
) -> Any:
    """Wrapper of the hook's span start: no span of the global provider's for a call tokentrail
    is sending (the request goes out as the SDK built it, without the SDK's trace context)."""
    try:
        if _sending() and _tracer(args, kwargs) not in _own_provider_tracers:
            return _request(args, kwargs), kwargs.get("span", args[2] if len(args) > 2 else None)
    except Exception as exc:
        _guard.report(_SKIP_SPAN, exc)
    return wrapped(*args, **kwargs)


def _sending() -> bool:
    call = current_call()
    return call is not None and not call.ended


# the SDK calls ``get_traced_request_and_span(tracing_enabled, tracer, span, operation_id,
# request)``, with keywords in every version so far
def _tracer(args: tuple, kwargs: dict[str, Any]) -> Any:
    return kwargs["tracer"] if "tracer" in kwargs else args[1]


def _request(args: tuple, kwargs: dict[str, Any]) -> Any:
    return kwargs["request"] if "request" in kwargs else args[4]


get_or_create_otel_tracer._tokentrail = True  # type: ignore[attr-defined]
get_traced_request_and_span._tokentrail = True  # type: ignore[attr-defined]
