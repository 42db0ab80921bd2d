"""The OpenTelemetry SDK set-up of the demo application: what an app would do at start-up."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from ...version import __version__
from .. import CommandError


@dataclass
class DemoTelemetry:
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    exporting_to: list[str] = field(default_factory=list)

    def shutdown(self) -> None:
        self.tracer_provider.force_flush()
        self.meter_provider.force_flush()
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def _otlp_endpoint() -> str | None:
    return (
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
    )


def setup(ledger: SpanProcessor, *, metrics_port: int | None, metrics_host: str) -> DemoTelemetry:
    resource = Resource.create(
        {"service.name": os.environ.get("OTEL_SERVICE_NAME", "tokentrail-demo"),
         "service.version": __version__}
    )  # fmt: skip
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(ledger)
    readers: list[MetricReader] = []
    exporting: list[str] = []
    endpoint = _otlp_endpoint()
    if endpoint:
        span_exporter, metric_exporter = _otlp_exporters()
        tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
        interval = int(os.environ.get("OTEL_METRIC_EXPORT_INTERVAL", "5000"))
        readers.append(PeriodicExportingMetricReader(metric_exporter, interval))
        exporting.append(f"OTLP → {endpoint}")
    if metrics_port is not None:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import start_http_server

        try:
            start_http_server(metrics_port, addr=metrics_host)
        except OSError as exc:
            raise CommandError(
                f"--metrics-port {metrics_port}: cannot serve /metrics on "
                f"{metrics_host}:{metrics_port}: {exc.strerror or exc}"
            ) from None
        readers.append(PrometheusMetricReader())
        exporting.append(f"Prometheus → http://{metrics_host}:{metrics_port}/metrics")
    meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    # an application sets the global providers; other instrumentation (and the anthropic
    # SDK's own tracing) uses them too
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)
    return DemoTelemetry(tracer_provider, meter_provider, exporting)


def _otlp_exporters() -> tuple[Any, Any]:
    protocol = os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        except ImportError as exc:
            raise CommandError(
                "OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs opentelemetry-exporter-otlp-proto-grpc "
                "(pip install opentelemetry-exporter-otlp-proto-grpc)"
            ) from exc
        return OTLPSpanExporter(), OTLPMetricExporter()
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(), OTLPMetricExporter()
