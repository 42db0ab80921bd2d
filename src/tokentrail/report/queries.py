"""The PromQL the report runs, and what comes back: per-step increases of tokentrail's
counters, by the labels the sections group by.

**Increases.** For each step ``(t - step, t]`` and each series, the increase is

    (last_over_time(m[step]) - last_over_time(m[1h] offset step)) >= 0
    or last_over_time(m[step])

that is, the last value in the step minus the last value before it; where that is negative (the
counter was reset: the process restarted) or there is no value before it (the series was born
in this step), the value itself, since the counter started from zero. Unlike ``increase()``,
nothing is extrapolated and a series' first value is counted, so the sum over all steps is the
exact spend of the range, also for short-lived processes such as ``tokentrail demo``. A series
that pauses for more than an hour and comes back with the same labels is counted from zero
again (tokentrail's SDK exports its counters at every interval, so this happens only when
scrapes fail for that long).

Only the raw series that tokentrail exports are read, so the recording rules of
``dashboards/prometheus/`` are not needed (the report reads history that predates them).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .sources import QueryError
from .sources.prometheus import PrometheusClient
from .timerange import DAY, HOUR, WEEK, TimeRange

COST = "tokentrail_cost_usd_total"
REQUESTS = "tokentrail_requests_total"
TOKENS = "tokentrail_tokens_total"
TOKEN_HISTOGRAM = "gen_ai_client_token_usage_bucket"
BUDGET_LIMIT = "tokentrail_budget_limit_usd"
BUDGET_SPENT = "tokentrail_budget_spent_usd"
BUDGET_REMAINING = "tokentrail_budget_window_remaining_seconds"

#: the breakdowns: report name -> Prometheus label
DIMENSIONS = {
    "feature": "tokentrail_feature",
    "team": "tokentrail_team",
    "model": "gen_ai_request_model",
    "provider": "gen_ai_provider_name",
    "endpoint": "tokentrail_endpoint",
}
FINISH_REASON = "tokentrail_finish_reason"
COST_STATUS = "tokentrail_cost_status"
ERROR_TYPE = "error_type"
TOKEN_TYPE = "gen_ai_token_type"

#: history before the range: four weeks for the trend and the anomaly baselines
HISTORY = 4 * WEEK


def increase_query(metric: str, matchers: str, by: Iterable[str], step: int) -> str:
    selector = f"{metric}{{{matchers}}}"
    current = f"last_over_time({selector}[{step}s])"
    before = f"last_over_time({selector}[1h] offset {step}s)"
    return f"sum by ({', '.join(by)}) (({current} - {before}) >= 0 or {current})"


@dataclass
class Increases:
    """Per-step increases of one counter: ``rows[label values][step start] = increase``."""

    labels: tuple[str, ...]
    rows: dict[tuple[str, ...], dict[float, float]] = field(default_factory=dict)

    def add(self, labels: dict[str, str], start: float, value: float) -> None:
        key = tuple(labels.get(name, "") for name in self.labels)
        row = self.rows.setdefault(key, {})
        row[start] = row.get(start, 0.0) + value

    def between(self, start: float, end: float) -> Increases:
        """The steps that start in ``[start, end)``."""
        kept = Increases(self.labels)
        for key, row in self.rows.items():
            part = {t: v for t, v in row.items() if start <= t < end}
            if part:
                kept.rows[key] = part
        return kept

    def totals(self, *names: str) -> dict[tuple[str, ...], float]:
        """Sum over all steps, grouped by ``names`` (label names)."""
        index = [self.labels.index(n) for n in names]
        out: dict[tuple[str, ...], float] = defaultdict(float)
        for key, row in self.rows.items():
            out[tuple(key[i] for i in index)] += sum(row.values())
        return dict(out)

    def series(self, *names: str) -> dict[tuple[str, ...], dict[float, float]]:
        """Per step, grouped by ``names``."""
        index = [self.labels.index(n) for n in names]
        out: dict[tuple[str, ...], dict[float, float]] = defaultdict(lambda: defaultdict(float))
        for key, row in self.rows.items():
            group = out[tuple(key[i] for i in index)]
            for t, v in row.items():
                group[t] += v
        return {k: dict(v) for k, v in out.items()}

    def total(self) -> float:
        return sum(sum(row.values()) for row in self.rows.values())

    def has_label(self, name: str) -> bool:
        i = self.labels.index(name)
        return any(key[i] for key in self.rows)

    def __bool__(self) -> bool:
        return bool(self.rows)


@dataclass
class Budget:
    name: str
    limit_usd: float
    spent_usd: float | None
    window_remaining_s: float | None
    #: USD per second over the last day (or the range, when shorter)
    rate_usd_per_s: float | None


@dataclass
class MetricData:
    """Everything the report read from Prometheus; ``errors`` maps a dataset to the message
    of the query that failed (the dataset is then empty)."""

    time_range: TimeRange
    history_start: float
    #: cost per hour from ``history_start`` (for trends, baselines, projections)
    cost_hourly: Increases
    #: cost per report step in the range (the same as ``cost_hourly`` when the step is an hour)
    cost: Increases
    requests: Increases
    tokens: Increases
    token_histogram: Increases
    budgets: list[Budget]
    server_version: str
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.cost or self.requests or self.tokens)


Progress = Callable[[str], None]


def fetch(
    client: PrometheusClient, time_range: TimeRange, matchers: str, progress: Progress
) -> MetricData:
    """Run every query; a failing query is recorded in ``errors``, the others go on."""
    progress("connecting to Prometheus")
    version = client.check()
    errors: dict[str, str] = {}
    dims = tuple(DIMENSIONS.values())
    step = min(time_range.step, HOUR)
    history_start = min(time_range.start, time_range.end - HISTORY - WEEK, time_range.month_start())
    history_start -= history_start % HOUR

    def increases(
        name: str, metric: str, by: tuple[str, ...], start: float, every: int
    ) -> Increases:
        progress(f"querying {name}")
        result = Increases(by)
        try:
            _fetch_increases(client, result, metric, matchers, start, time_range.end, every)
        except QueryError as exc:
            errors[name] = str(exc)
            return Increases(by)
        return result

    cost_hourly = increases("cost", COST, dims, history_start, HOUR)
    if step == HOUR:
        cost = cost_hourly.between(time_range.start, time_range.end)
    else:
        cost = increases("cost per step", COST, dims, time_range.start, step)
    # requests and tokens are only summed over the range: hourly steps are enough from two
    # days on, also when --step asks for a finer trend (a reset within a step loses at most
    # that step's increase before the reset)
    totals_step = HOUR if time_range.length >= 2 * DAY else step
    requests = increases(
        "requests",
        REQUESTS,
        (*dims, COST_STATUS, ERROR_TYPE, FINISH_REASON),
        time_range.start,
        totals_step,
    )
    tokens = increases("tokens", TOKENS, (*dims, TOKEN_TYPE), time_range.start, totals_step)
    histogram = increases(
        "token histogram",
        TOKEN_HISTOGRAM,
        (DIMENSIONS["feature"], TOKEN_TYPE, "le"),
        time_range.start,
        totals_step,
    )
    progress("querying budgets")
    try:
        budgets = _fetch_budgets(client, time_range, matchers)
    except QueryError as exc:
        errors["budgets"] = str(exc)
        budgets = []
    return MetricData(
        time_range=time_range,
        history_start=history_start,
        cost_hourly=cost_hourly,
        cost=cost,
        requests=requests,
        tokens=tokens,
        token_histogram=histogram,
        budgets=budgets,
        server_version=version,
        errors=errors,
    )


def _fetch_increases(
    client: PrometheusClient,
    into: Increases,
    metric: str,
    matchers: str,
    start: float,
    end: float,
    step: int,
) -> None:
    """Whole steps by a range query, then the partial step up to ``end`` by an instant one."""
    last_whole = start + (end - start) // step * step
    if last_whole >= start + step:
        query = increase_query(metric, matchers, into.labels, step)
        for series in client.range(query, start + step, last_whole, step):
            for t, value in series.samples:
                into.add(series.labels, t - step, value)
    rest = round(end - max(last_whole, start))
    if rest > 0:
        query = increase_query(metric, matchers, into.labels, rest)
        for series in client.instant(query, end):
            into.add(series.labels, end - rest, series.samples[0][1])


def _fetch_budgets(client: PrometheusClient, time_range: TimeRange, matchers: str) -> list[Budget]:
    at = time_range.end
    by = "tokentrail_budget_name"
    window = int(min(DAY, time_range.length))

    def values(query: str) -> dict[str, float]:
        return {s.labels.get(by, ""): s.samples[0][1] for s in client.instant(query, at)}

    limits = values(f"max by ({by}) (last_over_time({BUDGET_LIMIT}{{{matchers}}}[1h]))")
    if not limits:
        return []
    spent = values(f"max by ({by}) (last_over_time({BUDGET_SPENT}{{{matchers}}}[1h]))")
    remaining = values(f"min by ({by}) (last_over_time({BUDGET_REMAINING}{{{matchers}}}[1h]))")
    # the spend gauge drops to 0 when its window resets, which rate() treats like a counter
    # reset: so this is the spend per second over the last day, across window boundaries
    rates = values(f"max by ({by}) (rate({BUDGET_SPENT}{{{matchers}}}[{window}s]))")
    return [
        Budget(name, limit, spent.get(name), remaining.get(name), rates.get(name))
        for name, limit in sorted(limits.items())
    ]
