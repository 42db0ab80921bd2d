"""The whole product, end to end: ``tokentrail demo`` run as a user runs it, exporting over
OTLP to the shipped Collector, which sends traces to Jaeger and metrics to Prometheus, whose
rule fires an alert through Alertmanager to a webhook.

What must hold: the spans arrive with their GenAI attributes and cost; the cost Prometheus
sums equals the demo's own total (computed from its spans); the alert reaches the webhook.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest

from tests.demo_process import run_demo_exporting

from .harness import Collector, Jaeger, Prometheus, WebhookReceiver, span_tags, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo_run(collector: Collector, tmp_path_factory):
    """Run the demo once against the collector; return (service name, summary)."""
    service = f"tokentrail-demo-{uuid.uuid4().hex[:8]}"
    summary_path = tmp_path_factory.mktemp("demo") / "summary.json"
    result = run_demo_exporting(collector.endpoints.otlp_http_url, service, summary_path)
    assert result.returncode == 0, result.stdout + result.stderr
    return service, json.loads(summary_path.read_text())


def test_traces_arrive_with_genai_attributes_and_cost(demo_run, jaeger: Jaeger):
    service, summary = demo_run

    def all_spans():
        spans = [s for t in jaeger.traces(service) for s in t["spans"]]
        return spans if len(spans) >= summary["calls"] else None

    spans = wait_until(all_spans, timeout=30, what=f"{summary['calls']} spans in Jaeger")
    assert len(spans) == summary["calls"]
    search = [span_tags(s) for s in spans if s["operationName"] == "chat gpt-4o-mini"]
    priced = [tags for tags in search if "error.type" not in tags]
    failed = [tags for tags in search if "error.type" in tags]
    assert priced
    # Jaeger returns spans in no set order, and other features call gpt-4o-mini too
    tags = next(t for t in priced if t["tokentrail.feature"] == "search")
    assert tags["gen_ai.provider.name"] == "openai"
    assert tags["gen_ai.operation.name"] == "chat"
    assert tags["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert tags["gen_ai.usage.input_tokens"] > 0
    assert tags["gen_ai.usage.cost"] > 0
    assert tags["tokentrail.feature"] == "search"
    assert tags["tokentrail.cost.status"] == "priced"
    assert [t["error.type"] for t in failed] == ["InternalServerError"]
    costs = [span_tags(s).get("gen_ai.usage.cost") for s in spans]
    jaeger_total = sum(Decimal(repr(c)) for c in costs if c is not None)
    assert jaeger_total == Decimal(summary["total_cost_usd"])


def test_prometheus_cost_equals_the_demo_total(demo_run, prometheus: Prometheus):
    service, summary = demo_run
    total = float(summary["total_cost_usd"])
    assert total > 0
    prometheus.wait_for_value(f'sum(tokentrail_cost_usd_total{{job="{service}"}})', total)
    requests = prometheus.value(f'sum(tokentrail_requests_total{{job="{service}"}})')
    assert requests == summary["calls"]
    unpriced = prometheus.value(
        f'sum(tokentrail_requests_total{{job="{service}",tokentrail_cost_status="unpriced"}})'
    )
    assert unpriced == sum(summary["unpriced_models"].values())


def test_a_cost_alert_reaches_the_webhook_through_alertmanager(
    demo_run, prometheus: Prometheus, webhook: WebhookReceiver
):
    service, _ = demo_run
    alert = webhook.wait_for_alert("TokentrailE2ECostSeen", job=service)
    assert alert["labels"]["severity"] == "test"
