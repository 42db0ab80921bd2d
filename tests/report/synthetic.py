"""Five weeks of a made-up product's LLM spend, hour by hour, with things planted in it, and
the same history as OpenMetrics text for ``promtool tsdb create-blocks-from openmetrics``.

The history is the ground truth: the tests compute every expected figure from ``History``
themselves, never through tokentrail's report code.

Planted: a daily cycle (quiet nights, a peak in the afternoon), a weekly one (weekends at
55 %), +-8 % noise, a spike (feature ``chat`` on gpt-4o at ``SPIKE``, 6 times its cost), a
steady growth (feature ``agents``, +12 % a week), a truncation-heavy feature (``summarize``:
30 % of its answers stop at the token limit), an unpriced fine-tuned model, 2 % failed calls,
prompt caching on ``chat``, and a monthly budget whose spend gauge resets on the 1st.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone

HOUR = 3600
DAY = 24 * HOUR
WEEK = 7 * DAY

END = datetime(2026, 3, 18, tzinfo=timezone.utc).timestamp()  # a Wednesday, midnight UTC
START = END - 5 * WEEK
SPIKE = datetime(2026, 3, 16, 14, tzinfo=timezone.utc).timestamp()
SPIKE_FACTOR = 6.0
GROWTH_PER_WEEK = 0.12
MONTH_START = datetime(2026, 3, 1, tzinfo=timezone.utc).timestamp()
MONTH_END = datetime(2026, 4, 1, tzinfo=timezone.utc).timestamp()
BUDGET_NAME = "company-monthly"
#: the token histogram (most of the series) only for the last 8 days: reports of the last
#: week need no more, and the backfill takes a third of the time
HISTOGRAM_FROM = END - 8 * DAY

TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304,
                 16777216, 67108864]  # fmt: skip


@dataclass(frozen=True)
class Line:
    """One (feature, model) of the product: its hourly cost on a normal weekday peak."""

    feature: str
    team: str
    provider: str
    model: str
    endpoint: str
    peak_usd: float
    cost_per_request: float
    input_per_request: int
    output_per_request: int
    truncated: float = 0.01
    cached_share: float = 0.0
    unpriced: bool = False
    growing: bool = False


LINES = [
    Line("search", "core", "openai", "gpt-4o-mini", "/api/search", 0.8, 0.0004, 900, 120),
    Line("chat", "cx", "openai", "gpt-4o", "/api/chat", 3.0, 0.006, 1800, 260,
         cached_share=0.7),
    Line("summarize", "docs", "openai", "gpt-4o-mini", "/api/summarize", 1.0, 0.0009, 3000, 500,
         truncated=0.3),
    Line("agents", "platform", "openai", "gpt-4o", "/api/agents", 1.5, 0.012, 5000, 700,
         growing=True),
    Line("legal", "legal", "anthropic", "claude-sonnet-4", "/api/legal", 2.0, 0.02, 4000, 900),
    Line("search", "core", "openai", "ft:gpt-4o-mini:acme", "/api/search", 0.0, 0.0, 600, 80,
         unpriced=True),
]  # fmt: skip
UNPRICED_REQUESTS_PER_PEAK_HOUR = 40


def cycle(t: float) -> float:
    """Daily and weekly shape: 1.0 at a weekday's afternoon peak."""
    moment = datetime.fromtimestamp(t, timezone.utc)
    h = moment.hour
    day = 0.35 + 0.65 * max(0.0, math.sin(math.pi * (h - 6) / 16)) if 6 <= h <= 22 else 0.35
    return day * (0.55 if moment.weekday() >= 5 else 1.0)


@dataclass
class Hour:
    cost: float
    requests: dict[tuple[str, str], int]  # (finish reason, error type) -> requests
    tokens: dict[str, int]


@dataclass
class History:
    #: (line index, hour start) -> what happened in that hour
    hours: dict[tuple[int, float], Hour] = field(default_factory=dict)

    def cost(self, start: float, end: float, feature: str | None = None) -> float:
        return sum(
            h.cost
            for (i, t), h in self.hours.items()
            if start <= t < end and (feature is None or LINES[i].feature == feature)
        )

    def hourly_total(self) -> dict[float, float]:
        out: dict[float, float] = defaultdict(float)
        for (_, t), h in self.hours.items():
            out[t] += h.cost
        return dict(out)

    def requests(self, start: float, end: float) -> int:
        return sum(sum(h.requests.values()) for (_, t), h in self.hours.items() if start <= t < end)


def generate(seed: int = 13) -> History:
    rng = random.Random(seed)
    history = History()
    t = START
    while t < END:
        for i, line in enumerate(LINES):
            shape = cycle(t) * rng.uniform(0.92, 1.08)
            if line.growing:
                shape *= (1 + GROWTH_PER_WEEK) ** ((t - START) / WEEK)
            if line.feature == "chat" and t == SPIKE:
                shape *= SPIKE_FACTOR
            if line.unpriced:
                cost, n = 0.0, max(1, round(UNPRICED_REQUESTS_PER_PEAK_HOUR * shape))
            else:
                n = max(1, round(line.peak_usd * shape / line.cost_per_request))
                cost = round(n * line.cost_per_request * rng.uniform(0.97, 1.03), 6)
            errors = round(n * 0.02)
            length = round((n - errors) * line.truncated)
            requests = {("stop", ""): n - errors - length, ("length", ""): length,
                        ("error", "APIError"): errors}  # fmt: skip
            inputs = n * line.input_per_request
            tokens = {"input": inputs, "output": n * line.output_per_request}
            if line.cached_share:
                tokens["cache_read"] = round(inputs * line.cached_share)
            if line.growing:
                tokens["reasoning"] = n * line.output_per_request // 2
            history.hours[(i, t)] = Hour(cost, requests, tokens)
        t += HOUR
    return history


# -- OpenMetrics ----------------------------------------------------------------------------


def _labels(pairs: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in pairs.items() if v != "") + "}"


def _common(line: Line) -> dict[str, str]:
    return {
        "job": "shop",
        "instance": "shop-1",
        "gen_ai_operation_name": "chat",
        "gen_ai_provider_name": line.provider,
        "gen_ai_request_model": line.model,
        "tokentrail_feature": line.feature,
        "tokentrail_team": line.team,
        "tokentrail_endpoint": line.endpoint,
    }


def _bucket_shares(per_request: int) -> dict[int, float]:
    """Share of requests per bucket upper bound: 15 % a bucket lower, 65 % in the bucket of
    the mean, 20 % a bucket higher."""
    index = next(i for i, b in enumerate(TOKEN_BUCKETS) if b >= per_request)
    return {TOKEN_BUCKETS[index - 1]: 0.15, TOKEN_BUCKETS[index]: 0.65,
            TOKEN_BUCKETS[index + 1]: 0.2}  # fmt: skip


def openmetrics(history: History, budget_limit: float) -> list[str]:
    """Cumulative counters (and gauges) sampled every hour from START to END inclusive, as
    one OpenMetrics text per day: promtool writes a block per 2 hours and reads its whole
    input for each, so one file per day makes the backfill 35 times faster than one file."""
    times = [START + k * HOUR for k in range(int((END - START) / HOUR) + 1)]
    families: dict[str, tuple[str, list[tuple[float, str]]]] = {}

    def family(name: str, kind: str) -> _Samples:
        return _Samples(families.setdefault(name, (kind, []))[1])

    for i, line in enumerate(LINES):
        common = _common(line)
        cost = 0.0
        requests: dict[tuple[str, str, str], int] = defaultdict(int)
        tokens: dict[str, int] = defaultdict(int)
        buckets: dict[tuple[str, float], int] = defaultdict(int)
        status = "unpriced" if line.unpriced else "priced"
        shares = {
            "input": _bucket_shares(line.input_per_request),
            "output": _bucket_shares(line.output_per_request),
        }
        per_t: list[tuple[float, float, dict, dict, dict]] = []
        for t in times:
            if t > START:
                hour = history.hours[(i, t - HOUR)]
                cost += hour.cost
                n = sum(hour.requests.values())
                for (finish, error), k in hour.requests.items():
                    requests[(finish, error, status)] += k
                for kind, k in hour.tokens.items():
                    tokens[kind] += k
                for kind in ("input", "output"):
                    placed = 0
                    for j, (upper, share) in enumerate(sorted(shares[kind].items())):
                        k = n - placed if j == 2 else round(n * share)
                        buckets[(kind, upper)] += k
                        placed += k
            per_t.append((t, cost, dict(requests), dict(tokens), dict(buckets)))
        for t, c, reqs, toks, bucks in per_t:
            ts = f"{t:.0f}"
            if not line.unpriced:
                family("tokentrail_cost_usd", "counter").append(
                    f"tokentrail_cost_usd_total{_labels(common)} {c:.6f} {ts}"
                )
            for finish, error in sorted(history.hours[(i, START)].requests):
                labels = {**common, "tokentrail_cost_status": status, "error_type": error,
                          "tokentrail_finish_reason": finish}  # fmt: skip
                value = reqs.get((finish, error, status), 0)
                family("tokentrail_requests", "counter").append(
                    f"tokentrail_requests_total{_labels(labels)} {value} {ts}"
                )
            for kind in sorted(history.hours[(i, START)].tokens):
                labels = {**common, "gen_ai_token_type": kind}
                family("tokentrail_tokens", "counter").append(
                    f"tokentrail_tokens_total{_labels(labels)} {toks.get(kind, 0)} {ts}"
                )
            for kind in ("input", "output") if t >= HISTOGRAM_FROM else ():
                labels = {**common, "gen_ai_token_type": kind}
                running = 0
                for upper in TOKEN_BUCKETS:
                    running += bucks.get((kind, upper), 0)
                    family("gen_ai_client_token_usage", "histogram").append(
                        f"gen_ai_client_token_usage_bucket{_labels({**labels, 'le': str(upper)})} "
                        f"{running} {ts}"
                    )
                family("gen_ai_client_token_usage", "histogram").append(
                    f"gen_ai_client_token_usage_bucket{_labels({**labels, 'le': '+Inf'})} "
                    f"{running} {ts}"
                )
                family("gen_ai_client_token_usage", "histogram").append(
                    f"gen_ai_client_token_usage_count{_labels(labels)} {running} {ts}"
                )
    # the company's monthly budget: spend this month so far, resetting on the 1st
    totals = history.hourly_total()
    budget = {"job": "shop", "instance": "shop-1", "tokentrail_budget_name": BUDGET_NAME}
    spent = 0.0
    for t in times:
        if t > START:
            spent += totals[t - HOUR]
        if t == MONTH_START:
            spent = 0.0
        ts = f"{t:.0f}"
        family("tokentrail_budget_spent_usd", "gauge").append(
            f"tokentrail_budget_spent_usd{_labels(budget)} {spent:.6f} {ts}"
        )
        family("tokentrail_budget_limit_usd", "gauge").append(
            f"tokentrail_budget_limit_usd{_labels(budget)} {budget_limit} {ts}"
        )
        remaining = (MONTH_END if t >= MONTH_START else MONTH_START) - t
        family("tokentrail_budget_window_remaining_seconds", "gauge").append(
            f"tokentrail_budget_window_remaining_seconds{_labels(budget)} {remaining:.0f} {ts}"
        )
    days = []
    for day in range(int(START), int(END) + 1, DAY):
        out = []
        for name, (kind, samples) in families.items():
            out.append(f"# TYPE {name} {kind}")
            out += [text for t, text in samples if day <= t < day + DAY]
        out.append("# EOF")
        days.append("\n".join(out) + "\n")
    return days


class _Samples:
    """Appends ``(timestamp, line)``, the timestamp read from the line's end."""

    def __init__(self, into: list[tuple[float, str]]) -> None:
        self.into = into

    def append(self, line: str) -> None:
        self.into.append((float(line.rsplit(" ", 1)[1]), line))
