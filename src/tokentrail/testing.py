"""Test helpers: in-memory OpenTelemetry providers and pytest fixtures.

Use it as a pytest plugin (``pytest_plugins = ["tokentrail.testing"]``) or directly::

    with tokentrail.testing.capture() as telemetry:
        client.chat.completions.create(...)
    assert telemetry.value("tokentrail.cost.usd") > 0

The providers are passed to ``instrument()`` explicitly; the global ones are never touched.
Needs ``opentelemetry-sdk`` (the ``demo`` and ``dev`` extras have it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tokentrail

from . import _guard

__all__ = ["Telemetry", "capture"]


class Telemetry:
    """In-memory trace and metric providers, and readers for what they captured."""

    def __init__(self) -> None:
        self.span_exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.span_exporter))
        self.metric_reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.metric_reader])

    # -- spans ---------------------------------------------------------------------------------

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        spans = list(self.span_exporter.get_finished_spans())
        return [s for s in spans if name is None or s.name == name]

    def span(self) -> ReadableSpan:
        """The one finished span (fails if there are none or several)."""
        spans = self.spans()
        assert len(spans) == 1, f"expected one span, got {[s.name for s in spans]}"
        return spans[0]

    # -- metrics -------------------------------------------------------------------------------

    def points(self, name: str) -> list[Any]:
        """Data points of the metric ``name`` (collected now; observable instruments run)."""
        data = self.metric_reader.get_metrics_data()
        points: list[Any] = []
        for resource_metrics in data.resource_metrics if data else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if metric.name == name:
                        points.extend(metric.data.data_points)
        return points

    def metric(self, name: str) -> Any:
        """The metric ``name`` itself (unit, description, data), or None."""
        data = self.metric_reader.get_metrics_data()
        for resource_metrics in data.resource_metrics if data else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if metric.name == name:
                        return metric
        return None

    def value(self, name: str, attributes: Mapping[str, Any] | None = None) -> float:
        """Sum of a counter's points (or of a histogram's sums) whose attributes include
        ``attributes``."""
        total = 0.0
        for point in self._matching(name, attributes):
            total += point.sum if hasattr(point, "bucket_counts") else point.value
        return total

    def count(self, name: str, attributes: Mapping[str, Any] | None = None) -> int:
        """Number of recordings in a histogram whose attributes include ``attributes``."""
        return sum(point.count for point in self._matching(name, attributes))

    def _matching(self, name: str, attributes: Mapping[str, Any] | None) -> list[Any]:
        wanted = dict(attributes or {})
        return [
            p for p in self.points(name) if all(p.attributes.get(k) == v for k, v in wanted.items())
        ]

    def clear(self) -> None:
        self.span_exporter.clear()

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


@contextlib.contextmanager
def capture(**instrument_kwargs: Any) -> Iterator[Telemetry]:
    """Instrument with fresh in-memory providers for the duration of the block."""
    telemetry = Telemetry()
    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        **instrument_kwargs,
    )
    try:
        yield telemetry
    finally:
        tokentrail.uninstrument()
        telemetry.shutdown()


# -- pytest fixtures (active when this module is loaded as a pytest plugin) -----------------

try:
    import pytest
except ImportError:  # pragma: no cover - pytest is only needed for the fixtures
    pass
else:

    @pytest.fixture
    def telemetry() -> Iterator[Telemetry]:
        """In-memory providers, not yet instrumented."""
        captured = Telemetry()
        yield captured
        captured.shutdown()

    @pytest.fixture
    def instrumented(telemetry: Telemetry) -> Iterator[Telemetry]:
        """``tokentrail.instrument()`` with the in-memory providers of ``telemetry``."""
        tokentrail.instrument(
            tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
        )
        yield telemetry
        tokentrail.uninstrument()

    @pytest.fixture
    def lenient() -> Iterator[None]:
        """Turn ``TOKENTRAIL_STRICT`` off: internal errors are logged and swallowed, as in
        production (for fault-injection tests)."""
        _guard.set_strict(False)
        _guard.reset()
        yield
        _guard.set_strict(None)
        _guard.reset()
