"""Totals over the range and breakdowns by feature, team, model, provider and endpoint: cost,
requests, cost per priced request, tokens of each type, share of the total cost."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ..model import Section
from ..queries import COST_STATUS, DIMENSIONS, TOKEN_TYPE, MetricData
from . import ratio

TOKEN_TYPES = ("input", "output", "cache_read", "cache_creation", "reasoning")


def totals(metrics: MetricData) -> Section:
    if metrics.empty:
        return Section.omit("totals", "no tokentrail cost, request or token series in the range")
    cost_total = metrics.cost.total()
    requests = metrics.requests.totals(COST_STATUS)
    request_total = sum(requests.values())
    priced_total = request_total - requests.get(("unpriced",), 0.0)
    tokens = metrics.tokens.totals(TOKEN_TYPE)
    by: dict[str, list[dict[str, Any]]] = {}
    for dim, label in DIMENSIONS.items():
        cost = metrics.cost.totals(label)
        reqs = metrics.requests.totals(label, COST_STATUS)
        toks = metrics.tokens.totals(label, TOKEN_TYPE)
        requests_by: dict[str, float] = defaultdict(float)
        priced_by: dict[str, float] = defaultdict(float)
        for (name, status), n in reqs.items():
            requests_by[name] += n
            if status != "unpriced":
                priced_by[name] += n
        tokens_by: dict[str, dict[str, float]] = defaultdict(dict)
        for (name, kind), n in toks.items():
            tokens_by[name][kind] = n
        names = {k[0] for k in cost} | set(requests_by) | set(tokens_by)
        rows = [
            {
                "name": name,
                "cost_usd": cost.get((name,), 0.0),
                "share": ratio(cost.get((name,), 0.0), cost_total),
                "requests": requests_by.get(name, 0.0),
                "cost_per_request_usd": ratio(cost.get((name,), 0.0), priced_by.get(name, 0.0)),
                "tokens": {t: tokens_by[name].get(t, 0.0) for t in TOKEN_TYPES},
            }
            for name in names
        ]
        rows.sort(key=lambda r: (-r["cost_usd"], -r["requests"], r["name"]))
        by[dim] = rows
    return Section(
        "totals",
        {
            "cost_usd": cost_total,
            "requests": request_total,
            "priced_requests": priced_total,
            "cost_per_request_usd": ratio(cost_total, priced_total),
            "tokens": {t: tokens.get((t,), 0.0) for t in TOKEN_TYPES},
            "by": by,
        },
    )
