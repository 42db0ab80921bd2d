"""Read the PromQL in tokentrail's alert rules and Grafana dashboards.

A small, dependency-free scanner (no PromQL grammar needed): it finds every series selector in
an expression, i.e. metric names and their label matchers, and every label name an expression
groups or matches on. Used by the contract tests (rules and dashboards only use exported series)
and by the live tests (every name is in a real /metrics exposition, every panel query returns
data).

    metric_names('sum by (job) (rate(tokentrail_requests_total{error_type!=""}[5m]))')
        -> {"tokentrail_requests_total"}
    used_metric_names()   # every exported series name the rules and dashboards depend on
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "dashboards" / "prometheus" / "tokentrail-rules.yml"
RULES_TEST = REPO / "dashboards" / "prometheus" / "tokentrail-rules.test.yml"
DASHBOARDS = sorted((REPO / "dashboards" / "grafana").glob("*.json"))

# src/tokentrail/names.py as Prometheus sees it (opentelemetry-exporter-prometheus, Collector
# exporters).
HISTOGRAMS = (
    "gen_ai_client_token_usage",
    "gen_ai_client_operation_duration_seconds",
    "gen_ai_client_operation_time_to_first_chunk_seconds",
)
EXPORTED_SERIES = frozenset(
    [f"{h}_{suffix}" for h in HISTOGRAMS for suffix in ("bucket", "sum", "count")]
    + [
        "tokentrail_tokens_total",
        "tokentrail_cost_usd_total",
        "tokentrail_requests_total",
        "tokentrail_budget_spent_usd",
        "tokentrail_budget_limit_usd",
        "tokentrail_budget_window_remaining_seconds",
        "tokentrail_alerts_total",
        "tokentrail_internal_errors_total",
    ]
)
# The attribute allow-list on every series of the call metrics (histograms, tokens, cost,
# requests), with dots as underscores.
COMMON_LABELS = frozenset(
    {
        "gen_ai_provider_name",
        "gen_ai_operation_name",
        "gen_ai_request_model",
        "gen_ai_response_model",
        "server_address",
        "tokentrail_feature",
        "tokentrail_team",
        "tokentrail_endpoint",
    }
)
BUDGET_SERIES = frozenset(
    {
        "tokentrail_budget_spent_usd",
        "tokentrail_budget_limit_usd",
        "tokentrail_budget_window_remaining_seconds",
    }
)


def series_labels(metric: str) -> frozenset[str]:
    """The label names the contract gives a series (besides job/instance/otel_scope_*)."""
    if metric in BUDGET_SERIES:
        return frozenset({"tokentrail_budget_name"})
    if metric == "tokentrail_alerts_total":
        return frozenset({"tokentrail_alert_kind", "tokentrail_alert_severity"})
    if metric == "tokentrail_internal_errors_total":
        return frozenset({"tokentrail_error_site"})
    extra = {
        "tokentrail_tokens_total": {"gen_ai_token_type"},
        "gen_ai_client_token_usage_bucket": {"gen_ai_token_type", "le"},
        "gen_ai_client_token_usage_sum": {"gen_ai_token_type"},
        "gen_ai_client_token_usage_count": {"gen_ai_token_type"},
        "tokentrail_requests_total": {"error_type", "tokentrail_cost_status"},
        "gen_ai_client_operation_duration_seconds_bucket": {"error_type", "le"},
        "gen_ai_client_operation_duration_seconds_sum": {"error_type"},
        "gen_ai_client_operation_duration_seconds_count": {"error_type"},
        "gen_ai_client_operation_time_to_first_chunk_seconds_bucket": {"le"},
    }.get(metric, set())
    return COMMON_LABELS | extra


# ---- scanning PromQL ----------------------------------------------------------------------

_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?:[a-zA-Z]+\d*)*")
_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_MATCHER = re.compile(
    r"\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"
    r'("(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`)\s*(?:,|$)'
)
# Identifiers followed by a parenthesised list of label names.
_LABEL_LIST_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"}
_AGGREGATIONS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile",
}  # fmt: skip


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str
    value: str  # unquoted


@dataclass(frozen=True)
class Selector:
    metric: str  # "" for a selector with neither a name nor an exact __name__ matcher
    matchers: tuple[Matcher, ...]

    def matcher(self, label: str) -> Matcher | None:
        return next((m for m in self.matchers if m.label == label), None)


def _unquote(s: str) -> str:
    if s.startswith("`"):
        return s[1:-1]
    return re.sub(r"\\(.)", r"\1", s[1:-1])


def _skip_string(expr: str, i: int) -> int:
    m = _STRING.match(expr, i)
    if not m:
        raise ValueError(f"unterminated string at {i}: {expr[i : i + 40]!r}")
    return m.end()


def _closing(expr: str, i: int, open_: str, close: str) -> int:
    """Index after the bracket that closes the one at i, skipping strings."""
    depth = 0
    while i < len(expr):
        c = expr[i]
        if c in "\"'`":
            i = _skip_string(expr, i)
            continue
        if c == open_:
            depth += 1
        elif c == close:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError(f"unbalanced {open_!r} in {expr!r}")


def _matchers(body: str) -> tuple[Matcher, ...]:
    out, pos, body = [], 0, body.strip()
    while pos < len(body):
        m = _MATCHER.match(body, pos)
        if not m:
            raise ValueError(f"cannot read label matchers {body!r}")
        out.append(Matcher(m.group(1), m.group(2), _unquote(m.group(3))))
        pos = m.end()
    return tuple(out)


def _scan(expr: str) -> Iterator[tuple[str, object]]:
    """Yield ("selector", Selector) and ("labels", [names]) items of a PromQL expression."""
    i, n = 0, len(expr)
    while i < n:
        c = expr[i]
        if c.isspace():
            i += 1
        elif c == "#":
            end = expr.find("\n", i)
            i = n if end < 0 else end
        elif c in "\"'`":
            i = _skip_string(expr, i)
        elif c == "[":  # range or subquery: durations only
            i = expr.index("]", i) + 1
        elif c == "{":  # a selector without a metric name
            end = _closing(expr, i, "{", "}")
            ms = _matchers(expr[i + 1 : end - 1])
            name = next((m.value for m in ms if m.label == "__name__" and m.op == "="), "")
            yield "selector", Selector(name, ms)
            yield "labels", [m.label for m in ms if m.label != "__name__"]
            i = end
        elif c.isdigit() or (c == "." and i + 1 < n and expr[i + 1].isdigit()):
            i = _NUMBER.match(expr, i).end()
        elif m := _IDENT.match(expr, i):
            word, i = m.group(), m.end()
            j = i
            while j < n and expr[j].isspace():
                j += 1
            nxt = expr[j] if j < n else ""
            if word in _LABEL_LIST_KEYWORDS:
                if nxt == "(":
                    end = _closing(expr, j, "(", ")")
                    names = expr[j + 1 : end - 1].split(",")
                    yield "labels", [x.strip() for x in names if x.strip()]
                    i = end
            elif word.lower() in _KEYWORDS or word in _AGGREGATIONS or nxt == "(":
                continue  # operator, aggregation or function call
            elif nxt == "{":
                end = _closing(expr, j, "{", "}")
                ms = _matchers(expr[j + 1 : end - 1])
                yield "selector", Selector(word, ms)
                yield "labels", [m.label for m in ms]
                i = end
            else:
                yield "selector", Selector(word, ())
        else:
            i += 1


def selectors(expr: str) -> list[Selector]:
    """Every series selector in a PromQL expression, in order."""
    return [item for kind, item in _scan(expr) if kind == "selector"]


def metric_names(expr: str) -> set[str]:
    """Metric names selected by a PromQL expression (recording-rule names included)."""
    return {s.metric for s in selectors(expr) if s.metric}


def label_names(expr: str) -> set[str]:
    """Label names an expression matches on or groups by (by/without/on/ignoring/group_*)."""
    return {name for kind, names in _scan(expr) if kind == "labels" for name in names}


# ---- rules --------------------------------------------------------------------------------


def load_rules(path: Path = RULES) -> list[dict]:
    """Every rule of a Prometheus rules file."""
    groups = yaml.safe_load(path.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def recorded_names(path: Path = RULES) -> set[str]:
    return {r["record"] for r in load_rules(path) if "record" in r}


# ---- Grafana ------------------------------------------------------------------------------

# What the contract tests put in place of Grafana's built-in interval variables.
GRAFANA_BUILTINS = {"__rate_interval": "1m", "__interval": "15s", "__range": "1h"}
_VARIABLE = re.compile(
    r"\$\{(?P<braced>\w+)(?::[^}]*)?\}|\[\[(?P<bracketed>\w+)(?::[^\]]*)?\]\]|\$(?P<plain>\w+)"
)
_LABEL_VALUES = re.compile(
    r"^\s*label_values\(\s*(?:(?P<selector>.*\S)\s*,\s*)?(?P<label>[a-zA-Z_]\w*)\s*\)\s*$", re.S
)


def variable_refs(text: str) -> set[str]:
    """Names of the Grafana variables a string uses (built-ins like $__range excluded)."""
    names = {next(g for g in m.groups() if g) for m in _VARIABLE.finditer(text)}
    return {name for name in names if not name.startswith("__")}


def to_promql(expr: str, value: str = ".*") -> str:
    """Substitute Grafana variables: built-in intervals by durations, the others by value."""

    def sub(m: re.Match) -> str:
        name = next(g for g in m.groups() if g)
        return GRAFANA_BUILTINS.get(name, value)

    return _VARIABLE.sub(sub, expr)


def load_dashboard(path: Path) -> dict:
    return json.loads(path.read_text())


def iter_panels(dashboard: dict) -> Iterator[dict]:
    """Every panel, including those nested in collapsed rows."""
    for p in dashboard.get("panels", []):
        yield p
        yield from p.get("panels", [])


def panel_exprs(dashboard: dict) -> list[tuple[str, str]]:
    """(panel title, raw expr) for every Prometheus query of a dashboard."""
    return [
        (p.get("title", ""), t["expr"])
        for p in iter_panels(dashboard)
        for t in p.get("targets", [])
        if "expr" in t
    ]


def variable_query(variable: dict) -> str:
    query = variable.get("query", "")
    return query.get("query", "") if isinstance(query, dict) else query


def parse_label_values(query: str) -> tuple[str | None, str]:
    """label_values([selector,] label) -> (selector or None, label)."""
    m = _LABEL_VALUES.match(query)
    if not m:
        raise ValueError(f"not a label_values() query: {query!r}")
    return m.group("selector"), m.group("label")


def query_variables(dashboard: dict) -> list[dict]:
    return [v for v in dashboard.get("templating", {}).get("list", []) if v["type"] == "query"]


# ---- everything together ------------------------------------------------------------------


def panel_queries(dashboards: list[Path] = DASHBOARDS) -> list[tuple[str, str]]:
    """("<dashboard>: <panel title>", PromQL) for every panel query, Grafana variables
    substituted (see to_promql)."""
    return [
        (f"{path.stem}: {title}", to_promql(expr))
        for path in dashboards
        for title, expr in panel_exprs(load_dashboard(path))
    ]


def variable_queries(dashboards: list[Path] = DASHBOARDS) -> list[tuple[str, str | None, str]]:
    """("<dashboard>: $<name>", selector or None, label) for every label_values() variable,
    Grafana variables in the selector substituted."""
    out = []
    for path in dashboards:
        for var in query_variables(load_dashboard(path)):
            selector, label = parse_label_values(variable_query(var))
            where = f"{path.stem}: ${var['name']}"
            out.append((where, selector and to_promql(selector), label))
    return out


def dashboard_exprs(dashboards: list[Path] = DASHBOARDS) -> list[tuple[str, str]]:
    """(where, PromQL) for every panel query and variable selector."""
    selectors_ = [(where, sel) for where, sel, _ in variable_queries(dashboards) if sel]
    return panel_queries(dashboards) + selectors_


def used_metric_names(rules: Path = RULES, dashboards: list[Path] = DASHBOARDS) -> set[str]:
    """Every series name the rules and dashboards read that must come from an exporter, i.e.
    recording-rule outputs excluded."""
    exprs = [r["expr"] for r in load_rules(rules)] + [e for _, e in dashboard_exprs(dashboards)]
    names = set().union(*(metric_names(e) for e in exprs))
    return names - recorded_names(rules)
