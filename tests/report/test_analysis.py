"""The analyses and renderers without any server: the synthetic history fed straight into
the report's data model, and the formulas against values worked out by hand."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest

from tokentrail.report.analysis.anomalies import anomalies, score
from tokentrail.report.analysis.efficiency import histogram_quantile
from tokentrail.report.analysis.projection import runs_out_after, spend
from tokentrail.report.analysis.totals import totals
from tokentrail.report.analysis.trends import fit_growth, sustained, trend
from tokentrail.report.model import Report
from tokentrail.report.queries import DIMENSIONS, Increases, MetricData, increase_query
from tokentrail.report.render import csvfmt, jsonfmt, markdown, text
from tokentrail.report.timerange import RangeError, TimeRange, auto_step

from . import synthetic as s


@pytest.fixture(scope="module")
def metrics() -> MetricData:
    """The history as the queries would return it: hourly increases by label set."""
    history = s.generate()
    dims = tuple(DIMENSIONS.values())
    cost = Increases(dims)
    for (i, t), hour in history.hours.items():
        line = s.LINES[i]
        labels = {"tokentrail_feature": line.feature, "tokentrail_team": line.team,
                  "gen_ai_request_model": line.model, "gen_ai_provider_name": line.provider,
                  "tokentrail_endpoint": line.endpoint}  # fmt: skip
        if not line.unpriced:
            cost.add(labels, t, hour.cost)
    time_range = TimeRange(s.END - s.WEEK, s.END, 3600)
    return MetricData(
        time_range=time_range,
        history_start=s.START,
        cost_hourly=cost,
        cost=cost.between(time_range.start, time_range.end),
        requests=Increases(
            (*dims, "tokentrail_cost_status", "error_type", "tokentrail_finish_reason")
        ),
        tokens=Increases((*dims, "gen_ai_token_type")),
        token_histogram=Increases(("tokentrail_feature", "gen_ai_token_type", "le")),
        budgets=[],
        server_version="test",
    )


def test_totals_trend_and_anomaly_from_the_data_model(metrics: MetricData):
    history = s.generate()
    section = totals(metrics)
    assert section.data is not None
    assert section.data["cost_usd"] == pytest.approx(history.cost(s.END - s.WEEK, s.END))
    growth = {r["name"]: r for r in trend(metrics).data["growth_by_feature"]}  # type: ignore[index]
    assert growth["agents"]["verdict"] == "growing"
    found = anomalies(metrics, 3.0).data["anomalies"]  # type: ignore[index]
    assert [a["hour"] for a in found] == ["2026-03-16T14:00:00Z"]


def test_every_format_renders_the_same_report(metrics: MetricData):
    report = Report("2026-03-18T00:00:00Z", {"start": "a", "end": "b", "step": "1h"}, {})
    for section in (totals(metrics), trend(metrics), anomalies(metrics, 3.0)):
        report.add(section)
    plain = text.render(report)
    assert "TOTALS AND BREAKDOWNS" in plain
    assert "2026-03-16 14:00" in plain
    assert "▁" in plain  # the trend's sparkline
    md = markdown.render(report)
    assert "## Anomalies" in md
    assert "| hour (UTC) |" in md
    data = json.loads(jsonfmt.render(report))
    assert data["schema"] == "tokentrail.report/1"
    rows = list(csv.DictReader(io.StringIO(csvfmt.render(report))))
    cost = next(r for r in rows if r["table"] == "By feature" and r["row"] == "agents"
                and r["column"] == "cost_usd")  # fmt: skip
    assert float(cost["value"]) == pytest.approx(
        data["sections"]["totals"]["by"]["feature"][1]["cost_usd"]
    )


def test_histogram_quantile_interpolates_like_prometheus():
    # 10 observations <= 100, 30 more <= 1000, 10 more above: the median (rank 25) is 15/30 of
    # the way through (100, 1000]; p95 falls in +Inf, so it is the last finite bound
    buckets = {100.0: 10, 1000.0: 40, math.inf: 50}
    assert histogram_quantile(0.5, buckets) == pytest.approx(100 + 900 * 15 / 30)
    assert histogram_quantile(0.95, buckets) == 1000.0
    assert histogram_quantile(0.1, buckets) == pytest.approx(50.0)
    assert histogram_quantile(0.5, {100.0: 0, math.inf: 0}) is None


def test_growth_fit_and_sustained_trend():
    weeks = [100 * 1.15**k for k in range(4)][::-1]  # most recent first
    assert fit_growth(weeks) == pytest.approx(0.15)
    assert sustained(weeks)["verdict"] == "growing"
    spiky = [300.0, 100.0, 101.0, 99.0]  # one big week is no trend
    assert sustained(spiky)["verdict"] == "steady"
    assert fit_growth([10.0, 0.0, 9.0]) is None
    assert sustained([10.0, 9.0])["verdict"] == "unknown"


def test_spend_and_run_out_formulas():
    rate, k = 2.0, math.log(1.1) / (7 * 86400)
    # the integral of rate * e^(k t) from 0 to T, summed numerically
    steps, horizon = 100_000, 20 * 86400
    dt = horizon / steps
    numeric = sum(rate * math.exp(k * (i + 0.5) * dt) * dt for i in range(steps))
    assert spend(rate, k, horizon) == pytest.approx(numeric, rel=1e-9)
    x = runs_out_after(numeric, rate, k)
    assert x == pytest.approx(horizon, rel=1e-9)
    assert runs_out_after(100.0, 2.0, 0.0) == 50.0
    assert runs_out_after(-1.0, 2.0, k) == 0.0
    assert runs_out_after(10.0, 0.0, k) is None
    assert runs_out_after(1e9, 1.0, -k) is None  # shrinking spend never gets there


def test_anomaly_score_has_a_floor():
    z, mean, sd = score(11.0, [10.0] * 14)  # a perfectly regular hour
    assert mean == 10.0
    assert sd == pytest.approx(1.0)  # 10 % of the mean
    assert z == pytest.approx(1.0)


def test_time_range_step_and_alignment():
    now = 1_773_000_000.5
    tr = TimeRange.resolve(since="7d", start=None, end=None, step=None, now=now)
    assert tr.step == 3600
    assert tr.start % 3600 == 0
    assert tr.end == now
    assert auto_step(3600) == 15
    assert auto_step(86400) == 300
    assert auto_step(90 * 86400) == 86400
    tr = TimeRange.resolve(since=None, start="2026-02-10", end="2026-02-17T12:00Z", step=None,
                           now=now)  # fmt: skip
    assert tr.month_start() == s.MONTH_START - 28 * 86400
    assert tr.month_end() == s.MONTH_START
    with pytest.raises(RangeError, match="in the future"):
        TimeRange.resolve(since=None, start=None, end=str(now + 3600), step=None, now=now)


def test_increase_query_counts_a_new_series_from_zero():
    query = increase_query("tokentrail_cost_usd_total", 'job="x"', ["tokentrail_feature"], 3600)
    assert query == (
        'sum by (tokentrail_feature) ((last_over_time(tokentrail_cost_usd_total{job="x"}[3600s])'
        ' - last_over_time(tokentrail_cost_usd_total{job="x"}[1h] offset 3600s)) >= 0'
        ' or last_over_time(tokentrail_cost_usd_total{job="x"}[3600s]))'
    )
    assert ":" not in query.split("{")[0]  # raw series only, never a recording rule


def test_without_finish_reasons_the_truncation_rate_says_why(metrics: MetricData):
    from dataclasses import replace

    from tokentrail.report.analysis.efficiency import efficiency

    requests = Increases(metrics.requests.labels)
    labels = {"tokentrail_feature": "search", "tokentrail_cost_status": "priced"}
    requests.add(labels, s.END - 3600, 120.0)  # recorded before tokentrail had finish reasons
    section = efficiency(replace(metrics, requests=requests))
    assert section.data is not None
    assert section.data["overall"]["truncation_rate"] is None
    assert "no tokentrail_finish_reason label" in section.data["omitted"]["truncation_rate"]
    assert not any(f["metric"] == "truncation_rate" for f in section.data["findings"])
