"""The route template of the web request a call is made in.

An OpenTelemetry web instrumentation (FastAPI/Starlette, Flask, Django, or any other that
follows the HTTP semantic conventions) opens a span for each request it serves and records the
matched route template on it as ``http.route`` (``/users/{user_id}/summary``: bounded, unlike
the raw path with ids in it). A call must find that span wherever the application makes it:
in the handler, in a background task or a thread the handler started, and inside a span the
application opened itself. The OTel API only exposes the *current* span, which is the request's
span in the handler but the application's own span inside a child span; and a span keeps only
its parent's ids, not the parent, so there is no walking up.

How it is found: tokentrail adds a span processor (``processor.SpanStarts``) to the SDK tracer
provider (the global one and the one given to ``instrument()``). When a request's span starts,
``on_span_start`` stores it in a ``ContextVar`` of the context that starts it, which is the
request's own context (the instrumentation makes the span current there). So it travels exactly
where the OTel context and the ``attribute()`` values travel: into asyncio tasks,
``asyncio.to_thread``, FastAPI's thread pool, Starlette background tasks and functions wrapped
with ``attribution.bind``; and a child span does not replace it. A call reads ``http.route``
from that span when it starts (not when the span started: Django sets it later), if the span
active at the call belongs to the same trace, so that a context that outlives its request (a
worker thread that serves one request after another) gives nothing to a call made outside any
request. (So a call made after the instrumentation closed the request's span and left no span
current gets no route: Flask and Django do that before a streamed body is produced.)

Alternatives weighed: a processor map from every span to its request span (a lookup at every
span start in the application, entries to drop when spans end, and a task that outlives the
child span it started in would lose the route); reading the frameworks' request objects (one
code path and one import per framework). Costs (bench/routes.py): a call outside any request
about 0.15 µs, one in a request about 1 µs; a span the application starts about 1 µs (the SDK
calls a processor at start and end; this one does a ``ContextVar.set`` for a request's span and
at most a ``ContextVar.get`` for another).

Only recorded spans reach span processors: a request that the sampler dropped has no span to
read, and its calls get no route.
"""

from __future__ import annotations

import contextvars
import threading
import time
import weakref
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from .. import _guard

#: set by the HTTP server instrumentations (the route template, e.g. ``/users/{user_id}``)
HTTP_ROUTE = "http.route"
#: the request method, under its current and its older semantic-convention name
HTTP_METHODS = ("http.request.method", "http.method")

#: seconds between two looks at the global tracer provider while it is not set yet
_RETRY_S = 1.0

_TRACK = _guard.site("web.track", "tokentrail.web.routes:_hook")
_START = _guard.site("web.request_span", "tokentrail.web.routes:_remember")

#: the span of the web request this context serves (set by ``on_span_start``)
request_span: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "tokentrail.request_span", default=None
)


def request_route() -> str | None:
    """The ``http.route`` of the web request this code runs in, or None (not in a request, or
    the request has no route, e.g. a 404)."""
    request = request_span.get()
    if request is None:
        if _tracking.global_pending:
            _tracking.retry_global()
        return None
    active = trace.get_current_span()
    if (
        active is not request
        and active.get_span_context().trace_id != request.get_span_context().trace_id
    ):
        return None
    return route_of(request)


def route_of(span: Any) -> str | None:
    route = span.attributes.get(HTTP_ROUTE)
    return route if isinstance(route, str) and route else None


def on_span_start(span: Any) -> None:
    """Called by the SDK as each span starts, in the context that starts it."""
    if not _tracking.users:
        return
    try:
        _remember(span)
    except Exception as exc:  # it would otherwise surface in the application's span start
        _guard.report(_START, exc)


def _remember(span: Any) -> None:
    """Remember ``span`` in this context if it is a request's span: a ``SERVER`` span, or an
    ``INTERNAL`` span with HTTP server attributes started inside a request's span that has no
    route (a framework instrumented under a generic server middleware, Flask under the WSGI
    middleware or Django under the ASGI one, opens an ``INTERNAL`` span with the route)."""
    kind = span.kind
    if kind is SpanKind.SERVER:
        request_span.set(span)
    elif kind is SpanKind.INTERNAL:
        outer = request_span.get()
        if outer is not None and _nested_request(span, outer):
            request_span.set(span)


def _nested_request(span: Any, outer: Any) -> bool:
    if route_of(outer) is not None:
        return False
    if span.get_span_context().trace_id != outer.get_span_context().trace_id:
        return False
    attributes = span.attributes
    return HTTP_ROUTE in attributes or any(name in attributes for name in HTTP_METHODS)


class _Tracking:
    """Which tracer providers carry the processor (each gets one, for the life of the process:
    the SDK cannot remove a processor), and how many runtimes want routes (none: the processor
    does nothing)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.providers: weakref.WeakSet[Any] = weakref.WeakSet()
        #: the global tracer provider was not set yet: look again from time to time
        self.global_pending = False
        self._retry_at = 0.0

    def retry_global(self) -> None:
        now = time.monotonic()
        if now < self._retry_at:
            return
        self._retry_at = now + _RETRY_S
        with self.lock:
            if self.global_pending and self.users:
                self._hook_global()

    def _hook_global(self) -> None:
        provider = trace.get_tracer_provider()
        self.global_pending = isinstance(provider, trace.ProxyTracerProvider)
        if not self.global_pending:
            _hook(provider)


_tracking = _Tracking()


def track(tracer_provider: Any = None) -> None:
    """A runtime wants routes: make sure the request spans of ``tracer_provider`` and of the
    global provider (now, or once it is set) are seen. Undo with ``untrack()``."""
    with _tracking.lock:
        _tracking.users += 1
        try:
            if tracer_provider is not None:
                _hook(tracer_provider)
            _tracking._hook_global()
        except Exception as exc:
            _guard.report(_TRACK, exc)


def untrack() -> None:
    with _tracking.lock:
        _tracking.users = max(0, _tracking.users - 1)
        if not _tracking.users:
            _tracking.global_pending = False


def _hook(provider: Any) -> None:
    """Add the processor to ``provider`` once; only an SDK provider takes processors."""
    if provider in _tracking.providers or not hasattr(provider, "add_span_processor"):
        return
    from .processor import SpanStarts  # the SDK is installed: the provider is one of its

    provider.add_span_processor(SpanStarts(on_span_start))
    _tracking.providers.add(provider)
