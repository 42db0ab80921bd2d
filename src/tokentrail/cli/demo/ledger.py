"""The demo's summary, computed from the spans tokentrail emitted (what any trace backend
would see), so the table proves the spans carry tokens, cost and attribution."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

from ... import names as sc


@dataclass
class Line:
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost: Decimal = Decimal(0)
    unpriced: int = 0


class Ledger(SpanProcessor):
    """Aggregates finished tokentrail spans by (feature, team, model)."""

    def __init__(self) -> None:
        self.lines: dict[tuple[str, str, str], Line] = defaultdict(Line)
        self.errors: Counter[str] = Counter()
        self.unpriced_models: Counter[str] = Counter()
        self.calls = 0
        self._lock = threading.Lock()

    def on_end(self, span: ReadableSpan) -> None:
        if span.instrumentation_scope is None or span.instrumentation_scope.name != sc.SCOPE_NAME:
            return
        a = span.attributes or {}
        if sc.TOKENTRAIL_COST_STATUS not in a:
            # a call that sent several model requests (Gemini automatic function calling):
            # its child spans are the requests, each counted on its own
            return
        model = str(a.get(sc.GEN_AI_RESPONSE_MODEL) or a.get(sc.GEN_AI_REQUEST_MODEL) or "?")
        key = (str(a.get(sc.TOKENTRAIL_FEATURE, "-")), str(a.get(sc.TOKENTRAIL_TEAM, "-")), model)
        with self._lock:
            self.calls += 1
            if sc.ERROR_TYPE in a:
                self.errors[str(a[sc.ERROR_TYPE])] += 1
            line = self.lines[key]
            line.calls += 1
            line.input_tokens += int(a.get(sc.GEN_AI_USAGE_INPUT_TOKENS, 0))
            line.output_tokens += int(a.get(sc.GEN_AI_USAGE_OUTPUT_TOKENS, 0))
            line.cached_tokens += int(a.get(sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, 0))
            if sc.GEN_AI_USAGE_COST in a:
                # the attribute is a float; the repr round-trips exactly
                line.cost += Decimal(repr(a[sc.GEN_AI_USAGE_COST]))
            elif a.get(sc.TOKENTRAIL_COST_STATUS) == "unpriced":
                line.unpriced += 1
                self.unpriced_models[model] += 1

    @property
    def total_cost(self) -> Decimal:
        return sum((line.cost for line in self.lines.values()), Decimal(0))

    def summary(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "errors": dict(self.errors),
            "total_cost_usd": str(self.total_cost),
            "unpriced_models": dict(self.unpriced_models),
            "lines": [
                {
                    "feature": feature,
                    "team": team,
                    "model": model,
                    "calls": line.calls,
                    "input_tokens": line.input_tokens,
                    "output_tokens": line.output_tokens,
                    "cached_tokens": line.cached_tokens,
                    "cost_usd": str(line.cost),
                    "unpriced_calls": line.unpriced,
                }
                for (feature, team, model), line in sorted(self.lines.items())
            ],
        }

    def table(self) -> str:
        header = ("feature", "team", "model", "calls", "input", "output", "cached", "cost USD")
        rows = [
            (
                feature,
                team,
                model,
                str(line.calls),
                f"{line.input_tokens:,}",
                f"{line.output_tokens:,}",
                f"{line.cached_tokens:,}",
                f"{line.cost:.6f}" if not line.unpriced else "unpriced",
            )
            for (feature, team, model), line in sorted(self.lines.items())
        ]
        total = sum(line.calls for line in self.lines.values())
        rows.append(("TOTAL", "", "", str(total), "", "", "", f"{self.total_cost:.6f}"))
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        right = {3, 4, 5, 6, 7}

        def fmt(row: tuple[str, ...]) -> str:
            return "  ".join(
                cell.rjust(w) if i in right else cell.ljust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )

        rule = "  ".join("-" * w for w in widths)
        return "\n".join([fmt(header), rule, *map(fmt, rows[:-1]), rule, fmt(rows[-1])])
