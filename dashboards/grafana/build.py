"""Generate the tokentrail Grafana dashboards.

    python dashboards/grafana/build.py          # rewrite tokentrail-*.json next to this file
    python dashboards/grafana/build.py --check  # exit 1 if the committed JSON is out of date

Edit this file, not the JSON. Every query uses the exact Prometheus series of the metric
contract (src/tokentrail/names.py) and no otel_scope_* / telemetry_sdk_* label, so the
dashboards work with whatever exported the data.
"""

from __future__ import annotations

import json
import sys
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCHEMA_VERSION = 39  # Grafana 10.4 / 11.x
PROM = {"type": "prometheus", "uid": "${datasource}"}

# Every query over series with the common attributes is narrowed by the four filters.
FILTERS = (
    'gen_ai_provider_name=~"$provider", gen_ai_request_model=~"$model", '
    'tokentrail_feature=~"$feature", tokentrail_team=~"$team"'
)
BUDGET = 'tokentrail_budget_name=~"$budget"'


def sel(metric: str, *matchers: str, base: str = FILTERS) -> str:
    """A series selector: metric{<base filters>, <extra matchers>}."""
    return f"{metric}{{{', '.join((base, *matchers))}}}"


# ---- variables ------------------------------------------------------------------------------


def datasource_var(name: str, plugin: str, label: str) -> dict:
    return {
        "name": name,
        "label": label,
        "type": "datasource",
        "query": plugin,
        "current": {},
        "hide": 0,
        "includeAll": False,
        "multi": False,
        "options": [],
        "refresh": 1,
        "regex": "",
    }


def query_var(name: str, label: str, query: str) -> dict:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": PROM,
        "definition": query,
        "query": {"query": query, "refId": f"{name}-values"},
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "hide": 0,
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "options": [],
        "refresh": 2,  # on time-range change
        "regex": "",
        "sort": 1,
    }


FILTER_VARS = [
    query_var(
        "provider", "Provider", "label_values(tokentrail_requests_total, gen_ai_provider_name)"
    ),
    query_var(
        "model",
        "Model",
        'label_values(tokentrail_requests_total{gen_ai_provider_name=~"$provider"}, '
        "gen_ai_request_model)",
    ),
    query_var(
        "feature",
        "Feature",
        'label_values(tokentrail_requests_total{gen_ai_provider_name=~"$provider"}, '
        "tokentrail_feature)",
    ),
    query_var("team", "Team", "label_values(tokentrail_requests_total, tokentrail_team)"),
]

# ---- links to traces ------------------------------------------------------------------------


def explore_traces_url(extra_traceql: str = "") -> str:
    """An Explore URL running a TraceQL search on the traces data source (Tempo)."""
    # :pipe, not :regex: the regex format escapes dots with backslashes, which would break
    # the JSON string the query sits in; an unescaped dot still matches itself.
    traceql = (
        '{ span.gen_ai.provider.name =~ "${provider:pipe}" '
        '&& span.gen_ai.request.model =~ "${model:pipe}"' + extra_traceql + " }"
    )
    pane = {
        "datasource": "${traces_datasource}",
        "queries": [
            {
                "refId": "A",
                "datasource": {"type": "tempo", "uid": "${traces_datasource}"},
                "queryType": "traceql",
                "query": traceql,
                "limit": 20,
            }
        ],
        "range": {"from": "${__from}", "to": "${__to}"},
    }
    panes = json.dumps({"traces": pane}, separators=(",", ":"))
    # Grafana interpolates ${...} before following the link, so those stay unencoded.
    return "/explore?schemaVersion=1&panes=" + urllib.parse.quote(panes, safe="${}:")


def traces_link(title: str, extra_traceql: str = "") -> dict:
    return {"title": title, "url": explore_traces_url(extra_traceql), "targetBlank": True}


# ---- panels ---------------------------------------------------------------------------------


def target(expr: str, legend: str = "", *, instant: bool = False) -> dict:
    """A Prometheus query; panel() gives it its refId."""
    return {
        "datasource": PROM,
        "expr": expr,
        "legendFormat": legend or "__auto",
        "range": not instant,
        "instant": instant,
    }


def panel(kind: str, title: str, targets: list[dict], *, unit: str, w: int, h: int, **extra):
    description = extra.pop("description", "")
    defaults = {"unit": unit, **extra.pop("defaults", {})}
    p = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": PROM,
        "targets": [{**t, "refId": chr(ord("A") + i)} for i, t in enumerate(targets)],
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "gridPos": {"w": w, "h": h},
    }
    p.update(extra)
    return p


def stat(title: str, expr: str, *, unit: str, w: int = 4, **extra) -> dict:
    return panel(
        "stat",
        title,
        [target(expr, instant=True)],
        unit=unit,
        w=w,
        h=4,
        options={
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "none",
            "textMode": "value",
        },
        **extra,
    )


def timeseries(title: str, targets: list[dict], *, unit: str, w: int = 12, **extra) -> dict:
    return panel(
        "timeseries",
        title,
        targets,
        unit=unit,
        w=w,
        h=8,
        options={
            "legend": {"displayMode": "table", "placement": "right", "calcs": ["mean", "max"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        **extra,
    )


def row(title: str) -> dict:
    return {
        "type": "row",
        "title": title,
        "collapsed": False,
        "panels": [],
        "gridPos": {"w": 24, "h": 1},
    }


def layout(panels: list[dict]) -> list[dict]:
    """Number the panels and place them left to right, wrapping at Grafana's 24 columns."""
    x = y = line_h = 0
    for i, p in enumerate(panels, start=1):
        pos = p["gridPos"]
        if x + pos["w"] > 24:
            x, y, line_h = 0, y + line_h, 0
        pos.update(x=x, y=y)
        x, line_h = x + pos["w"], max(line_h, pos["h"])
        p["id"] = i
    return panels


def dashboard(uid: str, title: str, description: str, variables, panels, links) -> dict:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["tokentrail", "genai", "llm-cost"],
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "time": {"from": "now-24h", "to": "now"},
        "refresh": "1m",
        "timezone": "",
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "templating": {"list": variables},
        "links": [
            {
                "title": "tokentrail",
                "type": "dashboards",
                "tags": ["tokentrail"],
                "asDropdown": True,
                "includeVars": False,
                "keepTime": True,
            },
            *links,
        ],
        "panels": layout(panels),
    }


# ---- the overview ---------------------------------------------------------------------------

COST = "tokentrail_cost_usd_total"
REQUESTS = "tokentrail_requests_total"
TOKENS = "tokentrail_tokens_total"
PRICED = 'tokentrail_cost_status!="unpriced"'
UNPRICED = 'tokentrail_cost_status="unpriced"'
FAILED = 'error_type!=""'
CACHE_READ = 'gen_ai_token_type="cache_read"'
INPUT = 'gen_ai_token_type="input"'
NO_VALUE_IS_ZERO = {"decimals": 0, "noValue": "0"}


def rate(metric: str, *matchers: str, by: str = "", window: str = "$__rate_interval") -> str:
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} (rate({sel(metric, *matchers)}[{window}]))"


def total(metric: str, *matchers: str) -> str:
    return f"sum(increase({sel(metric, *matchers)}[$__range]))"


def cost_rate_by(label: str) -> dict:
    return target(f"{rate(COST, by=label)} * 3600", f"{{{{{label}}}}}")


def quantiles(metric: str) -> list[dict]:
    return [
        target(f"histogram_quantile({q}, {rate(metric, by='le')})", f"p{round(q * 100)}")
        for q in (0.5, 0.95)
    ]


def overview() -> dict:
    usd = {"decimals": 2, "noValue": "0"}
    panels = [
        row("Spend"),
        stat(
            "Spend now",
            f"{rate(COST, window='5m')} * 3600",
            unit="currencyUSD",
            description="USD per hour over the last 5 minutes.",
            defaults=usd,
        ),
        stat("Spend today", total(COST), unit="currencyUSD", timeFrom="now/d", defaults=usd),
        stat(
            "Spend month to date", total(COST), unit="currencyUSD", timeFrom="now/M", defaults=usd
        ),
        stat(
            "Requests",
            total(REQUESTS),
            unit="short",
            description="Requests in the dashboard's time range.",
            defaults=NO_VALUE_IS_ZERO,
        ),
        stat(
            "Cost per request",
            f"{total(COST)} / {total(REQUESTS, PRICED)}",
            unit="currencyUSD",
            description="Spend / priced requests in the time range (unpriced requests excluded).",
            defaults={"decimals": 4},
        ),
        stat(
            "Unpriced requests",
            total(REQUESTS, UNPRICED),
            unit="short",
            description="Requests whose cost is unknown: model missing from the price list, or "
            "no usage reported. Their spend is in no cost panel and no budget.",
            defaults={
                **NO_VALUE_IS_ZERO,
                "thresholds": {
                    "mode": "absolute",
                    "steps": [{"color": "green", "value": None}, {"color": "orange", "value": 1}],
                },
            },
        ),
        row("Spend breakdown (USD per hour)"),
        timeseries("Spend by provider", [cost_rate_by("gen_ai_provider_name")], unit="currencyUSD"),
        timeseries("Spend by model", [cost_rate_by("gen_ai_request_model")], unit="currencyUSD"),
        timeseries("Spend by feature", [cost_rate_by("tokentrail_feature")], unit="currencyUSD"),
        timeseries("Spend by team", [cost_rate_by("tokentrail_team")], unit="currencyUSD"),
        row("Traffic, tokens and caching"),
        timeseries(
            "Requests by model",
            [target(rate(REQUESTS, by="gen_ai_request_model"), "{{gen_ai_request_model}}")],
            unit="reqps",
        ),
        timeseries(
            "Tokens by type",
            [target(rate(TOKENS, by="gen_ai_token_type"), "{{gen_ai_token_type}}")],
            unit="short",
            description="Tokens per second. input includes cache_read and cache_creation; "
            "output includes reasoning.",
        ),
        timeseries(
            "Cost per request by model",
            [
                target(
                    f"{rate(COST, by='gen_ai_request_model')} / "
                    f"{rate(REQUESTS, PRICED, by='gen_ai_request_model')}",
                    "{{gen_ai_request_model}}",
                )
            ],
            unit="currencyUSD",
            description="Spend per priced request (alert: TokentrailCostPerRequestJump).",
        ),
        timeseries(
            "Cache-hit ratio by model",
            [
                target(
                    f"{rate(TOKENS, CACHE_READ, by='gen_ai_request_model')} / "
                    f"{rate(TOKENS, INPUT, by='gen_ai_request_model')}",
                    "{{gen_ai_request_model}}",
                )
            ],
            unit="percentunit",
            description="Cache reads / input tokens, for models that report cache reads (alert: "
            "TokentrailCacheHitRatioLow: below 60 % warning, 40 % critical).",
            defaults={
                "min": 0,
                "max": 1,
                "custom": {"thresholdsStyle": {"mode": "dashed"}},
                "thresholds": {
                    "mode": "absolute",
                    "steps": [
                        {"color": "red", "value": None},
                        {"color": "orange", "value": 0.4},
                        {"color": "green", "value": 0.6},
                    ],
                },
            },
        ),
        timeseries(
            "Tokens per request, p95",
            [
                target(
                    "histogram_quantile(0.95, "
                    f"{rate('gen_ai_client_token_usage_bucket', by='le, gen_ai_token_type')})",
                    "{{gen_ai_token_type}}",
                )
            ],
            unit="short",
            w=24,
            description="From the semantic-convention histogram gen_ai.client.token.usage.",
        ),
        row("Latency and errors"),
        timeseries(
            "Latency",
            quantiles("gen_ai_client_operation_duration_seconds_bucket"),
            unit="s",
            links=[traces_link("Slow calls in Explore", " && duration > 5s")],
        ),
        timeseries(
            "Time to first chunk (streams)",
            quantiles("gen_ai_client_operation_time_to_first_chunk_seconds_bucket"),
            unit="s",
            links=[
                traces_link("Streamed calls in Explore", " && span.gen_ai.request.stream = true")
            ],
        ),
        timeseries(
            "Error ratio by provider",
            [
                target(
                    f"{rate(REQUESTS, FAILED, by='gen_ai_provider_name')} / "
                    f"{rate(REQUESTS, by='gen_ai_provider_name')}",
                    "{{gen_ai_provider_name}}",
                )
            ],
            unit="percentunit",
            description="Failed / all requests (alert: TokentrailErrorRatioHigh: above 5 % "
            "warning, 20 % critical).",
            links=[traces_link("Failed calls in Explore", " && status = error")],
        ),
        timeseries(
            "Errors by type",
            [target(rate(REQUESTS, FAILED, by="error_type"), "{{error_type}}")],
            unit="reqps",
        ),
        timeseries(
            "Unpriced requests by model",
            [
                target(
                    rate(REQUESTS, UNPRICED, by="gen_ai_provider_name, gen_ai_request_model"),
                    "{{gen_ai_provider_name}} {{gen_ai_request_model}}",
                )
            ],
            unit="reqps",
            w=24,
            description="Add these models to TOKENTRAIL_PRICES_FILE (alert: "
            "TokentrailUnpricedRequests).",
        ),
    ]
    return dashboard(
        "tokentrail-overview",
        "tokentrail / LLM cost overview",
        "Spend, requests, tokens, caching, latency and errors of the LLM calls tokentrail "
        "instruments.",
        [
            datasource_var("datasource", "prometheus", "Prometheus"),
            datasource_var("traces_datasource", "tempo", "Traces"),
            *FILTER_VARS,
        ],
        panels,
        [
            {
                "title": "Traces in Explore",
                "type": "link",
                "icon": "external link",
                "url": explore_traces_url(),
                "targetBlank": True,
            }
        ],
    )


# ---- budgets --------------------------------------------------------------------------------

SPENT = "tokentrail_budget_spent_usd"
LIMIT = "tokentrail_budget_limit_usd"
REMAINING = "tokentrail_budget_window_remaining_seconds"


def per_budget(expr: str) -> str:
    return f"max by (tokentrail_budget_name) ({expr})"


def budget(metric: str, window: str = "") -> str:
    return sel(metric, base=BUDGET) + (f"[{window}]" if window else "")


def budgets() -> dict:
    # The same projection as tokentrail:budget_spent_usd:predicted_window_end (see the rules):
    # predict_linear with each budget's own remaining window as the horizon.
    projected = per_budget(
        f"predict_linear({budget(SPENT, '1h')}, 0) + deriv({budget(SPENT, '1h')}) * "
        f"{budget(REMAINING)}"
    )
    panels = [
        row("Budgets"),
        panel(
            "bargauge",
            "Budget used",
            [
                target(
                    f"{per_budget(budget(SPENT))} / {per_budget(budget(LIMIT))}",
                    "{{tokentrail_budget_name}}",
                    instant=True,
                )
            ],
            unit="percentunit",
            w=12,
            h=8,
            description="Spent / limit in each budget's current window.",
            options={
                "displayMode": "gradient",
                "orientation": "horizontal",
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            },
            defaults={
                "min": 0,
                "max": 1,
                "thresholds": {
                    "mode": "absolute",
                    "steps": [
                        {"color": "green", "value": None},
                        {"color": "orange", "value": 0.8},
                        {"color": "red", "value": 1},
                    ],
                },
            },
        ),
        panel(
            "table",
            "Time left",
            [
                target(per_budget(budget(REMAINING)), instant=True),
                target(
                    per_budget(
                        f"({budget(LIMIT)} - {budget(SPENT)}) / deriv({budget(SPENT, '1h')}) > 0"
                    ),
                    instant=True,
                ),
            ],
            unit="s",
            w=12,
            h=8,
            description="Until the window resets, and until the limit is reached at the last "
            "hour's burn rate (empty while the budget is not burning).",
            transformations=[
                {"id": "merge", "options": {}},
                {
                    "id": "organize",
                    "options": {
                        "excludeByName": {"Time": True},
                        "renameByName": {
                            "tokentrail_budget_name": "Budget",
                            "Value #A": "Window resets in",
                            "Value #B": "Limit reached in",
                        },
                    },
                },
            ],
        ),
        timeseries(
            "Spent vs limit",
            [
                target(per_budget(budget(SPENT)), "{{tokentrail_budget_name}} spent"),
                target(per_budget(budget(LIMIT)), "{{tokentrail_budget_name}} limit"),
            ],
            unit="currencyUSD",
        ),
        timeseries(
            "Burn projection: spend at the end of the window",
            [
                target(projected, "{{tokentrail_budget_name}} projected"),
                target(per_budget(budget(LIMIT)), "{{tokentrail_budget_name}} limit"),
            ],
            unit="currencyUSD",
            description="The last hour's trend extended to the end of each budget's window "
            "(alert: TokentrailBudgetBurn). Unreliable in a window's first hour.",
        ),
        row("Alerts"),
        timeseries(
            "Alerts fired by tokentrail",
            [
                target(
                    "sum by (tokentrail_alert_kind, tokentrail_alert_severity) "
                    "(increase(tokentrail_alerts_total[$__rate_interval]))",
                    "{{tokentrail_alert_kind}} ({{tokentrail_alert_severity}})",
                )
            ],
            unit="short",
            description="In-process alerts sent to tokentrail's sinks: request_cost, "
            "budget_warning, budget_exceeded.",
            defaults={"custom": {"drawStyle": "bars", "fillOpacity": 60}},
        ),
        panel(
            "alertlist",
            "Firing Prometheus alerts",
            [],
            unit="none",
            w=12,
            h=8,
            description="Alerts of dashboards/prometheus/tokentrail-rules.yml.",
            options={
                "viewMode": "list",
                "groupMode": "default",
                "groupBy": [],
                "maxItems": 20,
                "sortOrder": 1,
                "dashboardAlerts": False,
                "alertName": "Tokentrail",
                "alertInstanceLabelFilter": "",
                "stateFilter": {
                    "firing": True,
                    "pending": True,
                    "noData": False,
                    "normal": False,
                    "error": True,
                },
            },
        ),
        timeseries(
            "Errors swallowed inside tokentrail",
            [
                target(
                    "sum by (tokentrail_error_site) "
                    "(increase(tokentrail_internal_errors_total[$__rate_interval]))",
                    "{{tokentrail_error_site}}",
                )
            ],
            unit="short",
            w=24,
            description="Calls went on with less telemetry (alert: TokentrailInternalErrors).",
        ),
    ]
    return dashboard(
        "tokentrail-budgets",
        "tokentrail / Budgets and alerts",
        "tokentrail budgets: spent vs limit, burn projection, time left; alerts fired.",
        [
            datasource_var("datasource", "prometheus", "Prometheus"),
            query_var("budget", "Budget", f"label_values({LIMIT}, tokentrail_budget_name)"),
        ],
        panels,
        [],
    )


DASHBOARDS = {"tokentrail-overview.json": overview, "tokentrail-budgets.json": budgets}


def render(build) -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    check = argv == ["--check"]
    stale = []
    for name, build in DASHBOARDS.items():
        path = HERE / name
        text = render(build)
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print(f"out of date, run python {Path(__file__).name}: {', '.join(stale)}", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
