"""The metrics contract, for every provider (parametrised over tests/contract/scenarios.py):
instrument names, kinds, units and buckets; the attribute allow-list (never ``user.id``); the
closed set of finish reasons; and one record behind span and metrics."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.metrics.export import Histogram, Sum

import tokentrail

from .scenarios import scenarios

SCENARIOS = scenarios()

# The boundaries the GenAI semantic conventions advise (written out, not imported).
TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304,
                 16777216, 67108864]  # fmt: skip
DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48,
                    40.96, 81.92]  # fmt: skip

COMMON = {
    "gen_ai.provider.name",
    "gen_ai.operation.name",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "server.address",
    "tokentrail.feature",
    "tokentrail.team",
    "tokentrail.endpoint",
}
#: instrument -> (kind, unit, attributes allowed besides the common ones)
INSTRUMENTS = {
    "gen_ai.client.token.usage": (Histogram, "{token}", {"gen_ai.token.type"}),
    "gen_ai.client.operation.duration": (Histogram, "s", {"error.type"}),
    "gen_ai.client.operation.time_to_first_chunk": (Histogram, "s", set()),
    "tokentrail.tokens": (Sum, "{token}", {"gen_ai.token.type"}),
    "tokentrail.cost.usd": (Sum, "{USD}", set()),
    "tokentrail.requests": (
        Sum,
        "{request}",
        {"error.type", "tokentrail.cost.status", "tokentrail.finish_reason"},
    ),
}
FINISH_REASONS = {"stop", "length", "tool_calls", "content_filter", "error", "other"}


@pytest.fixture(params=sorted(SCENARIOS))
def scenario(request):
    return SCENARIOS[request.param]


@pytest.fixture
def recorded(telemetry, scenario):
    """Telemetry after a plain and a streamed call and a failed one, fully attributed."""
    fake = scenario.fake()
    client = scenario.client(fake)
    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    try:
        with tokentrail.attribute(
            feature="search", team="core", endpoint="/ask", user_id="u-42", tenant="acme"
        ):
            scenario.call(client)
            scenario.call(client, stream=True)
            expected = scenario.fail_next(fake)
            with pytest.raises(expected):
                scenario.call(client)
    finally:
        tokentrail.uninstrument()
    telemetry.failure = expected.__qualname__
    return telemetry


def scope_metrics(telemetry):
    data = telemetry.metric_reader.get_metrics_data()
    return [sm for rm in data.resource_metrics for sm in rm.scope_metrics]


def test_instrument_names_kinds_units_and_scope(recorded):
    """Every per-call instrument exists in scope ``tokentrail`` with its kind and unit;
    counters are monotonic."""
    metrics = {m.name: (sm.scope.name, m) for sm in scope_metrics(recorded) for m in sm.metrics}
    for name, (kind, unit, _) in INSTRUMENTS.items():
        scope, metric = metrics[name]
        assert scope == "tokentrail", name
        assert isinstance(metric.data, kind), name
        assert metric.unit == unit, name
        if kind is Sum:
            assert metric.data.is_monotonic, name


@pytest.mark.parametrize(
    ("name", "buckets"),
    [
        ("gen_ai.client.token.usage", TOKEN_BUCKETS),
        ("gen_ai.client.operation.duration", DURATION_BUCKETS),
    ],
)
def test_histograms_use_the_semconv_buckets(recorded, name, buckets):
    points = recorded.points(name)
    assert points
    for point in points:
        assert list(point.explicit_bounds) == buckets


def test_metric_attributes_are_the_allow_list_only(recorded):
    """Metrics carry the common allow-list plus their own attributes: never ``user.id`` nor a
    free-form attribution key, whatever the span has."""
    assert recorded.spans()[0].attributes["user.id"] == "u-42"
    for name, (_, _, own) in INSTRUMENTS.items():
        points = recorded.points(name)
        assert points, name
        for point in points:
            assert set(point.attributes) <= COMMON | own, (name, dict(point.attributes))
            assert point.attributes["tokentrail.feature"] == "search"
            assert point.attributes["tokentrail.team"] == "core"
            assert point.attributes["tokentrail.endpoint"] == "/ask"


def test_requests_carry_cost_status_finish_reason_and_error_type(recorded):
    """``tokentrail.requests`` counts every call with ``tokentrail.cost.status`` and a
    ``tokentrail.finish_reason`` of the closed set; a failed one also with ``error.type``
    (and finish reason ``error``)."""
    points = {
        (
            p.attributes.get("error.type"),
            p.attributes["tokentrail.cost.status"],
            p.attributes["tokentrail.finish_reason"],
        ): p.value
        for p in recorded.points("tokentrail.requests")
    }
    assert points == {(None, "priced", "stop"): 2, (recorded.failure, "priced", "error"): 1}


def test_span_and_metrics_read_the_same_record(recorded):
    """Cost and tokens are computed once: the spans' values add up to the metrics'."""
    spans = [s for s in recorded.spans() if "error.type" not in s.attributes]
    assert len(spans) == 2

    def span_sum(key):
        return sum(s.attributes.get(key, 0) for s in spans)

    assert recorded.value("tokentrail.cost.usd") == pytest.approx(
        span_sum("gen_ai.usage.cost"), rel=1e-12
    )
    for token_type, key in [
        ("input", "gen_ai.usage.input_tokens"),
        ("output", "gen_ai.usage.output_tokens"),
        ("cache_read", "gen_ai.usage.cache_read.input_tokens"),
        ("cache_creation", "gen_ai.usage.cache_creation.input_tokens"),
        ("reasoning", "gen_ai.usage.reasoning.output_tokens"),
    ]:
        assert recorded.value("tokentrail.tokens", {"gen_ai.token.type": token_type}) == span_sum(
            key
        ), token_type
    for token_type in ("input", "output"):
        attrs = {"gen_ai.token.type": token_type}
        assert recorded.value("gen_ai.client.token.usage", attrs) == span_sum(
            f"gen_ai.usage.{token_type}_tokens"
        )
        assert recorded.count("gen_ai.client.token.usage", attrs) == 2
    assert recorded.count("gen_ai.client.operation.duration") == 3
    assert recorded.count("gen_ai.client.operation.duration", {"error.type": recorded.failure}) == 1
    assert recorded.count("gen_ai.client.operation.time_to_first_chunk") == 1
