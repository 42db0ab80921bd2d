"""The Prometheus series that dashboards and alert rules query (docs/reference.md) are exactly
what the instrumented demo exposes on /metrics through opentelemetry-exporter-prometheus."""

import re

import pytest

from tests.demo_process import scrape, serving_demo

CONTRACT_SERIES = {
    "gen_ai_client_token_usage_bucket",
    "gen_ai_client_token_usage_sum",
    "gen_ai_client_token_usage_count",
    "gen_ai_client_operation_duration_seconds_bucket",
    "gen_ai_client_operation_duration_seconds_sum",
    "gen_ai_client_operation_duration_seconds_count",
    "gen_ai_client_operation_time_to_first_chunk_seconds_bucket",
    "tokentrail_tokens_total",
    "tokentrail_cost_usd_total",
    "tokentrail_requests_total",
}
COMMON_LABELS = {
    "gen_ai_provider_name", "gen_ai_operation_name", "gen_ai_request_model",
    "gen_ai_response_model", "server_address", "tokentrail_feature", "tokentrail_team",
    "tokentrail_endpoint",
}  # fmt: skip
SERIES = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")


@pytest.fixture(scope="module")
def exposition(tmp_path_factory):
    with serving_demo(tmp_path_factory.mktemp("demo"), "--rounds", "1") as (url, summary):
        yield scrape(url), summary


def _series(text):
    for line in text.splitlines():
        match = SERIES.match(line)
        if match:
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
            yield match.group(1), labels, float(match.group(3))


def test_every_contract_series_is_exposed(exposition):
    names = {name for name, _, _ in _series(exposition[0])}
    assert names >= CONTRACT_SERIES, sorted(CONTRACT_SERIES - names)


def test_metric_labels_stay_on_the_allow_list(exposition):
    """No user id, no per-request label: cardinality stays bounded."""
    own = {"le", "otel_scope_name", "otel_scope_version", "otel_scope_schema_url", "job",
           "instance", "gen_ai_token_type", "error_type", "tokentrail_cost_status"}  # fmt: skip
    for name, labels, _ in _series(exposition[0]):
        if name.startswith(("gen_ai_", "tokentrail_tokens", "tokentrail_cost", "tokentrail_req")):
            allowed = COMMON_LABELS | own
            if name == "tokentrail_requests_total":
                allowed = allowed | {"tokentrail_finish_reason"}
            assert set(labels) <= allowed, (name, labels)
            assert "user_id" not in labels


def test_token_types_and_cost_statuses(exposition):
    series = list(_series(exposition[0]))
    token_types = {
        labels["gen_ai_token_type"] for n, labels, _ in series if n == "tokentrail_tokens_total"
    }
    assert {"input", "output", "cache_read", "reasoning"} <= token_types
    requests = [labels for n, labels, _ in series if n == "tokentrail_requests_total"]
    assert {"priced", "unpriced"} <= {labels["tokentrail_cost_status"] for labels in requests}
    # the exporter gives every series of a metric the same labels, an absent one as ""
    errors = [labels for labels in requests if labels.get("error_type")]
    assert errors, "the demo's failing call is counted with its error.type"


def test_finish_reasons_are_the_closed_set(exposition):
    """Every request carries one of six finish reasons, the same for every provider; the
    demo's calls stop, call tools, hit the token limit and fail."""
    requests = [
        labels for n, labels, _ in _series(exposition[0]) if n == "tokentrail_requests_total"
    ]
    reasons = {labels["tokentrail_finish_reason"] for labels in requests}
    assert reasons <= {"stop", "length", "tool_calls", "content_filter", "error", "other"}
    assert {"stop", "error"} <= reasons
    for labels in requests:
        assert (labels["tokentrail_finish_reason"] == "error") == bool(labels.get("error_type"))


def test_exported_cost_equals_the_spans_total(exposition):
    """Metrics and spans read the same priced record: their totals agree to the cent-fraction."""
    import json

    text, summary = exposition
    exported = sum(v for n, _, v in _series(text) if n == "tokentrail_cost_usd_total")
    spans_total = float(json.loads(summary.read_text())["total_cost_usd"])
    assert exported == pytest.approx(spans_total, rel=1e-9)
    assert exported > 0
