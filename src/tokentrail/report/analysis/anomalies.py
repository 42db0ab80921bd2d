"""Anomalies: hours whose cost is far above what that hour of the day usually costs.

**Baseline.** For an hour ``h`` of the range, the baseline is the cost of the same hour of the
day on each of the ``BASELINE_DAYS`` days before (``h - 1 day``, ``h - 2 days``, ...), counting
only days after the first hour with any cost (at least ``MIN_BASELINE_DAYS`` of them, or the
hour is not assessed). Comparing with the same hour of the day removes the daily cycle; two
weeks of days include weekends, so a normal weekday is not flagged for being busier than a
Sunday. ``z = (cost - mean) / sd``, where ``sd`` is the sample standard deviation of the
baseline, but at least ``MIN_SD_SHARE`` of its mean (so that a very regular hour needs a real
jump, not a cent, to count). An hour is an anomaly when ``z > --z`` (default 3).

**Drivers.** For each anomaly, the (feature, model) pairs whose cost in that hour exceeds their
own same-hour baseline mean by the most, with their share of the hour's excess.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from ..model import Section
from ..queries import DIMENSIONS, MetricData
from ..timerange import DAY, HOUR, iso
from . import trends

BASELINE_DAYS = 14
MIN_BASELINE_DAYS = 7
MIN_SD_SHARE = 0.1
DRIVERS = 3

FEATURE, MODEL = DIMENSIONS["feature"], DIMENSIONS["model"]


def baseline(row: dict[float, float], hour: float, first: float) -> list[float]:
    days = (hour - d * DAY for d in range(1, BASELINE_DAYS + 1))
    return [row.get(t, 0.0) for t in days if t >= first]


def score(cost: float, history: list[float]) -> tuple[float, float, float]:
    """(z, mean, effective sd) of ``cost`` against ``history``."""
    mean = sum(history) / len(history)
    variance = sum((x - mean) ** 2 for x in history) / (len(history) - 1)
    sd = max(math.sqrt(variance), MIN_SD_SHARE * mean)
    if sd == 0:
        return (math.inf if cost > 0 else 0.0), mean, sd
    return (cost - mean) / sd, mean, sd


def anomalies(metrics: MetricData, z_threshold: float) -> Section:
    pairs = metrics.cost_hourly.series(FEATURE, MODEL)
    total: dict[float, float] = defaultdict(float)
    for row in pairs.values():
        for t, v in row.items():
            total[t] += v
    first = trends.first_hour(metrics.cost_hourly)
    if first is None:
        return Section.omit("anomalies", "no cost series in Prometheus for the range")
    tr = metrics.time_range
    hours = []
    t = tr.start - tr.start % HOUR
    while t + HOUR <= tr.end:  # whole hours only
        if t >= tr.start:
            hours.append(t)
        t += HOUR
    assessed, found = 0, []
    for hour in hours:
        history = baseline(total, hour, first)
        if len(history) < MIN_BASELINE_DAYS:
            continue
        assessed += 1
        z, mean, sd = score(total.get(hour, 0.0), history)
        if z <= z_threshold:
            continue
        excess = total.get(hour, 0.0) - mean
        drivers = []
        for (feature, model), row in pairs.items():
            own = baseline(row, hour, first)
            over = row.get(hour, 0.0) - sum(own) / len(own)
            if over > 0:
                drivers.append({"feature": feature, "model": model, "excess_usd": over})
        drivers.sort(key=lambda d: -d["excess_usd"])
        for d in drivers:
            d["share_of_excess"] = d["excess_usd"] / excess if excess > 0 else None
        found.append(
            {
                "hour": iso(hour),
                "cost_usd": total.get(hour, 0.0),
                "baseline_mean_usd": mean,
                "baseline_sd_usd": sd,
                "z": z,
                "drivers": drivers[:DRIVERS],
            }
        )
    if not assessed:
        return Section.omit(
            "anomalies",
            f"needs at least {MIN_BASELINE_DAYS} days of cost history before the hours of the "
            f"range (same-hour baselines); Prometheus has data from {iso(first)}",
        )
    found.sort(key=lambda a: -a["z"])
    data: dict[str, Any] = {
        "z_threshold": z_threshold,
        "baseline": f"same hour of day, previous {BASELINE_DAYS} days",
        "hours_assessed": assessed,
        "anomalies": found,
    }
    return Section("anomalies", data)
