"""Each section as a few lines of prose and tables of formatted cells: what the text, markdown,
CSV and HTML renderers lay out, each in its own way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..model import Report, Section
from ..queries import DIMENSIONS

UNATTRIBUTED = "(unattributed)"

HEADERS = {
    "cost_usd": "cost",
    "cost_per_request_usd": "$/request",
    "input_tokens": "input",
    "output_tokens": "output",
    "cache_read_tokens": "cached",
    "reasoning_tokens": "reasoning",
    "last_7_days_usd": "last 7 days",
    "previous_7_days_usd": "7 days before",
    "week_over_week": "week/week",
    "weekly_growth_fitted": "fitted/week",
    "limit_usd": "limit",
    "spent_usd": "spent",
    "window_end": "window ends",
    "at_rate_usd": "at rate",
    "at_growth_usd": "at growth",
    "runs_out_at_rate": "runs out (rate)",
    "runs_out_at_growth": "runs out (growth)",
    "baseline_usd": "baseline",
    "input_tokens_p50": "input p50",
    "input_tokens_p95": "input p95",
    "output_tokens_p50": "output p50",
    "output_tokens_p95": "output p95",
    "truncation_rate": "truncated",
    "output_input_ratio": "out/in",
    "cache_hit_ratio": "cache hits",
    "unpriced_share": "unpriced",
    "error_rate": "errors",
    "user_id": "user.id",
    "trace_id": "trace id",
    "time": "time (UTC)",
    "hour": "hour (UTC)",
}


Format = Callable[[Any], str]


@dataclass
class Table:
    """Rows of raw values (what CSV writes) and one format per column (what people read)."""

    title: str
    columns: list[str]
    rows: list[list[Any]]
    formats: list[Format]

    @property
    def numeric(self) -> set[int]:
        """Columns aligned right."""
        return {i for i, f in enumerate(self.formats) if f not in _WORDS}

    @property
    def headers(self) -> list[str]:
        """Column names for people (CSV keeps ``columns``)."""
        return [HEADERS.get(c, c.replace("_", " ")) for c in self.columns]

    def cells(self) -> list[list[str]]:
        return [[f(v) for f, v in zip(self.formats, row, strict=True)] for row in self.rows]


@dataclass
class Block:
    """One section, presented: prose lines, tables, notes (hints, omissions)."""

    title: str
    lines: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    omitted: str | None = None


# -- formatting -------------------------------------------------------------------------------


def money(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"${value:,.0f}"
    if abs(value) >= 1:
        return f"${value:,.2f}"
    if value == 0:
        return "$0"
    return f"${value:.4f}" if abs(value) >= 0.0001 else f"${value:.2e}"


def percent(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value * 100:+.1f} %" if signed else f"{value * 100:.1f} %"


def count(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}"


def name(value: str | None) -> str:
    return value if value else UNATTRIBUTED


def text(value: Any) -> str:
    return "-" if value is None else str(value)


def day_hour(value: str | None) -> str:
    """``2026-03-10T14:00:00Z`` -> ``2026-03-10 14:00``."""
    return value[:16].replace("T", " ") if value else "-"


def moment(value: str) -> str:
    return value[:19].replace("T", " ")


def decimal2(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def z_score(value: float) -> str:
    return f"{value:.1f}"


def share_signed(value: float | None) -> str:
    return percent(value, signed=True)


#: formats of columns that are words, not numbers (aligned left)
_WORDS = (str, name, text, day_hour, moment)


# -- sections -------------------------------------------------------------------------------


def blocks(report: Report) -> list[Block]:
    out = []
    for section in report.ordered():
        if section.omitted is not None:
            out.append(Block(section.title, omitted=section.omitted))
        else:
            out.append(_BUILDERS[section.key](section))
    return out


def header_lines(report: Report) -> list[str]:
    r = report.range
    lines = [f"{day_hour(r['start'])} to {day_hour(r['end'])} UTC, step {r['step']}"]
    prometheus = report.sources.get("prometheus")
    if prometheus:
        match = f", {prometheus['match']}" if prometheus.get("match") else ""
        lines.append(f"Prometheus {prometheus['url']} ({prometheus['version']}{match})")
    spans = report.sources.get("spans")
    if spans:
        lines.append(f"Spans: {spans['calls']:,} calls in {len(spans['files'])} file(s)")
    return lines


def _totals(section: Section) -> Block:
    d = section.data or {}
    tokens = d["tokens"]
    block = Block(section.title)
    block.lines.append(
        f"{money(d['cost_usd'])} over {count(d['requests'])} requests "
        f"({money(d['cost_per_request_usd'])} per priced request)."
    )
    block.lines.append(
        f"Tokens: {count(tokens['input'])} input ({count(tokens['cache_read'])} cache reads, "
        f"{count(tokens['cache_creation'])} cache writes), {count(tokens['output'])} output "
        f"({count(tokens['reasoning'])} reasoning)."
    )
    for dim in DIMENSIONS:
        rows = d["by"].get(dim, [])
        if not rows or (len(rows) == 1 and not rows[0]["name"]):
            continue  # nothing attributed along this dimension
        block.tables.append(
            Table(
                f"By {dim}",
                [dim, "cost_usd", "share", "requests", "cost_per_request_usd",
                 "input_tokens", "output_tokens", "cache_read_tokens", "reasoning_tokens"],
                [
                    [r["name"], r["cost_usd"], r["share"], r["requests"],
                     r["cost_per_request_usd"], r["tokens"]["input"], r["tokens"]["output"],
                     r["tokens"]["cache_read"], r["tokens"]["reasoning"]]
                    for r in rows
                ],
                [name, money, percent, count, money, count, count, count, count],
            )
        )  # fmt: skip
    return block


def trend_words(g: dict[str, Any]) -> str:
    rate = g.get("weekly_growth")
    if g.get("verdict") in ("growing", "shrinking") and rate is not None:
        return f"{g['verdict']} {percent(abs(rate))} a week over {g['weeks']} weeks"
    if g.get("verdict") == "steady" and rate is not None:
        return f"no sustained trend ({percent(rate, signed=True)} a week fitted)"
    return "not enough weeks of history"


def _trend(section: Section) -> Block:
    d = section.data or {}
    block = Block(section.title)
    g = d["growth"]
    if g.get("this_week_usd") is not None:
        line = f"Last 7 days {money(g['this_week_usd'])}"
        if g.get("previous_week_usd") is not None:
            line += (
                f", the 7 days before {money(g['previous_week_usd'])} "
                f"({percent(g['week_over_week'], signed=True)} week over week)"
            )
        block.lines.append(line + ".")
        block.lines.append(f"Sustained trend: {trend_words(g)}.")
    rows = [
        [r["name"], r["this_week_usd"], r["previous_week_usd"], r["week_over_week"],
         r["weekly_growth"], trend_words(r)]
        for r in d["growth_by_feature"]
    ]  # fmt: skip
    if rows:
        block.tables.append(
            Table(
                "Growth by feature",
                ["feature", "last_7_days_usd", "previous_7_days_usd", "week_over_week",
                 "weekly_growth_fitted", "sustained_trend"],
                rows,
                [name, money, money, share_signed, share_signed, str],
            )
        )  # fmt: skip
    return block


def _projection(section: Section) -> Block:
    d = section.data or {}
    block = Block(section.title)
    block.lines.append(
        f"Month to date ({d['month']}): {money(d['month_to_date_usd'])}. At the current rate "
        f"({money(d['rate_usd_per_day'])} a day) the month ends at "
        f"{money(d['month_end_at_rate_usd'])}."
    )
    if d["weekly_growth"] is not None:
        block.lines.append(
            f"At the current growth ({percent(d['weekly_growth'], signed=True)} a week, "
            f"{d['growth_basis']}) it ends at {money(d['month_end_at_growth_usd'])}."
        )
    rows = []
    for b in d["budgets"]:
        rows.append(
            [b["name"], b.get("limit_usd"), b["spent_usd"], b["window_end"],
             b["projected_at_rate_usd"], b["projected_at_growth_usd"],
             b.get("exhausted_at_rate"), b.get("exhausted_at_growth"), b.get("status")]
        )  # fmt: skip
        if b.get("status") == "will exceed":
            when = b.get("exhausted_at_growth") or b.get("exhausted_at_rate")
            block.notes.append(
                f"Budget {b['name']} ({money(b.get('limit_usd'))}) runs out on {day_hour(when)} "
                f"UTC, before its window ends on {day_hour(b['window_end'])}."
            )
        elif b.get("status") == "exceeded":
            block.notes.append(f"Budget {b['name']} is already exceeded.")
    if rows:
        block.tables.append(
            Table(
                "Budgets",
                ["budget", "limit_usd", "spent_usd", "window_end", "at_rate_usd",
                 "at_growth_usd", "runs_out_at_rate", "runs_out_at_growth", "status"],
                rows,
                [str, money, money, day_hour, money, money, day_hour, day_hour, text],
            )
        )  # fmt: skip
    else:
        block.notes.append(
            "No budgets: pass --monthly-budget USD, or export tokentrail_budget_limit_usd "
            "(tokentrail.instrument(budgets=...))."
        )
    return block


def _drivers(drivers: list[dict[str, Any]]) -> str:
    return (
        ", ".join(
            f"{name(x['feature'])} / {x['model'] or '?'} (+{money(x['excess_usd'])})"
            for x in drivers
        )
        or "-"
    )


def _anomalies(section: Section) -> Block:
    d = section.data or {}
    block = Block(section.title)
    found = d["anomalies"]
    block.lines.append(
        f"{len(found)} of {d['hours_assessed']} hours cost more than {d['z_threshold']:g} "
        f"standard deviations above their baseline ({d['baseline']})."
    )
    if found:
        block.tables.append(
            Table(
                "Anomalous hours",
                ["hour", "cost_usd", "baseline_usd", "z", "driven_by"],
                [
                    [
                        a["hour"],
                        a["cost_usd"],
                        a["baseline_mean_usd"],
                        a["z"],
                        _drivers(a["drivers"]),
                    ]
                    for a in found
                ],
                [day_hour, money, money, z_score, str],
            )
        )
    return block


_RATIO_COLUMNS = [
    ("requests", count),
    ("input_tokens_p50", count),
    ("input_tokens_p95", count),
    ("output_tokens_p50", count),
    ("output_tokens_p95", count),
    ("truncation_rate", percent),
    ("output_input_ratio", decimal2),
    ("cache_hit_ratio", percent),
    ("unpriced_share", percent),
    ("error_rate", percent),
]
_PLAIN_RATIOS = ("output_input_ratio", "input_p95_over_p50")


def _efficiency(section: Section) -> Block:
    d = section.data or {}
    block = Block(section.title)
    rows = [["(all)", *(d["overall"].get(k) for k, _ in _RATIO_COLUMNS)]]
    rows += [[r["name"], *(r.get(k) for k, _ in _RATIO_COLUMNS)] for r in d["by_feature"]]
    block.tables.append(
        Table(
            "Tokens per request and ratios",
            ["feature", *(k for k, _ in _RATIO_COLUMNS)],
            rows,
            [name, *(f for _, f in _RATIO_COLUMNS)],
        )
    )
    for f in d["findings"]:
        check = d["thresholds"][f["metric"]]
        side = ">" if check["flagged_when"] == "above" else "<"
        plain = f["metric"] in _PLAIN_RATIOS
        value = decimal2(f["value"]) if plain else percent(f["value"])
        threshold = f"{f['threshold']:g}" if plain else percent(f["threshold"])
        where = "all calls" if f["feature"] is None else f"feature {name(f['feature'])}"
        block.notes.append(
            f"{where}: {f['metric'].replace('_', ' ')} {value} ({side} {threshold}): {f['hint']}"
        )
    for metric, reason in d["omitted"].items():
        block.notes.append(f"{metric.replace('_', ' ')}: not shown, {reason}")
    return block


def _top_users(section: Section) -> Block:
    d = section.data or {}
    block = Block(section.title)
    block.lines.append(
        f"{count(d['users'])} users made {count(d['calls_with_user'])} of the "
        f"{count(d['calls'])} calls in the span files ({money(d['cost_usd'])})."
    )
    block.tables.append(
        Table(
            "By cost",
            ["user_id", "cost_usd", "share", "calls", "input_tokens", "output_tokens",
             "top_feature"],
            [
                [u["user_id"], u["cost_usd"], u["share"], u["calls"], u["input_tokens"],
                 u["output_tokens"], u["top_feature"]]
                for u in d["top"]
            ],
            [str, money, percent, count, count, count, name],
        )
    )  # fmt: skip
    return block


def _top_calls(section: Section) -> Block:
    d = section.data or {}
    block = Block(section.title)
    block.tables.append(
        Table(
            "By cost",
            ["time", "trace_id", "model", "feature", "user_id", "input_tokens",
             "output_tokens", "cost_usd"],
            [
                [c["time"], c["trace_id"], c["model"], c["feature"], c["user_id"],
                 c["input_tokens"], c["output_tokens"], c["cost_usd"]]
                for c in d["calls"]
            ],
            [moment, text, text, name, text, count, count, money],
        )
    )  # fmt: skip
    return block


_BUILDERS = {
    "totals": _totals,
    "trend": _trend,
    "projection": _projection,
    "anomalies": _anomalies,
    "efficiency": _efficiency,
    "top_users": _top_users,
    "top_calls": _top_calls,
}
