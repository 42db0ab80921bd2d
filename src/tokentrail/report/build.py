"""Assemble the report: read the sources, run every analysis, note what could not be done."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from . import queries
from .analysis.anomalies import anomalies
from .analysis.calls import top_calls, top_users
from .analysis.efficiency import efficiency
from .analysis.projection import projection
from .analysis.totals import totals
from .analysis.trends import trend
from .model import SECTIONS, Report, Section
from .sources import SourceError
from .sources.prometheus import PrometheusClient
from .sources.spans import SpanTable, load
from .timerange import TimeRange, format_duration, iso

NO_PROMETHEUS = "needs --prometheus: the aggregate figures come from the metrics"

#: the datasets each Prometheus section reads (a failed query omits the sections that need it)
NEEDS = {
    "totals": ("cost per step", "cost", "requests", "tokens"),
    "trend": ("cost", "cost per step"),
    "projection": ("cost", "budgets"),
    "anomalies": ("cost",),
    "efficiency": ("requests", "tokens", "token histogram"),
}


class EmptyRange(SourceError):
    """No tokentrail telemetry at all in the range."""


@dataclass(frozen=True)
class Options:
    time_range: TimeRange
    prometheus: PrometheusClient | None
    spans: Sequence[str]
    matchers: str = ""
    z: float = 3.0
    monthly_budget: float | None = None
    top: int = 10


def build(options: Options, progress: Callable[[str], None]) -> Report:
    tr = options.time_range
    report = Report(
        generated_at=iso(time.time()),
        range={
            "start": iso(tr.start),
            "end": iso(tr.end),
            "step": format_duration(tr.step),
            "step_s": tr.step,
        },
        sources={},
    )
    span_table: SpanTable | None = None
    if options.spans:
        progress("reading span files")
        span_table = load(options.spans, tr.start, tr.end)
        report.sources["spans"] = {"files": span_table.files, "calls": span_table.count()}
    metrics = None
    if options.prometheus is not None:
        metrics = queries.fetch(options.prometheus, tr, options.matchers, progress)
        report.sources["prometheus"] = {
            "url": options.prometheus.url,
            "version": metrics.server_version,
            "match": options.matchers or None,
            "history_start": iso(metrics.history_start),
        }
        report.errors += [f"query for {name} failed: {msg}" for name, msg in metrics.errors.items()]
    prometheus_empty = metrics is None or (metrics.empty and not metrics.errors)
    spans_empty = span_table is None or span_table.count() == 0
    if prometheus_empty and spans_empty:
        where = []
        if metrics is not None:
            where.append(f"Prometheus at {options.prometheus.url}")  # type: ignore[union-attr]
        if span_table is not None:
            where.append(f"{len(span_table.files)} span file(s)")
        raise EmptyRange(
            f"no tokentrail telemetry between {iso(tr.start)} and {iso(tr.end)} in "
            + " or ".join(where)
        )
    progress("analysing")
    if metrics is None:
        for key in NEEDS:
            report.add(Section.omit(key, NO_PROMETHEUS))
    else:
        made = {
            "totals": lambda: totals(metrics),
            "trend": lambda: trend(metrics),
            "projection": lambda: projection(metrics, options.monthly_budget),
            "anomalies": lambda: anomalies(metrics, options.z),
            "efficiency": lambda: efficiency(metrics),
        }
        for key, make in made.items():
            failed = [metrics.errors[n] for n in NEEDS[key] if n in metrics.errors]
            if failed:
                report.add(Section.omit(key, f"a query failed: {failed[0]}"))
            else:
                report.add(make())
    report.add(top_users(span_table, options.top))
    report.add(top_calls(span_table, options.top))
    assert set(report.sections) == set(SECTIONS)
    return report
