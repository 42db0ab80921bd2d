"""The report's charts, drawn once with matplotlib and written as SVG (inlined in the HTML
report) or PNG (``--png DIR``).

Why matplotlib: one renderer gives both formats from the same figure, so the HTML and the
images cannot disagree; it installs as wheels with no system libraries and no browser; its SVG
draws text as paths, so the HTML looks the same without any font installed; and its date axes
handle hours to months. It is imported only when a chart is drawn (``pip install
"tokentrail[report]"``), on its object API (no pyplot: no global state, no GUI backend).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..model import Report
from .tables import name

#: chart file stem -> title
CHARTS = {
    "cost-trend": "Cost over time, anomalies marked",
    "cost-by-feature": "Cost by feature over time",
    "projection": "Month to date and projection against budgets",
    "efficiency": "Efficiency by feature",
}

INK = "#1f2933"
MUTED = "#7b8794"
GRID = "#e4e7eb"
ACCENT = "#2563eb"
ALERT = "#dc2626"
PALETTE = ["#2563eb", "#f59e0b", "#10b981", "#8b5cf6", "#ef4444", "#94a3b8", "#0ea5e9"]


class ChartsUnavailable(Exception):
    """matplotlib is not installed."""


def _figure(width: float = 10.0, height: float = 3.6) -> Any:
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError:
        raise ChartsUnavailable(
            'charts need matplotlib: pip install "tokentrail[report]"'
        ) from None
    matplotlib.rcParams.update(
        {
            "svg.hashsalt": "tokentrail",  # stable ids: the same report gives the same SVG
            "font.size": 9,
            "axes.edgecolor": GRID,
            "axes.labelcolor": INK,
            "xtick.color": MUTED,
            "ytick.color": MUTED,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    )
    return Figure(figsize=(width, height), layout="constrained")


def _time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def _style(ax: Any, title: str, ylabel: str) -> None:
    ax.set_title(title, loc="left", color=INK, fontsize=11, fontweight="bold")
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)


def _dates(ax: Any) -> None:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator(minticks=4, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))


def cost_trend(report: Report) -> Any | None:
    trend = report.sections["trend"].data
    if not trend or not trend["overall"]:
        return None
    fig = _figure()
    ax = fig.add_subplot()
    x = [_time(t) for t, _ in trend["overall"]]
    y = [v for _, v in trend["overall"]]
    ax.plot(x, y, color=ACCENT, linewidth=1.2, label="cost per step")
    ax.fill_between(x, y, color=ACCENT, alpha=0.08, linewidth=0)
    anomalies = report.sections["anomalies"].data
    if anomalies and anomalies["anomalies"] and trend["step_s"] == 3600:
        points = [(_time(a["hour"]), a["cost_usd"]) for a in anomalies["anomalies"]]
        ax.scatter(*zip(*points, strict=True), color=ALERT, s=36, zorder=3, label="anomaly")
        for when, value in points:
            ax.annotate(
                when.strftime("%d %b %H:00"),
                (when, value),
                xytext=(6, 0),
                textcoords="offset points",
                color=ALERT,
                fontsize=8,
                va="center",
            )
    step = {60: "minute", 3600: "hour", 86400: "day"}.get(trend["step_s"], f"{trend['step_s']} s")
    _style(ax, f"Cost per {step}", "USD")
    _dates(ax)
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", frameon=False)
    return fig


def cost_by_feature(report: Report) -> Any | None:
    trend = report.sections["trend"].data
    if not trend or not trend["features"]:
        return None
    fig = _figure()
    ax = fig.add_subplot()
    x = [_time(t) for t, _ in trend["overall"]]
    series = [[v for _, v in f["points"]] for f in trend["features"]]
    labels = [name(f["name"]) for f in trend["features"]]
    ax.stackplot(x, *series, labels=labels, colors=PALETTE[: len(series)], alpha=0.85)
    _style(ax, "Cost by feature", "USD per step")
    _dates(ax)
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", frameon=False, ncols=min(len(labels), 6), fontsize=8)
    return fig


def projection(report: Report) -> Any | None:
    data = report.sections["projection"].data
    if not data or not data["daily_to_date"]:
        return None
    fig = _figure()
    ax = fig.add_subplot()
    actual = [(_time(data["month_start"]), 0.0)] + [(_time(t), v) for t, v in data["daily_to_date"]]
    ax.plot(*zip(*actual, strict=True), color=ACCENT, linewidth=2, label="spent")
    projected = data["projected_daily"]
    x = [_time(t) for t, _, _ in projected]
    ax.plot(x, [r for _, r, _ in projected], color=ACCENT, linestyle="--", label="at current rate")
    if projected and projected[0][2] is not None:
        ax.plot(x, [g for _, _, g in projected], color="#f59e0b", linestyle=":", linewidth=2,
                label="at current growth")  # fmt: skip
    month_end = _time(data["month_end"])
    for i, budget in enumerate(data["budgets"]):
        if (
            budget.get("limit_usd") is None
            or abs((_time(budget["window_end"]) - month_end).days) > 1
        ):
            continue  # only budgets whose window is this month
        color = PALETTE[(i + 4) % len(PALETTE)]
        ax.axhline(budget["limit_usd"], color=color, linewidth=1, label=f"budget {budget['name']}")
        when = budget.get("exhausted_at_growth") or budget.get("exhausted_at_rate")
        if when:
            ax.axvline(_time(when), color=ALERT, linewidth=1, linestyle="-.")
            ax.annotate(
                f"runs out {_time(when):%d %b}",
                (_time(when), budget["limit_usd"]),
                xytext=(4, 4),
                textcoords="offset points",
                color=ALERT,
                fontsize=8,
            )
    _style(ax, f"Spend in {data['month']}", "USD, cumulative")
    _dates(ax)
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", frameon=False, fontsize=8)
    return fig


def efficiency(report: Report) -> Any | None:
    data = report.sections["efficiency"].data
    if not data or not data["by_feature"]:
        return None
    rows = data["by_feature"][:8]
    labels = [name(r["name"]) for r in rows]
    fig = _figure(height=max(2.6, 0.45 * len(rows) + 1.4))
    left, right = fig.subplots(1, 2)
    ys = list(range(len(rows)))
    tokens = [("input_tokens_p50", "input p50"), ("input_tokens_p95", "input p95"),
              ("output_tokens_p50", "output p50"), ("output_tokens_p95", "output p95")]  # fmt: skip
    height = 0.8 / len(tokens)
    for i, (key, label) in enumerate(tokens):
        values = [r.get(key) or 0 for r in rows]
        left.barh([y + i * height for y in ys], values, height=height, label=label,
                  color=PALETTE[i])  # fmt: skip
    left.set_yticks([y + 0.4 - height / 2 for y in ys], labels)
    left.invert_yaxis()
    _style(left, "Tokens per request", "")
    left.grid(axis="x", color=GRID)
    left.legend(frameon=False, fontsize=8, loc="lower right")
    ratios = [("truncation_rate", "truncated"), ("error_rate", "errors"),
              ("unpriced_share", "unpriced"), ("cache_hit_ratio", "cache hits")]  # fmt: skip
    height = 0.8 / len(ratios)
    for i, (key, label) in enumerate(ratios):
        values = [(r.get(key) or 0) * 100 for r in rows]
        right.barh([y + i * height for y in ys], values, height=height, label=label,
                   color=PALETTE[i + 2])  # fmt: skip
    right.axvline(5, color=ALERT, linewidth=1, linestyle="--", label="5 % threshold")
    right.set_yticks([y + 0.4 - height / 2 for y in ys], labels)
    right.invert_yaxis()
    _style(right, "Ratios", "")
    right.set_xlabel("%")
    right.grid(axis="x", color=GRID)
    right.legend(frameon=False, fontsize=8, loc="lower right")
    return fig


_DRAW: dict[str, Callable[[Report], Any | None]] = {
    "cost-trend": cost_trend,
    "cost-by-feature": cost_by_feature,
    "projection": projection,
    "efficiency": efficiency,
}


def figures(report: Report) -> dict[str, Any]:
    """The charts the report has data for, by file stem."""
    out = {}
    for stem, draw in _DRAW.items():
        figure = draw(report)
        if figure is not None:
            out[stem] = figure
    return out


def svg(figure: Any) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # inline: no XML declaration or doctype


def write_pngs(report: Report, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, figure in figures(report).items():
        path = directory / f"{stem}.png"
        figure.savefig(path, format="png", dpi=120, metadata={"Software": None})
        written.append(path)
    return written
