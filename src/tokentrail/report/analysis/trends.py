"""Trend: cost per step over the range, overall and for the top features; week-over-week
growth per feature; and the *sustained* trend, growth over several weeks.

Weeks end at the range's end (rounded up to the hour): week 0 is the 7 days before it, week 1
the 7 days before that, and so on. Week-over-week growth is ``week0 / week1 - 1``. The
sustained trend fits a straight line to the logarithm of the weekly costs of the last
``WEEKS`` weeks (least squares), so its slope is a steady weekly growth rate; it is called
*growing* (or *shrinking*) only if every one of those weeks grew (shrank) on the one before and
the fitted rate is at least ``SUSTAINED_MIN`` per week. A single spike cannot make a trend.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from typing import Any

from ..model import Section
from ..queries import DIMENSIONS, Increases, MetricData
from ..timerange import DAY, HOUR, WEEK, iso
from . import ratio

#: weeks in the sustained-trend fit
WEEKS = 4
#: |weekly growth| at which a steady trend is called growing or shrinking
SUSTAINED_MIN = 0.05
#: features drawn one by one in the trend (the others are summed as "(other)")
TOP_FEATURES = 5
OTHER = "(other)"

FEATURE = DIMENSIONS["feature"]


def week_end(metrics: MetricData) -> float:
    end = metrics.time_range.end
    return end if end % HOUR == 0 else end - end % HOUR + HOUR


def weekly_costs(hourly: dict[float, float], end: float, first: float, weeks: int) -> list[float]:
    """Cost of week 0, 1, ... (most recent first) for the weeks that start at or after
    ``first`` (the first hour with data)."""
    out = []
    for k in range(weeks):
        lo, hi = end - (k + 1) * WEEK, end - k * WEEK
        if lo < first:
            break
        out.append(sum(v for t, v in hourly.items() if lo <= t < hi))
    return out


def fit_growth(weekly: list[float]) -> float | None:
    """Weekly growth rate of the least-squares line through ln(cost) (most recent first)."""
    points = [(-k, math.log(c)) for k, c in enumerate(weekly) if c > 0]
    if len(points) < 3 or len(points) != len(weekly):
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    slope = sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x, _ in points)
    return math.exp(slope) - 1


def sustained(weekly: list[float]) -> dict[str, Any]:
    growth = fit_growth(weekly)
    chronological = list(reversed(weekly))
    changes = [b - a for a, b in itertools.pairwise(chronological)]
    if growth is None:
        verdict = "unknown"
    elif growth >= SUSTAINED_MIN and all(c > 0 for c in changes):
        verdict = "growing"
    elif growth <= -SUSTAINED_MIN and all(c < 0 for c in changes):
        verdict = "shrinking"
    else:
        verdict = "steady"
    return {"weekly_growth": growth, "verdict": verdict, "weeks": len(weekly)}


def first_hour(hourly: Increases) -> float | None:
    starts = [t for row in hourly.rows.values() for t, v in row.items() if v > 0]
    return min(starts) if starts else None


def chart_series(metrics: MetricData) -> tuple[int, dict[str, dict[float, float]]]:
    """(chart step, {feature: {step start: cost}}) over the range, per report step (daily
    points are summed from the hourly ones)."""
    step = metrics.time_range.step
    by_feature = {k[0]: v for k, v in metrics.cost.series(FEATURE).items()}
    if step > HOUR:
        daily: dict[str, dict[float, float]] = {}
        for name, row in by_feature.items():
            days: dict[float, float] = defaultdict(float)
            for t, v in row.items():
                days[t - t % DAY] += v
            daily[name] = dict(days)
        by_feature = daily
    return step, by_feature


def grid(metrics: MetricData, step: int) -> list[float]:
    tr = metrics.time_range
    points = []
    t = tr.start
    while t < tr.end:
        points.append(t)
        t += step
    return points


def trend(metrics: MetricData) -> Section:
    if not metrics.cost_hourly and not metrics.cost:
        return Section.omit("trend", "no cost series in Prometheus for the range")
    step, by_feature = chart_series(metrics)
    starts = grid(metrics, step)
    ranked = sorted(by_feature, key=lambda f: -sum(by_feature[f].values()))
    top, rest = ranked[:TOP_FEATURES], ranked[TOP_FEATURES:]
    overall: dict[float, float] = defaultdict(float)
    for row in by_feature.values():
        for t, v in row.items():
            overall[t] += v

    def points(row: dict[float, float]) -> list[list[Any]]:
        return [[iso(t), row.get(t, 0.0)] for t in starts]

    features = [{"name": f, "points": points(by_feature[f])} for f in top]
    if rest:
        other: dict[float, float] = defaultdict(float)
        for f in rest:
            for t, v in by_feature[f].items():
                other[t] += v
        features.append({"name": OTHER, "points": points(other)})

    end = week_end(metrics)
    first = first_hour(metrics.cost_hourly)
    growth_rows = []
    hourly_by_feature = {k[0]: v for k, v in metrics.cost_hourly.series(FEATURE).items()}
    all_hours: dict[float, float] = defaultdict(float)
    for row in hourly_by_feature.values():
        for t, v in row.items():
            all_hours[t] += v
    rows = [("", None, dict(all_hours))] + [
        (f, f, row) for f, row in sorted(hourly_by_feature.items())
    ]
    overall_growth: dict[str, Any] = {}
    for name, feature, row in rows:
        weeks = weekly_costs(row, end, first if first is not None else end, WEEKS)
        entry = {
            "this_week_usd": weeks[0] if weeks else None,
            "previous_week_usd": weeks[1] if len(weeks) > 1 else None,
            "week_over_week": ratio(weeks[0], weeks[1]) - 1
            if len(weeks) > 1 and weeks[1]
            else None,
            "weekly_costs_usd": weeks,
            **sustained(weeks),
        }
        if feature is None:
            overall_growth = entry
        else:
            growth_rows.append({"name": name, **entry})
    growth_rows.sort(key=lambda r: -(r["this_week_usd"] or 0.0))
    return Section(
        "trend",
        {
            "step_s": step,
            "overall": points(overall),
            "features": features,
            "growth": overall_growth,
            "growth_by_feature": growth_rows,
        },
    )
