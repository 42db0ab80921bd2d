"""One span per call alongside the anthropic SDK's own OpenTelemetry tracing (anthropic >= 1.14).

The SDK opens a ``CLIENT`` span per API call (``anthropic.messages.create``, scope
``com.anthropic.sdk.python``, the global tracer provider by default) with usage attributes,
makes it current while sending and writes its trace context into the request headers. A
tokentrail span around the call would get it as a child: two spans carrying usage.

So while a patched call is being sent (it is the ``current_call()``, and its span the current
span), the SDK's ``start_api_call_span`` returns, instead of a new span, a non-recording
stand-in that carries the context of tokentrail's span. The SDK
then goes on as it does for a span it may not record but must propagate: it makes the stand-in
current, writes *tokentrail's* trace context into each attempt's headers (as its
``propagation`` option says, after request signing, as usual), and skips all its attribute and
stream-event work. The caller gets one span, ``chat {model}`` with usage, cost and attribution,
whose context is the ``traceparent`` the request carries; and the call costs less than with
the SDK's tracing alone. With the SDK's tracing off (``open_telemetry=False``) the SDK asks for
no span, sends no trace context, and tokentrail's span is the call's span as for other SDKs.

``start_api_call_span`` is private SDK API. When it is missing (``adoptable()`` false) calls on
clients whose tracing is on get no tokentrail span (the SDK's carries their usage; tokentrail
still records their tokens and cost as metrics), so there are never two.
"""

from __future__ import annotations

import functools
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan

from ... import _guard
from ...telemetry.emitter import current_call

_STAND_IN = _guard.site(
    "anthropic.native_span", "tokentrail.instrumentation.anthropic.native:stand_in"
)

#: where the SDK starts its call spans (``anthropic._base_client`` imports it by name)
HOOK_MODULE = "anthropic._base_client"
HOOK_NAME = "start_api_call_span"


@functools.cache
def adoptable() -> bool:
    """The SDK's call span can be replaced (or the SDK has none). Asked at call time, when
    the SDK is imported anyway: importing tokentrail or instrumenting imports no SDK."""
    try:
        import anthropic._base_client as base_client
    except ImportError:  # pragma: no cover - every supported anthropic has it
        return False
    # anthropic < 1.14 has no tracing of its own: nothing to stand in for
    return hasattr(base_client, HOOK_NAME) or not hasattr(base_client.BaseClient, "open_telemetry")


def native_tracing_on(client: Any) -> bool:
    """Whether ``client`` opens spans of its own (its resolved ``open_telemetry`` option)."""
    options = getattr(client, "open_telemetry", None)
    traces = options.get("traces") if isinstance(options, dict) else None
    return bool(traces and traces.get("enabled"))


def start_api_call_span(wrapped: Any, instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
    """Wrapper of the SDK's ``start_api_call_span``: the call span of a call tokentrail is
    sending is a stand-in for tokentrail's span."""
    call = current_call()
    if call is None:
        return wrapped(*args, **kwargs)
    try:
        span = stand_in(call)
    except Exception as exc:
        _guard.report(_STAND_IN, exc)
        span = None
    return span if span is not None else wrapped(*args, **kwargs)


def stand_in(call: Any) -> NonRecordingSpan | None:
    """A non-recording span with the context of ``call``'s span while that span is the
    current one (the call is being sent), else None."""
    span = call.span
    if span is not None and trace.get_current_span() is span and not call.ended:
        context = span.get_span_context()
        if context.is_valid:
            return NonRecordingSpan(context)
    return None


start_api_call_span._tokentrail = True  # type: ignore[attr-defined]
