"""Projection: spend at the end of the month (and of each budget's window) at the current rate
and at the current growth, and the date each budget runs out.

* **Current rate** ``r``: the cost of the last 7 days (fewer when the data starts later)
  divided by their length.
* **Current growth** ``g``: the sustained weekly growth rate of the total cost (see
  :mod:`.trends`; week over week when fewer than 3 weeks of data exist). The spend rate is then
  ``r(t) = r * (1 + g) ** ((t - m) / 1 week)``, where ``m`` is the middle of the 7 days (the
  average rate is the rate at the middle of its window), so the spend from now until ``T``
  seconds from now is ``r(now) * (exp(k*T) - 1) / k`` with ``k = ln(1 + g) / 1 week``.
* A budget with limit ``L`` and ``s`` spent runs out after ``x`` seconds where
  ``s + spend(x) = L``: ``x = (L - s) / r`` at the current rate and
  ``x = ln(1 + (L - s) * k / r(now)) / k`` at the current growth; only dates before the
  budget's window resets are reported.

Budgets are ``--monthly-budget`` (against the month-to-date spend of everything the report
covers) and every ``tokentrail_budget_limit_usd`` series (against its own
``tokentrail_budget_spent_usd`` and ``tokentrail_budget_window_remaining_seconds``, at the
spend rate of that gauge over the last day).
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timezone
from typing import Any

from ..model import Section
from ..queries import MetricData
from ..timerange import DAY, WEEK, iso
from . import trends


def spend(rate_now: float, k: float, seconds: float) -> float:
    """Spend over ``seconds`` from a rate of ``rate_now`` growing continuously at ``k``."""
    if abs(k) < 1e-15:
        return rate_now * seconds
    return rate_now * math.expm1(k * seconds) / k


def runs_out_after(left: float, rate_now: float, k: float) -> float | None:
    """Seconds until ``left`` USD are spent, None if never (no spend, or shrinking too fast)."""
    if left <= 0:
        return 0.0
    if rate_now <= 0:
        return None
    if abs(k) < 1e-15:
        return left / rate_now
    inner = 1 + left * k / rate_now
    return math.log(inner) / k if inner > 0 else None


def project(
    *,
    spent: float,
    limit: float | None,
    seconds_left: float,
    rate: float,
    rate_window: float,
    k: float | None,
    now: float,
) -> dict[str, Any]:
    """Figures for one window: projected spend at its end and when ``limit`` is reached."""
    at_rate = spent + rate * seconds_left
    out: dict[str, Any] = {
        "spent_usd": spent,
        "window_end": iso(now + seconds_left),
        "projected_at_rate_usd": at_rate,
        "projected_at_growth_usd": None,
    }
    rate_now = rate
    if k is not None:
        rate_now = rate * math.exp(k * rate_window / 2)
        out["projected_at_growth_usd"] = spent + spend(rate_now, k, seconds_left)
    if limit is None:
        return out
    out["limit_usd"] = limit
    left = limit - spent
    for key, seconds in (
        ("exhausted_at_rate", runs_out_after(left, rate, 0.0)),
        ("exhausted_at_growth", runs_out_after(left, rate_now, k) if k is not None else None),
    ):
        within = seconds is not None and 0 < seconds <= seconds_left
        out[key] = iso(now + seconds) if within else None
    if left <= 0:
        out["status"] = "exceeded"
    elif out["exhausted_at_growth"] or out["exhausted_at_rate"]:
        out["status"] = "will exceed"
    else:
        out["status"] = "within"
    return out


def projection(metrics: MetricData, monthly_budget: float | None) -> Section:
    hourly = metrics.cost_hourly.series()
    row = hourly.get((), {})
    if not row:
        return Section.omit("projection", "no cost series in Prometheus to project from")
    tr = metrics.time_range
    now = tr.end
    end = trends.week_end(metrics)
    first = trends.first_hour(metrics.cost_hourly)
    assert first is not None
    window_start = max(end - WEEK, first)
    rate_window = end - window_start
    rate = sum(v for t, v in row.items() if window_start <= t < end) / rate_window
    weeks = trends.weekly_costs(row, end, first, trends.WEEKS)
    growth = trends.fit_growth(weeks)
    basis = f"{len(weeks)}-week trend"
    if growth is None and len(weeks) >= 2 and weeks[1] > 0:
        growth, basis = weeks[0] / weeks[1] - 1, "week over week"
    if growth is not None and growth <= -1:
        growth = None
    k = math.log1p(growth) / WEEK if growth is not None else None
    month_start, month_end = tr.month_start(), tr.month_end()
    month_to_date = sum(v for t, v in row.items() if month_start <= t < end)
    month = project(
        spent=month_to_date,
        limit=monthly_budget,
        seconds_left=month_end - now,
        rate=rate,
        rate_window=rate_window,
        k=k,
        now=now,
    )
    budgets = []
    if monthly_budget is not None:
        budgets.append({"name": "--monthly-budget", "source": "option", **month})
    for budget in metrics.budgets:
        if budget.spent_usd is None or budget.window_remaining_s is None:
            continue
        budgets.append(
            {
                "name": budget.name,
                "source": "tokentrail_budget_limit_usd",
                **project(
                    spent=budget.spent_usd,
                    limit=budget.limit_usd,
                    seconds_left=budget.window_remaining_s,
                    rate=budget.rate_usd_per_s or 0.0,
                    rate_window=min(DAY, tr.length),
                    k=k,
                    now=now,
                ),
            }
        )
    return Section(
        "projection",
        {
            "month": datetime.fromtimestamp(month_start, timezone.utc).strftime("%Y-%m"),
            "month_start": iso(month_start),
            "month_end": iso(month_end),
            "month_to_date_usd": month_to_date,
            "rate_usd_per_day": rate * DAY,
            "weekly_growth": growth,
            "growth_basis": basis if growth is not None else None,
            "month_end_at_rate_usd": month["projected_at_rate_usd"],
            "month_end_at_growth_usd": month["projected_at_growth_usd"],
            "budgets": budgets,
            "daily_to_date": _daily_cumulative(row, month_start, end),
            "projected_daily": _projected(month_to_date, rate, rate_window, k, now, month_end),
        },
    )


def _projected(
    spent: float, rate: float, rate_window: float, k: float | None, now: float, until: float
) -> list[list[Any]]:
    """[time, spend at the current rate, spend at the current growth] from now to ``until``,
    at each midnight (UTC) in between."""
    rate_now = rate * math.exp(k * rate_window / 2) if k is not None else None
    times = [now]
    t = now - now % DAY + DAY
    while t < until:
        times.append(t)
        t += DAY
    times.append(until)
    return [
        [
            iso(t),
            spent + rate * (t - now),
            spent + spend(rate_now, k, t - now) if rate_now is not None and k is not None else None,
        ]
        for t in times
    ]


def _daily_cumulative(row: dict[float, float], start: float, end: float) -> list[list[Any]]:
    days: dict[float, float] = defaultdict(float)
    for t, v in row.items():
        if start <= t < end:
            days[t - (t - start) % DAY] += v
    out, total = [], 0.0
    t = start
    while t < end:
        total += days.get(t, 0.0)
        out.append([iso(min(t + DAY, end)), total])
        t += DAY
    return out
