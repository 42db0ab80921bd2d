"""Efficiency: tokens per request (p50/p95, from the token histogram) and ratios that point at
waste, each with the threshold past which the report suggests what to do.

========================  ==========================================  ================
figure                    how                                         flagged when
========================  ==========================================  ================
p50 / p95 tokens          ``gen_ai_client_token_usage`` buckets,      p95 > 5 x p50
per request               interpolated as ``histogram_quantile``
truncation rate           requests with                               > 5 %
                          ``tokentrail_finish_reason="length"`` /
                          requests with a finish reason
output / input ratio      output tokens / input tokens                > 1.0
cache-hit ratio           cache-read tokens / input tokens, where     < 60 %
                          any cache reads are reported
unpriced share            ``tokentrail_cost_status="unpriced"``       > 0 %
                          requests / requests
error rate                requests with an ``error_type`` / requests  > 5 %
========================  ==========================================  ================
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from ..model import Section
from ..queries import COST_STATUS, DIMENSIONS, ERROR_TYPE, FINISH_REASON, TOKEN_TYPE, MetricData
from . import ratio

FEATURE = DIMENSIONS["feature"]
OVERALL = None


@dataclass(frozen=True)
class Check:
    metric: str
    threshold: float
    #: "above" or "below": which side of the threshold is a finding
    side: str
    hint: str

    def crossed(self, value: float | None) -> bool:
        if value is None:
            return False
        return value > self.threshold if self.side == "above" else value < self.threshold


CHECKS = (
    Check(
        "truncation_rate",
        0.05,
        "above",
        "answers are cut off at max_tokens: raise the limit or ask for shorter answers "
        "(a truncated answer is often retried, and paid for twice)",
    ),
    Check(
        "output_input_ratio",
        1.0,
        "above",
        "answers are longer than prompts and output tokens cost several times more: ask for "
        "concise answers, cap max_tokens",
    ),
    Check(
        "cache_hit_ratio",
        0.6,
        "below",
        "most input is not served from the prompt cache: keep the shared prefix (system "
        "prompt, tools, documents) first and byte-identical, within the cache's lifetime",
    ),
    Check(
        "unpriced_share",
        0.0,
        "above",
        "these calls have no price, so their spend is missing from every figure: add the "
        "models to TOKENTRAIL_PRICES_FILE",
    ),
    Check(
        "error_rate",
        0.05,
        "above",
        "failed calls can still be billed and are usually retried: check timeouts, rate "
        "limits and the errors' types",
    ),
    Check(
        "input_p95_over_p50",
        5.0,
        "above",
        "a few requests have much larger prompts than the rest: find them among the most "
        "expensive calls and trim their context",
    ),
)
CHECK = {c.metric: c for c in CHECKS}


def histogram_quantile(q: float, buckets: dict[float, float]) -> float | None:
    """Prometheus's ``histogram_quantile`` on cumulative bucket counts ``{le: count}``."""
    bounds = sorted(buckets)
    if not bounds or bounds[-1] != math.inf:
        return None
    counts = [buckets[b] for b in bounds]
    # monotonic, as Prometheus makes them
    for i in range(1, len(counts)):
        counts[i] = max(counts[i], counts[i - 1])
    total = counts[-1]
    if total <= 0:
        return None
    rank = q * total
    i = next(i for i, c in enumerate(counts) if c >= rank)
    if i == len(bounds) - 1:
        return bounds[-2] if len(bounds) > 1 else None
    lower = bounds[i - 1] if i > 0 else 0.0
    if i == 0 and bounds[0] <= 0:
        return bounds[0]
    below = counts[i - 1] if i > 0 else 0.0
    in_bucket = counts[i] - below
    if in_bucket <= 0:
        return bounds[i]
    return lower + (bounds[i] - lower) * (rank - below) / in_bucket


def _le(text: str) -> float:
    return math.inf if text in ("+Inf", "Inf", "inf") else float(text)


def efficiency(metrics: MetricData) -> Section:
    if not (metrics.requests or metrics.tokens or metrics.token_histogram):
        return Section.omit("efficiency", "no request, token or histogram series in the range")
    groups: dict[str | None, dict[str, Any]] = defaultdict(dict)
    omitted: dict[str, str] = {}

    # tokens per request, from the histogram
    buckets: dict[tuple[str | None, str], dict[float, float]] = defaultdict(
        lambda: defaultdict(float)
    )
    for (feature, kind, le), n in metrics.token_histogram.totals(FEATURE, TOKEN_TYPE, "le").items():
        for scope in (OVERALL, feature):
            buckets[(scope, kind)][_le(le)] += n
    if not buckets:
        omitted["tokens_per_request"] = "no gen_ai_client_token_usage_bucket series in the range"
    for (scope, kind), b in buckets.items():
        for q in (0.5, 0.95):
            groups[scope][f"{kind}_tokens_p{round(q * 100)}"] = histogram_quantile(q, b)
    for values in groups.values():
        p50, p95 = values.get("input_tokens_p50"), values.get("input_tokens_p95")
        values["input_p95_over_p50"] = ratio(p95, p50) if p50 and p95 is not None else None

    # ratios from the counters
    requests = metrics.requests.totals(FEATURE, COST_STATUS, ERROR_TYPE, FINISH_REASON)
    has_finish = metrics.requests.has_label(FINISH_REASON)
    if not has_finish:
        omitted["truncation_rate"] = (
            "no tokentrail_finish_reason label on tokentrail_requests_total in the range "
            "(recorded by tokentrail versions that have it)"
        )
    counts: dict[str | None, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for (feature, status, error, finish), n in requests.items():
        for scope in (OVERALL, feature):
            c = counts[scope]
            c["requests"] += n
            c["unpriced"] += n if status == "unpriced" else 0.0
            c["errors"] += n if error else 0.0
            c["finished"] += n if finish else 0.0
            c["length"] += n if finish == "length" else 0.0
    tokens: dict[str | None, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for (feature, kind), n in metrics.tokens.totals(FEATURE, TOKEN_TYPE).items():
        for scope in (OVERALL, feature):
            tokens[scope][kind] += n
    caching = {scope for scope, t in tokens.items() if scope is not None and t["cache_read"]}
    for scope in set(counts) | set(tokens):
        c, t = counts[scope], tokens[scope]
        g = groups[scope]
        g["requests"] = c["requests"]
        g["truncation_rate"] = ratio(c["length"], c["finished"]) if has_finish else None
        g["output_input_ratio"] = ratio(t["output"], t["input"])
        g["unpriced_share"] = ratio(c["unpriced"], c["requests"])
        g["error_rate"] = ratio(c["errors"], c["requests"])
        if scope is OVERALL:
            # over the features that use caching: the others would only dilute it
            cached = [tokens[f] for f in caching]
            reads = sum(x["cache_read"] for x in cached)
            g["cache_hit_ratio"] = ratio(reads, sum(x["input"] for x in cached)) if reads else None
        else:
            g["cache_hit_ratio"] = ratio(t["cache_read"], t["input"]) if t["cache_read"] else None
    if not caching:
        omitted["cache_hit_ratio"] = "no cache-read tokens in the range (no prompt caching)"

    findings = []
    for check in CHECKS:
        flagged = [
            scope
            for scope, values in sorted(groups.items(), key=lambda kv: kv[0] or "")
            if scope is not OVERALL and check.crossed(values.get(check.metric))
        ]
        # all calls together only when no feature explains it (the spread of tokens per
        # request across features is no finding)
        if not flagged and check.metric != "input_p95_over_p50":
            flagged = [OVERALL] if check.crossed(groups[OVERALL].get(check.metric)) else []
        findings += [
            {
                "metric": check.metric,
                "feature": scope,
                "value": groups[scope][check.metric],
                "threshold": check.threshold,
                "hint": check.hint,
            }
            for scope in flagged
        ]
    overall = groups.pop(OVERALL, {})
    by_feature = [{"name": name, **values} for name, values in groups.items() if name is not None]
    by_feature.sort(key=lambda r: (-(r.get("requests") or 0.0), r["name"]))
    return Section(
        "efficiency",
        {
            "overall": overall,
            "by_feature": by_feature,
            "thresholds": {
                c.metric: {"threshold": c.threshold, "flagged_when": c.side, "hint": c.hint}
                for c in CHECKS
            },
            "findings": findings,
            "omitted": omitted,
        },
    )
