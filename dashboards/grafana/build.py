"""Generate the tokentrail Grafana dashboards with Grafana's own typed builders.

    python dashboards/grafana/build.py          # rewrite tokentrail-*.json next to this file
    python dashboards/grafana/build.py --check  # exit 1 if the committed JSON is out of date

Edit this file, not the JSON. Every panel, variable, link and query is built with
grafana-foundation-sdk (Grafana Labs' builders generated from Grafana's schemas; pinned in
pyproject's `dev` extra), so only fields of Grafana's dashboard schema can be set, each with its
schema type (`tests/contract/test_dashboards.py` type-checks this file against the SDK). The
SDK publishes one release line per Grafana version; this file targets GRAFANA_LINE, the newest
line with a versioned schema. Grafana migrates older dashboards forward, so the JSON also loads
in later versions; deploy/compose runs the same line.

Every query uses the exact Prometheus series of the metric contract (src/tokentrail/names.py)
and no otel_scope_* / telemetry_sdk_* label, so the dashboards work with whatever exported the
data. Trace links open Explore on Jaeger (a search of the `service` variable's service) or on
Tempo (a TraceQL search filtered like the dashboard); each store has its own data source
variable.
"""

from __future__ import annotations

import json
import sys
import urllib.parse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

from grafana_foundation_sdk.builders import bargauge, dashboard, prometheus, stat, table, tempo
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import timeseries as timeseries_builders
from grafana_foundation_sdk.cog import builder as cog
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

HERE = Path(__file__).resolve().parent
#: the Grafana version line of the grafana-foundation-sdk release pyproject.toml pins
GRAFANA_LINE = "11.6"

PROM = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
JAEGER = model.DataSourceRef(type_val="jaeger", uid="${jaeger_datasource}")
TEMPO = model.DataSourceRef(type_val="tempo", uid="${tempo_datasource}")

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


def datasource_var(name: str, plugin: str, label: str) -> dashboard.DatasourceVariable:
    return dashboard.DatasourceVariable(name).label(label).type(plugin)


def filter_var(name: str, label: str, query: str) -> dashboard.QueryVariable:
    """A multi-value filter whose "All" matches anything, unattributed calls included."""
    return (
        dashboard.QueryVariable(name)
        .label(label)
        .datasource(PROM)
        .query(query)
        .current(model.VariableOption(selected=True, text=["All"], value=["$__all"]))
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
    )


def filter_vars() -> list[dashboard.QueryVariable]:
    return [
        filter_var(
            "provider", "Provider", "label_values(tokentrail_requests_total, gen_ai_provider_name)"
        ),
        filter_var(
            "model",
            "Model",
            'label_values(tokentrail_requests_total{gen_ai_provider_name=~"$provider"}, '
            "gen_ai_request_model)",
        ),
        filter_var(
            "feature",
            "Feature",
            'label_values(tokentrail_requests_total{gen_ai_provider_name=~"$provider"}, '
            "tokentrail_feature)",
        ),
        filter_var("team", "Team", "label_values(tokentrail_requests_total, tokentrail_team)"),
    ]


def trace_service_var() -> dashboard.QueryVariable:
    """The one service whose traces the Jaeger links search (Jaeger searches need one). Behind
    the Collector, Prometheus's `job` is the telemetry's service.name."""
    return (
        dashboard.QueryVariable("service")
        .label("Traces of")
        .description("The service whose traces the Jaeger links open (Jaeger searches one).")
        .datasource(PROM)
        .query("label_values(tokentrail_requests_total, job)")
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
    )


def trace_vars() -> list[cog.Builder[model.VariableModel]]:
    return [
        trace_service_var(),
        datasource_var("jaeger_datasource", "jaeger", "Jaeger"),
        datasource_var("tempo_datasource", "tempo", "Tempo"),
    ]


# ---- links to traces ------------------------------------------------------------------------


def explore_url(datasource: str, query: dict[str, Any]) -> str:
    """An Explore URL that runs ``query`` on the data source (uid) ``datasource``."""
    pane = {
        "datasource": datasource,
        "queries": [query],
        "range": {"from": "${__from}", "to": "${__to}"},
    }
    panes = json.dumps({"traces": pane}, separators=(",", ":"))
    # Grafana interpolates ${...} before following the link, so those stay unencoded.
    return "/explore?schemaVersion=1&panes=" + urllib.parse.quote(panes, safe="${}:")


def tempo_search(extra_traceql: str = "") -> dict[str, Any]:
    """A TraceQL search for the dashboard's provider and model filters (plus ``extra``)."""
    # :pipe, not :regex: the regex format escapes dots with backslashes, which would break
    # the JSON string the query sits in; an unescaped dot still matches itself.
    traceql = (
        '{ span.gen_ai.provider.name =~ "${provider:pipe}" '
        '&& span.gen_ai.request.model =~ "${model:pipe}"' + extra_traceql + " }"
    )
    query = (
        tempo.TempoQuery()
        .ref_id("A")
        .datasource(TEMPO)
        .query_type("traceql")
        .query(traceql)
        .limit(20)
        .build()
    )
    return as_data(query)


def as_data(built: object) -> dict[str, Any]:
    """What the SDK builds, as the JSON data Grafana reads."""
    return cast("dict[str, Any]", json.loads(json.dumps(built, cls=JSONEncoder)))


def jaeger_search(tags: str = "", min_duration: str = "") -> dict[str, Any]:
    """A Jaeger search of the `service` variable's spans: Jaeger matches tags exactly, so the
    dashboard's multi-value filters cannot narrow it; ``tags`` (logfmt) and ``min_duration``
    do. The SDK has no model of Jaeger queries; this is the Jaeger data source's own
    (``queryType: search``)."""
    query: dict[str, Any] = {
        "refId": "A",
        "datasource": {"type": JAEGER.type_val, "uid": JAEGER.uid},
        "queryType": "search",
        "service": "${service}",
        "limit": 20,
    }
    if tags:
        query["tags"] = tags
    if min_duration:
        query["minDuration"] = min_duration
    return query


def trace_links(
    what: str, jaeger: dict[str, Any], tempo_query: dict[str, Any]
) -> list[cog.Builder[model.DashboardLink]]:
    """The same traces in each trace store: "<what> in Jaeger", "<what> in Tempo"."""
    return [
        dashboard.DashboardLink(f"{what} in {store}")
        .type(model.DashboardLinkType.LINK)
        .icon("external link")
        .url(explore_url(f"${{{variable}}}", query))
        .target_blank(True)
        for store, variable, query in (
            ("Jaeger", "jaeger_datasource", jaeger),
            ("Tempo", "tempo_datasource", tempo_query),
        )
    ]


# ---- panels ---------------------------------------------------------------------------------


def query(expr: str, legend: str = "", *, instant: bool = False) -> prometheus.Dataquery:
    """A Prometheus query; the panel gives it its refId."""
    q = prometheus.Dataquery().datasource(PROM).expr(expr).legend_format(legend or "__auto")
    return q.instant() if instant else q.range()


#: the panels that take Prometheus queries
PanelT = TypeVar("PanelT", stat.Panel, timeseries_builders.Panel, bargauge.Panel, table.Panel)


def with_queries(panel: PanelT, queries: Sequence[prometheus.Dataquery]) -> PanelT:
    for i, q in enumerate(queries):
        panel.with_target(q.ref_id(chr(ord("A") + i)))
    return panel


def thresholds(*steps: tuple[float | None, str]) -> dashboard.ThresholdsConfig:
    return (
        dashboard.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=value, color=color) for value, color in steps])
    )


def last_value() -> common_builders.ReduceDataOptions:
    return common_builders.ReduceDataOptions().calcs(["lastNotNull"]).fields("").values(False)


def stat_panel(title: str, expr: str, *, unit: str, description: str = "") -> stat.Panel:
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(PROM)
        .unit(unit)
        .span(4)
        .height(4)
        .reduce_options(last_value())
        .color_mode(common.BigValueColorMode.VALUE)
        .graph_mode(common.BigValueGraphMode.NONE)
        .text_mode(common.BigValueTextMode.VALUE)
    )
    return with_queries(panel, [query(expr, instant=True)])


def timeseries(
    title: str,
    queries: Sequence[prometheus.Dataquery],
    *,
    unit: str,
    w: int = 12,
    description: str = "",
) -> timeseries_builders.Panel:
    panel = (
        timeseries_builders.Panel()
        .title(title)
        .description(description)
        .datasource(PROM)
        .unit(unit)
        .span(w)
        .height(8)
        .legend(
            common_builders.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.TABLE)
            .placement(common.LegendPlacement.RIGHT)
            .show_legend(True)
            .calcs(["mean", "max"])
        )
        .tooltip(
            common_builders.VizTooltipOptions()
            .mode(common.TooltipDisplayMode.MULTI)
            .sort(common.SortOrder.DESCENDING)
        )
    )
    return with_queries(panel, queries)


def row(title: str) -> dashboard.Row:
    return dashboard.Row(title)


def build_dashboard(
    uid: str,
    title: str,
    description: str,
    variables: Sequence[cog.Builder[model.VariableModel]],
    items: Sequence[dashboard.Row | cog.Builder[model.Panel]],
    links: Sequence[cog.Builder[model.DashboardLink]] = (),
) -> dict[str, Any]:
    """The dashboard as JSON data: panels laid out left to right (the SDK wraps at Grafana's
    24 columns) and numbered."""
    builder = (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["tokentrail", "genai", "llm-cost"])
        .editable()
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .version(1)
        .time("now-24h", "now")
        .refresh("1m")
        .timezone("")
        .annotation(
            dashboard.AnnotationQuery()
            .name("Annotations & Alerts")
            .datasource(model.DataSourceRef(type_val="grafana", uid="-- Grafana --"))
            .enable(True)
            .hide(True)
            .icon_color("rgba(0, 211, 255, 1)")
            .type("dashboard")
            .built_in(1)
        )
        .link(
            dashboard.DashboardLink("tokentrail")
            .type(model.DashboardLinkType.DASHBOARDS)
            .tags(["tokentrail"])
            .as_dropdown(True)
            .include_vars(False)
            .keep_time(True)
        )
    )
    for variable in variables:
        builder.with_variable(variable)
    for link in links:
        builder.link(link)
    for item in items:
        if isinstance(item, dashboard.Row):
            builder.with_row(item)
        else:
            builder.with_panel(item)
    built = builder.build()
    for number, panel in enumerate(built.panels or [], start=1):
        panel.id_val = number
    return as_data(built)


# ---- the overview ---------------------------------------------------------------------------

COST = "tokentrail_cost_usd_total"
REQUESTS = "tokentrail_requests_total"
TOKENS = "tokentrail_tokens_total"
PRICED = 'tokentrail_cost_status!="unpriced"'
UNPRICED = 'tokentrail_cost_status="unpriced"'
FAILED = 'error_type!=""'
CACHE_READ = 'gen_ai_token_type="cache_read"'
INPUT = 'gen_ai_token_type="input"'
TRUNCATED = 'tokentrail_finish_reason="length"'


def rate(metric: str, *matchers: str, by: str = "", window: str = "$__rate_interval") -> str:
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} (rate({sel(metric, *matchers)}[{window}]))"


def total(metric: str, *matchers: str) -> str:
    return f"sum(increase({sel(metric, *matchers)}[$__range]))"


def cost_rate_by(label: str) -> prometheus.Dataquery:
    return query(f"{rate(COST, by=label)} * 3600", f"{{{{{label}}}}}")


def quantiles(metric: str) -> list[prometheus.Dataquery]:
    return [
        query(f"histogram_quantile({q}, {rate(metric, by='le')})", f"p{round(q * 100)}")
        for q in (0.5, 0.95)
    ]


def overview() -> dict[str, Any]:
    def usd(panel: stat.Panel) -> stat.Panel:
        return panel.decimals(2).no_value("0")

    def count(panel: stat.Panel) -> stat.Panel:
        return panel.decimals(0).no_value("0")

    items: list[dashboard.Row | cog.Builder[model.Panel]] = [
        row("Spend"),
        usd(
            stat_panel(
                "Spend now",
                f"{rate(COST, window='5m')} * 3600",
                unit="currencyUSD",
                description="USD per hour over the last 5 minutes.",
            )
        ),
        usd(stat_panel("Spend today", total(COST), unit="currencyUSD").time_from("now/d")),
        usd(stat_panel("Spend month to date", total(COST), unit="currencyUSD").time_from("now/M")),
        count(
            stat_panel(
                "Requests",
                total(REQUESTS),
                unit="short",
                description="Requests in the dashboard's time range.",
            )
        ),
        stat_panel(
            "Cost per request",
            f"{total(COST)} / {total(REQUESTS, PRICED)}",
            unit="currencyUSD",
            description="Spend / priced requests in the time range (unpriced requests excluded).",
        ).decimals(4),
        count(
            stat_panel(
                "Unpriced requests",
                total(REQUESTS, UNPRICED),
                unit="short",
                description="Requests whose cost is unknown: model missing from the price list, "
                "or no usage reported. Their spend is in no cost panel and no budget.",
            )
        ).thresholds(thresholds((None, "green"), (1, "orange"))),
        row("Spend breakdown (USD per hour)"),
        timeseries("Spend by provider", [cost_rate_by("gen_ai_provider_name")], unit="currencyUSD"),
        timeseries("Spend by model", [cost_rate_by("gen_ai_request_model")], unit="currencyUSD"),
        timeseries("Spend by feature", [cost_rate_by("tokentrail_feature")], unit="currencyUSD"),
        timeseries("Spend by team", [cost_rate_by("tokentrail_team")], unit="currencyUSD"),
        row("Traffic, tokens and caching"),
        timeseries(
            "Requests by model",
            [query(rate(REQUESTS, by="gen_ai_request_model"), "{{gen_ai_request_model}}")],
            unit="reqps",
        ),
        timeseries(
            "Tokens by type",
            [query(rate(TOKENS, by="gen_ai_token_type"), "{{gen_ai_token_type}}")],
            unit="short",
            description="Tokens per second. input includes cache_read and cache_creation; "
            "output includes reasoning.",
        ),
        timeseries(
            "Cost per request by model",
            [
                query(
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
                query(
                    f"{rate(TOKENS, CACHE_READ, by='gen_ai_request_model')} / "
                    f"{rate(TOKENS, INPUT, by='gen_ai_request_model')}",
                    "{{gen_ai_request_model}}",
                )
            ],
            unit="percentunit",
            description="Cache reads / input tokens, for models that report cache reads (alert: "
            "TokentrailCacheHitRatioLow: below 60 % warning, 40 % critical).",
        )
        .min(0)
        .max(1)
        .thresholds_style(
            common_builders.GraphThresholdsStyleConfig().mode(
                common.GraphThresholdsStyleMode.DASHED
            )
        )
        .thresholds(thresholds((None, "red"), (0.4, "orange"), (0.6, "green"))),
        timeseries(
            "Tokens per request, p95",
            [
                query(
                    "histogram_quantile(0.95, "
                    f"{rate('gen_ai_client_token_usage_bucket', by='le, gen_ai_token_type')})",
                    "{{gen_ai_token_type}}",
                )
            ],
            unit="short",
            description="From the semantic-convention histogram gen_ai.client.token.usage.",
        ),
        timeseries(
            "Truncated answers by feature",
            [
                query(
                    # "or ... * 0": a feature without truncated answers shows 0, not nothing
                    f"({rate(REQUESTS, TRUNCATED, by='tokentrail_feature')} or "
                    f"{rate(REQUESTS, by='tokentrail_feature')} * 0) / "
                    f"{rate(REQUESTS, by='tokentrail_feature')}",
                    "{{tokentrail_feature}}",
                )
            ],
            unit="percentunit",
            description="Share of answers that stopped at their output-token limit "
            "(tokentrail.finish_reason = length). Above 5 %: raise max_tokens, or ask for less "
            "(tokentrail report's efficiency section says the same).",
        )
        .min(0)
        .thresholds_style(
            common_builders.GraphThresholdsStyleConfig().mode(
                common.GraphThresholdsStyleMode.DASHED
            )
        )
        .thresholds(thresholds((None, "green"), (0.05, "orange"))),
        row("Latency and errors"),
        timeseries(
            "Latency",
            quantiles("gen_ai_client_operation_duration_seconds_bucket"),
            unit="s",
        ).links(
            trace_links(
                "Slow calls (> 5 s)",
                jaeger_search(min_duration="5s"),
                tempo_search(" && duration > 5s"),
            )
        ),
        timeseries(
            "Time to first chunk (streams)",
            quantiles("gen_ai_client_operation_time_to_first_chunk_seconds_bucket"),
            unit="s",
        ).links(
            trace_links(
                "Streamed calls",
                jaeger_search(tags="gen_ai.request.stream=true"),
                tempo_search(" && span.gen_ai.request.stream = true"),
            )
        ),
        timeseries(
            "Error ratio by provider",
            [
                query(
                    f"{rate(REQUESTS, FAILED, by='gen_ai_provider_name')} / "
                    f"{rate(REQUESTS, by='gen_ai_provider_name')}",
                    "{{gen_ai_provider_name}}",
                )
            ],
            unit="percentunit",
            description="Failed / all requests (alert: TokentrailErrorRatioHigh: above 5 % "
            "warning, 20 % critical).",
        ).links(
            trace_links(
                "Failed calls", jaeger_search(tags="error=true"), tempo_search(" && status = error")
            )
        ),
        timeseries(
            "Errors by type",
            [query(rate(REQUESTS, FAILED, by="error_type"), "{{error_type}}")],
            unit="reqps",
        ),
        timeseries(
            "Unpriced requests by model",
            [
                query(
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
    return build_dashboard(
        "tokentrail-overview",
        "tokentrail / LLM cost overview",
        "Spend, requests, tokens, caching, latency and errors of the LLM calls tokentrail "
        "instruments.",
        [datasource_var("datasource", "prometheus", "Prometheus"), *filter_vars(), *trace_vars()],
        items,
        trace_links("Traces", jaeger_search(), tempo_search()),
    )


# ---- budgets --------------------------------------------------------------------------------

SPENT = "tokentrail_budget_spent_usd"
LIMIT = "tokentrail_budget_limit_usd"
REMAINING = "tokentrail_budget_window_remaining_seconds"


def per_budget(expr: str) -> str:
    return f"max by (tokentrail_budget_name) ({expr})"


def budget(metric: str, window: str = "") -> str:
    return sel(metric, base=BUDGET) + (f"[{window}]" if window else "")


def alert_list(title: str, description: str) -> dashboard.Panel:
    """Firing Prometheus alerts. The SDK has no builder for the alertlist panel's options, so
    they are the one part of these dashboards given as plain data."""
    return (
        dashboard.Panel()
        .type("alertlist")
        .title(title)
        .description(description)
        .span(12)
        .height(8)
        .options(
            {
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
            }
        )
    )


def budgets() -> dict[str, Any]:
    # The same projection as tokentrail:budget_spent_usd:predicted_window_end (see the rules):
    # predict_linear with each budget's own remaining window as the horizon.
    projected = per_budget(
        f"predict_linear({budget(SPENT, '1h')}, 0) + deriv({budget(SPENT, '1h')}) * "
        f"{budget(REMAINING)}"
    )
    budget_used = (
        bargauge.Panel()
        .title("Budget used")
        .description("Spent / limit in each budget's current window.")
        .datasource(PROM)
        .unit("percentunit")
        .span(12)
        .height(8)
        .min(0)
        .max(1)
        .display_mode(common.BarGaugeDisplayMode.GRADIENT)
        .orientation(common.VizOrientation.HORIZONTAL)
        .reduce_options(last_value())
        .thresholds(thresholds((None, "green"), (0.8, "orange"), (1, "red")))
    )
    time_left = (
        table.Panel()
        .title("Time left")
        .description(
            "Until the window resets, and until the limit is reached at the last hour's burn "
            "rate (empty while the budget is not burning)."
        )
        .datasource(PROM)
        .unit("s")
        .span(12)
        .height(8)
        .with_transformation(model.DataTransformerConfig(id_val="merge", options={}))
        .with_transformation(
            model.DataTransformerConfig(
                id_val="organize",
                options={
                    "excludeByName": {"Time": True},
                    "renameByName": {
                        "tokentrail_budget_name": "Budget",
                        "Value #A": "Window resets in",
                        "Value #B": "Limit reached in",
                    },
                },
            )
        )
    )
    items: list[dashboard.Row | cog.Builder[model.Panel]] = [
        row("Budgets"),
        with_queries(
            budget_used,
            [
                query(
                    f"{per_budget(budget(SPENT))} / {per_budget(budget(LIMIT))}",
                    "{{tokentrail_budget_name}}",
                    instant=True,
                )
            ],
        ),
        with_queries(
            time_left,
            [
                query(per_budget(budget(REMAINING)), instant=True),
                query(
                    per_budget(
                        f"({budget(LIMIT)} - {budget(SPENT)}) / deriv({budget(SPENT, '1h')}) > 0"
                    ),
                    instant=True,
                ),
            ],
        ),
        timeseries(
            "Spent vs limit",
            [
                query(per_budget(budget(SPENT)), "{{tokentrail_budget_name}} spent"),
                query(per_budget(budget(LIMIT)), "{{tokentrail_budget_name}} limit"),
            ],
            unit="currencyUSD",
        ),
        timeseries(
            "Burn projection: spend at the end of the window",
            [
                query(projected, "{{tokentrail_budget_name}} projected"),
                query(per_budget(budget(LIMIT)), "{{tokentrail_budget_name}} limit"),
            ],
            unit="currencyUSD",
            description="The last hour's trend extended to the end of each budget's window "
            "(alert: TokentrailBudgetBurn). Unreliable in a window's first hour.",
        ),
        row("Alerts"),
        timeseries(
            "Alerts fired by tokentrail",
            [
                query(
                    "sum by (tokentrail_alert_kind, tokentrail_alert_severity) "
                    "(increase(tokentrail_alerts_total[$__rate_interval]))",
                    "{{tokentrail_alert_kind}} ({{tokentrail_alert_severity}})",
                )
            ],
            unit="short",
            description="In-process alerts sent to tokentrail's sinks: request_cost, "
            "budget_warning, budget_exceeded.",
        )
        .draw_style(common.GraphDrawStyle.BARS)
        .fill_opacity(60),
        alert_list(
            "Firing Prometheus alerts", "Alerts of dashboards/prometheus/tokentrail-rules.yml."
        ),
        timeseries(
            "Errors swallowed inside tokentrail",
            [
                query(
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
    return build_dashboard(
        "tokentrail-budgets",
        "tokentrail / Budgets and alerts",
        "tokentrail budgets: spent vs limit, burn projection, time left; alerts fired.",
        [
            datasource_var("datasource", "prometheus", "Prometheus"),
            filter_var("budget", "Budget", f"label_values({LIMIT}, tokentrail_budget_name)"),
        ],
        items,
    )


DASHBOARDS = {"tokentrail-overview.json": overview, "tokentrail-budgets.json": budgets}


def render(build: Callable[[], dict[str, Any]]) -> str:
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
