"""The shipped Collector config, live: OTLP in, the privacy stage, traces into Jaeger, metrics
into Prometheus under the names of the metric contract (src/tokentrail/names.py), and an alert
on the cost counter through Alertmanager to a webhook. Also the grafana-stack example (OTLP to
a trace backend, remote write to Prometheus), which must produce the same series names.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterator, Sequence

import pytest
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.metrics import Meter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Tracer

from .harness import (
    COLLECTOR_DIR,
    Collector,
    Jaeger,
    Prometheus,
    WebhookReceiver,
    span_events,
    span_tags,
)

pytestmark = pytest.mark.e2e

MODEL = "gpt-4o-mini"
SPAN_NAME = f"chat {MODEL}"
USER_ID = "u-42"
INPUT_MESSAGES = json.dumps([{"role": "user", "parts": [{"type": "text", "content": "Hi!"}]}])
OUTPUT_MESSAGES = json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "Hey"}]}])
DETAILS_EVENT = "gen_ai.client.inference.operation.details"
METRIC_ATTRIBUTES = {
    "gen_ai.provider.name": "openai",
    "gen_ai.operation.name": "chat",
    "gen_ai.request.model": MODEL,
    "gen_ai.response.model": f"{MODEL}-2024-07-18",
    "tokentrail.feature": "search",
    "user.id": USER_ID,  # tokentrail never does this; the collector must drop it from metrics
}


@contextlib.contextmanager
def otlp_sdk(collector: Collector, service: str) -> Iterator[tuple[Tracer, Meter]]:
    """A tracer and a meter exporting over OTLP/HTTP to ``collector``; on exit everything
    recorded has been sent (cumulative metrics, as the SDK's OTLP exporter defaults to)."""
    url = collector.endpoints.otlp_http_url
    resource = Resource.create({"service.name": service})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{url}/v1/traces"))
    )
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=f"{url}/v1/metrics"), export_interval_millis=3_600_000
    )
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    try:
        yield tracer_provider.get_tracer("tokentrail"), meter_provider.get_meter("tokentrail")
    finally:
        tracer_provider.shutdown()
        meter_provider.shutdown()


def send_chat_calls(collector: Collector, service: str, costs: Sequence[float]) -> None:
    """One GenAI chat span per cost, with content, and the metrics tokentrail records."""
    with otlp_sdk(collector, service) as (tracer, meter):
        cost_counter = meter.create_counter("tokentrail.cost.usd", unit="{USD}")
        token_usage = meter.create_histogram("gen_ai.client.token.usage", unit="{token}")
        duration = meter.create_histogram("gen_ai.client.operation.duration", unit="s")
        for cost in costs:
            attributes = {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": MODEL,
                "gen_ai.response.model": f"{MODEL}-2024-07-18",
                "gen_ai.usage.input_tokens": 1000,
                "gen_ai.usage.output_tokens": 250,
                "gen_ai.usage.cost": cost,
                "tokentrail.cost.status": "priced",
                "user.id": USER_ID,
                "gen_ai.input.messages": INPUT_MESSAGES,
            }
            with tracer.start_as_current_span(
                SPAN_NAME, kind=SpanKind.CLIENT, attributes=attributes
            ) as span:
                span.add_event(DETAILS_EVENT, {"gen_ai.output.messages": OUTPUT_MESSAGES})
            cost_counter.add(cost, METRIC_ATTRIBUTES)
            for token_type, count in (("input", 1000), ("output", 250)):
                token_usage.record(count, {**METRIC_ATTRIBUTES, "gen_ai.token.type": token_type})
            duration.record(0.8, METRIC_ATTRIBUTES)


def assert_design_series(prometheus: Prometheus, job: str, costs: Sequence[float]) -> None:
    """Prometheus holds the contract's series for ``job``, they add up, and carry no user_id."""
    prometheus.wait_for_value(f'sum(tokentrail_cost_usd_total{{job="{job}"}})', sum(costs))
    for name in (
        "gen_ai_client_token_usage_bucket",
        "gen_ai_client_token_usage_sum",
        "gen_ai_client_operation_duration_seconds_bucket",
    ):
        assert prometheus.query(f'{name}{{job="{job}"}}'), f"no {name} series for job {job}"
    tokens = prometheus.value(f'sum(gen_ai_client_token_usage_sum{{job="{job}"}})')
    assert tokens == (1000 + 250) * len(costs)
    assert not prometheus.query(f'{{job="{job}", user_id!=""}}'), "user.id reached a metric"


def test_span_reaches_jaeger_with_cost_and_without_content(
    collector: Collector, jaeger: Jaeger
) -> None:
    send_chat_calls(collector, "e2e-default-traces", [0.000375])

    span = jaeger.wait_for_span("e2e-default-traces", SPAN_NAME)
    tags = span_tags(span)
    assert tags["gen_ai.operation.name"] == "chat"
    assert tags["gen_ai.request.model"] == MODEL
    assert tags["gen_ai.usage.input_tokens"] == 1000
    assert tags["gen_ai.usage.output_tokens"] == 250
    assert tags["gen_ai.usage.cost"] == 0.000375
    assert tags["span.kind"] == "client"
    assert tags["user.id"] == USER_ID  # kept by default
    assert "gen_ai.input.messages" not in tags
    assert span_events(span) == {DETAILS_EVENT: {}}  # the event stays, its content goes


def test_privacy_toggles_hash_user_id_and_keep_content(
    collector_factory: Callable[..., Collector], jaeger: Jaeger
) -> None:
    collector = collector_factory(
        env={"TOKENTRAIL_COLLECTOR_USER_ID": "hash", "TOKENTRAIL_COLLECTOR_CONTENT": "keep"}
    )
    send_chat_calls(collector, "e2e-privacy-toggles", [0.000375])

    span = jaeger.wait_for_span("e2e-privacy-toggles", SPAN_NAME)
    tags = span_tags(span)
    assert tags["user.id"] == hashlib.sha256(USER_ID.encode()).hexdigest()
    assert tags["gen_ai.input.messages"] == INPUT_MESSAGES
    assert span_events(span) == {DETAILS_EVENT: {"gen_ai.output.messages": OUTPUT_MESSAGES}}


def test_cost_reaches_prometheus_and_alerts_through_alertmanager(
    collector: Collector, prometheus: Prometheus, webhook: WebhookReceiver
) -> None:
    costs = [0.125, 0.25, 0.125]  # exact in binary floating point
    send_chat_calls(collector, "e2e-default-metrics", costs)

    assert_design_series(prometheus, "e2e-default-metrics", costs)
    # harness.E2E_RULES: sum by (job) (tokentrail_cost_usd_total) > 0
    alert = webhook.wait_for_alert("TokentrailE2ECostSeen", job="e2e-default-metrics")
    assert alert["annotations"]["summary"] == "e2e-default-metrics spent 0.5 USD"


def test_grafana_stack_example_remote_writes_the_same_names(
    collector_factory: Callable[..., Collector], jaeger: Jaeger, prometheus: Prometheus
) -> None:
    collector = collector_factory(
        COLLECTOR_DIR / "examples" / "grafana-stack.yaml",
        env={
            "TEMPO_OTLP_ENDPOINT": jaeger.otlp_grpc,  # Jaeger speaks OTLP like Tempo does
            "PROMETHEUS_REMOTE_WRITE_URL": f"{prometheus.url}/api/v1/write",
        },
    )
    costs = [0.125, 0.125]
    send_chat_calls(collector, "e2e-grafana-stack", costs)

    assert_design_series(prometheus, "e2e-grafana-stack", costs)
    assert "gen_ai.input.messages" not in span_tags(
        jaeger.wait_for_span("e2e-grafana-stack", SPAN_NAME)
    )
