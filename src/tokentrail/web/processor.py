"""The one piece of ``routes`` that needs the OTel SDK: a span processor that hands each span's
start to a function. Imported only to hook an SDK tracer provider, so the SDK is there."""

from __future__ import annotations

from collections.abc import Callable

from opentelemetry.context import Context
from opentelemetry.sdk.trace import Span, SpanProcessor


class SpanStarts(SpanProcessor):
    """Calls ``on_start(span)`` when a span starts; nothing else."""

    def __init__(self, on_start: Callable[[Span], None]) -> None:
        self._on_start = on_start

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self._on_start(span)
