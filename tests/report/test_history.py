"""``tokentrail report`` against a real Prometheus holding five weeks of synthetic history
(synthetic.py, backfilled with promtool): every figure equals what the test computes from the
history itself."""

from __future__ import annotations

import math
import statistics
from datetime import datetime, timezone

import pytest

from . import synthetic as s
from .conftest import HistoryServer, report_json

pytestmark = pytest.mark.e2e

FROM = "2026-03-11T00:00:00Z"
TO = "2026-03-18T00:00:00Z"


@pytest.fixture(scope="module")
def weekly(history_prometheus: HistoryServer):
    return report_json(
        "--prometheus", history_prometheus.url, "--from", FROM, "--to", TO,
        "--monthly-budget", "3000",
    )  # fmt: skip


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_totals_and_breakdowns_equal_the_history(weekly, history_prometheus: HistoryServer):
    history = history_prometheus.history
    start = s.END - s.WEEK
    totals = weekly["sections"]["totals"]
    assert totals["status"] == "ok"
    assert totals["cost_usd"] == pytest.approx(history.cost(start, s.END), rel=1e-9)
    assert totals["requests"] == history.requests(start, s.END)
    by_feature = {r["name"]: r["cost_usd"] for r in totals["by"]["feature"]}
    for feature in ("search", "chat", "summarize", "agents", "legal"):
        assert by_feature[feature] == pytest.approx(history.cost(start, s.END, feature), rel=1e-9)
    assert sum(r["share"] for r in totals["by"]["model"]) == pytest.approx(1.0)
    unpriced = next(r for r in totals["by"]["model"] if r["name"] == "ft:gpt-4o-mini:acme")
    assert unpriced["cost_usd"] == 0
    assert unpriced["cost_per_request_usd"] is None


def test_growth_week_over_week_and_sustained(weekly, history_prometheus: HistoryServer):
    history = history_prometheus.history
    growth = {r["name"]: r for r in weekly["sections"]["trend"]["growth_by_feature"]}
    weeks = [history.cost(s.END - (k + 1) * s.WEEK, s.END - k * s.WEEK, "agents") for k in range(4)]
    agents = growth["agents"]
    assert agents["week_over_week"] == pytest.approx(weeks[0] / weeks[1] - 1, rel=1e-9)
    # the least-squares slope of ln(weekly cost) against the week number
    xs, ys = [0, 1, 2, 3], [math.log(c) for c in reversed(weeks)]
    slope = statistics.linear_regression(xs, ys).slope
    assert agents["weekly_growth"] == pytest.approx(math.exp(slope) - 1, rel=1e-9)
    assert agents["weekly_growth"] == pytest.approx(s.GROWTH_PER_WEEK, abs=0.02)
    assert agents["verdict"] == "growing"
    assert growth["legal"]["verdict"] == "steady"


def test_projection_and_the_day_each_budget_runs_out(weekly, history_prometheus: HistoryServer):
    history = history_prometheus.history
    projection = weekly["sections"]["projection"]
    month_to_date = history.cost(s.MONTH_START, s.END)
    assert projection["month_to_date_usd"] == pytest.approx(month_to_date, rel=1e-9)
    rate = history.cost(s.END - s.WEEK, s.END) / s.WEEK
    left = s.MONTH_END - s.END
    assert projection["month_end_at_rate_usd"] == pytest.approx(month_to_date + rate * left)
    weeks = [history.cost(s.END - (k + 1) * s.WEEK, s.END - k * s.WEEK) for k in range(4)]
    slope = statistics.linear_regression([0, 1, 2, 3], [math.log(c) for c in reversed(weeks)])
    k = slope.slope / s.WEEK  # ln(1 + g) per second
    rate_now = rate * math.exp(k * s.WEEK / 2)  # the 7-day mean is the rate mid-week
    at_growth = month_to_date + rate_now * (math.exp(k * left) - 1) / k
    assert projection["month_end_at_growth_usd"] == pytest.approx(at_growth, rel=1e-9)

    budgets = {b["name"]: b for b in projection["budgets"]}
    # --monthly-budget 3000: month to date + rate_now * (e^(kx) - 1) / k = 3000
    x = math.log(1 + (3000 - month_to_date) * k / rate_now) / k
    assert budgets["--monthly-budget"]["exhausted_at_growth"] == iso(round(s.END + x))
    assert budgets["--monthly-budget"]["exhausted_at_rate"] == iso(
        round(s.END + (3000 - month_to_date) / rate)
    )
    # the backfilled gauge budget, at the rate of its spend gauge over the last day
    gauge = budgets[s.BUDGET_NAME]
    limit = history_prometheus.budget_limit
    assert gauge["limit_usd"] == limit
    assert gauge["spent_usd"] == pytest.approx(month_to_date, rel=1e-6)
    day_rate = history.cost(s.END - s.DAY, s.END) / s.DAY
    assert gauge["exhausted_at_rate"] == iso(round(s.END + (limit - month_to_date) / day_rate))
    assert gauge["status"] == "will exceed"


def expected_anomalies(history: s.History, start: float, end: float) -> list[float]:
    """Hours of [start, end) whose total cost is > 3 sd above the same hour on the previous
    14 days (sd at least 10 % of the mean), computed here from the history."""
    totals = history.hourly_total()
    found = []
    for hour in range(int(start), int(end), s.HOUR):
        baseline = [totals[hour - d * s.DAY] for d in range(1, 15) if hour - d * s.DAY >= s.START]
        mean = statistics.mean(baseline)
        sd = max(statistics.stdev(baseline), 0.1 * mean)
        if (totals[hour] - mean) / sd > 3:
            found.append(hour)
    return found


def test_the_planted_spike_is_the_only_anomaly(weekly, history_prometheus: HistoryServer):
    expected = expected_anomalies(history_prometheus.history, s.END - s.WEEK, s.END)
    assert expected == [s.SPIKE]
    section = weekly["sections"]["anomalies"]
    assert [a["hour"] for a in section["anomalies"]] == [iso(s.SPIKE)]
    assert section["hours_assessed"] == 168
    driver = section["anomalies"][0]["drivers"][0]
    assert (driver["feature"], driver["model"]) == ("chat", "gpt-4o")
    assert driver["share_of_excess"] > 0.9


def test_a_normal_day_has_no_anomaly(history_prometheus: HistoryServer):
    day = s.END - 3 * s.DAY  # Sunday 2026-03-15
    assert expected_anomalies(history_prometheus.history, day, day + s.DAY) == []
    report = report_json(
        "--prometheus", history_prometheus.url, "--from", iso(day), "--to", iso(day + s.DAY)
    )
    anomalies = report["sections"]["anomalies"]
    assert anomalies["hours_assessed"] == 24
    assert anomalies["anomalies"] == []


def test_efficiency_finds_the_truncation_heavy_feature(weekly, history_prometheus: HistoryServer):
    efficiency = weekly["sections"]["efficiency"]
    history = history_prometheus.history
    summarize = [i for i, line in enumerate(s.LINES) if line.feature == "summarize"]
    hours = [h for (i, t), h in history.hours.items() if i in summarize and t >= s.END - s.WEEK]
    length = sum(h.requests[("length", "")] for h in hours)
    finished = sum(sum(h.requests.values()) for h in hours)
    rows = {r["name"]: r for r in efficiency["by_feature"]}
    assert rows["summarize"]["truncation_rate"] == pytest.approx(length / finished)
    flagged = {(f["metric"], f["feature"]) for f in efficiency["findings"]}
    assert ("truncation_rate", "summarize") in flagged
    assert ("truncation_rate", "chat") not in flagged
    assert ("unpriced_share", "search") in flagged
    assert rows["chat"]["cache_hit_ratio"] == pytest.approx(0.7, abs=1e-4)
    # 65 % of summarize's inputs are in the bucket (1024, 4096]: 15 % below, so the median is
    # at (0.5 - 0.15) / 0.65 of the bucket
    assert rows["summarize"]["input_tokens_p50"] == pytest.approx(
        1024 + 3072 * (0.35 / 0.65), rel=1e-3
    )


def test_the_json_format_is_stable(weekly):
    assert weekly["schema"] == "tokentrail.report/1"
    assert list(weekly["sections"]) == [
        "totals", "trend", "projection", "anomalies", "efficiency", "top_users", "top_calls",
    ]  # fmt: skip
    assert weekly["range"] == {
        "start": FROM,
        "end": TO,
        "step": "1h",
        "step_s": 3600,
    }
    assert weekly["sections"]["top_users"] == {
        "status": "omitted",
        "reason": "needs --spans: user.id and trace ids are on spans only, never on metrics",
    }
    assert len(weekly["sections"]["trend"]["overall"]) == 168


def test_a_finer_step_and_an_unaligned_start_count_every_hour_once(history_prometheus):
    """Samples are hourly: from 00:30 at 15-minute steps (requests at hourly steps from 00:30),
    each hour's increase still lands in exactly one step."""
    history = history_prometheus.history
    report = report_json(
        "--prometheus", history_prometheus.url, "--from", "2026-03-11T00:30:00Z", "--to", TO,
        "--step", "15m",
    )  # fmt: skip
    totals = report["sections"]["totals"]
    assert report["range"]["step"] == "15m"
    assert totals["cost_usd"] == pytest.approx(history.cost(s.END - s.WEEK, s.END), rel=1e-9)
    assert totals["requests"] == history.requests(s.END - s.WEEK, s.END)
    assert len(report["sections"]["trend"]["overall"]) == 7 * 96 - 2
