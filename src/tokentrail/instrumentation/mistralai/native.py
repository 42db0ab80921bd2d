"""One span per call alongside the mistralai SDK's own OpenTelemetry tracing.

mistralai >= 1.10 traces its calls through a request hook (``_hooks/tracing.py``): before each
request it asks ``get_or_create_otel_tracer()`` for a tracer and, when that reports a real
tracer provider, opens a span with the call's usage. Which provider it asks for differs by
version: 1.10 to 2.x always use the global tracer provider, so any application that sets one
(every application that exports tokentrail's spans) gets them; 3.x traces only when told to
(``MISTRAL_SDK_TELEMETRY`` or ``configure_telemetry(client, ...)``), through the global provider
(``"global"``) or through a provider of the client's own (``"dedicated"``, which exports to
Mistral, or one the application passed).

A span of the SDK's beside tokentrail's, in the same traces, would carry the same usage twice.
So while tokentrail is sending a call it instruments, the hook is told that tracing is off
when it asks for the global provider's tracer: the call has one span, tokentrail's, with its
usage, cost and attribution. The SDK's calls that tokentrail does not instrument (files,
batches, agents, conversations, OCR ...) keep the SDK's spans, and a client given a tracer
provider of its own keeps all of its spans (they go where that provider sends them).
"""

from __future__ import annotations

from typing import Any

from ... import _guard
from ...telemetry.emitter import current_call

_SWITCH_OFF = _guard.site("mistralai.native_tracing", None)

#: the modules that hold the SDK's tracing hook (3.x and 2.x; 1.x): the hook calls
#: ``get_or_create_otel_tracer`` through their namespace
HOOK_MODULES = ("mistralai.client._hooks", "mistralai._hooks")
HOOK_SUBMODULE = "tracing"
HOOK_NAME = "get_or_create_otel_tracer"


def get_or_create_otel_tracer(
    wrapped: Any, instance: Any, args: tuple, kwargs: dict[str, Any]
) -> Any:
    """Wrapper of the hook's tracer lookup: "tracing off" for the global provider while a call
    tokentrail traces is being sent."""
    found = wrapped(*args, **kwargs)
    try:
        if found[0] and _sending_through_the_global_provider(args, kwargs):
            return False, found[1]
    except Exception as exc:
        _guard.report(_SWITCH_OFF, exc)
    return found


def _sending_through_the_global_provider(args: tuple, kwargs: dict[str, Any]) -> bool:
    call = current_call()
    if call is None or call.ended:
        return False
    # 3.x passes the client's own provider (None: the global one); older versions pass none
    return kwargs.get("provider", args[0] if args else None) is None


get_or_create_otel_tracer._tokentrail = True  # type: ignore[attr-defined]
