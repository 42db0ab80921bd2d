"""dashboards/grafana: up to date with build.py, which type-checks against Grafana's schema
types (grafana-foundation-sdk); structurally valid; every query parses, is filtered by the
dashboard's variables and reads only exported series; the trace links open Jaeger and Tempo."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
import urllib.parse

import pytest
import yaml

from tests.contract import promql
from tests.contract.tools import check_promql

GRAFANA = promql.REPO / "dashboards" / "grafana"
PANEL_TYPES = {"row", "stat", "timeseries", "bargauge", "gauge", "table", "text", "alertlist"}
# Variable name -> the label it filters on.
FILTERS = {
    "provider": "gen_ai_provider_name",
    "model": "gen_ai_request_model",
    "feature": "tokentrail_feature",
    "team": "tokentrail_team",
    "budget": "tokentrail_budget_name",
}
#: the query variable that picks the one service the Jaeger links search (not a filter)
TRACE_SERVICE = "service"


def filter_variables(dash: dict) -> list[dict]:
    return [v for v in promql.query_variables(dash) if v["name"] != TRACE_SERVICE]


DASHBOARDS = {path.name: promql.load_dashboard(path) for path in promql.DASHBOARDS}
by_name = pytest.mark.parametrize("dash", DASHBOARDS.values(), ids=DASHBOARDS.keys())


def test_both_dashboards_exist():
    assert set(DASHBOARDS) == {"tokentrail-overview.json", "tokentrail-budgets.json"}


def require_sdk() -> str:
    """The installed grafana-foundation-sdk's version (missing: fail under CI, else skip)."""
    try:
        return importlib.metadata.version("grafana-foundation-sdk")
    except importlib.metadata.PackageNotFoundError:
        message = 'no grafana-foundation-sdk (Python >= 3.11): pip install -e ".[dev]"'
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def mypy(*paths: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=promql.REPO,
    )


def test_build_py_type_checks_against_grafanas_schema_types():
    """Every builder call in build.py has the types of Grafana's schema (the SDK's)."""
    require_sdk()
    result = mypy(GRAFANA / "build.py")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_type_check_catches_what_the_schema_forbids(tmp_path):
    require_sdk()
    wrong = tmp_path / "wrong.py"
    wrong.write_text(
        "from grafana_foundation_sdk.builders import dashboard, stat\n"
        "stat.Panel().span('4')\n"  # a width is an int
        "dashboard.QueryVariable('x').refresh(2)\n"  # a VariableRefresh, not a number
        "stat.Panel().colour_mode('value')\n"  # no such field
    )
    errors = mypy(wrong).stdout.splitlines()
    assert [e.split(":")[1] for e in errors] == ["2", "3", "4"], errors


def test_the_grafana_version_line_agrees():
    """build.py targets one Grafana line; pyproject pins that line's SDK; Compose runs it."""
    (line,) = re.findall(r'^GRAFANA_LINE = "(.+)"', (GRAFANA / "build.py").read_text(), re.M)
    pyproject = (promql.REPO / "pyproject.toml").read_text()
    (pin,) = re.findall(r'"grafana-foundation-sdk==(\d+!([\d.]+))', pyproject)
    assert pin[1] == f"{line}.0"
    assert require_sdk() == pin[0]
    compose = yaml.safe_load((promql.REPO / "deploy" / "compose" / "compose.yaml").read_text())
    assert compose["services"]["grafana"]["image"].startswith(f"grafana/grafana:{line}.")


def test_committed_json_is_what_build_py_generates():
    require_sdk()
    proc = subprocess.run(
        [sys.executable, GRAFANA / "build.py", "--check"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr


@by_name
def test_structure(dash):
    assert dash["title"]
    assert dash["uid"]
    assert len(dash["uid"]) <= 40
    assert isinstance(dash["schemaVersion"], int)
    panels = list(promql.iter_panels(dash))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for p in panels:
        assert p["type"] in PANEL_TYPES, p["type"]
        pos = p["gridPos"]
        assert all(isinstance(pos[k], int) for k in ("x", "y", "w", "h")), pos
        assert pos["x"] >= 0
        assert pos["x"] + pos["w"] <= 24, p["title"]
        refs = [t["refId"] for t in p.get("targets", [])]
        assert all(refs), f"target without refId in {p['title']}"
        assert len(refs) == len(set(refs)), p["title"]
        for t in p.get("targets", []):
            assert t["datasource"] == {"type": "prometheus", "uid": "${datasource}"}


@by_name
def test_variables(dash):
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    used = promql.variable_refs(json.dumps(dash))
    assert used <= set(variables), f"undefined variables: {used - set(variables)}"
    for v in filter_variables(dash):
        assert v["multi"], v["name"]
        assert v["includeAll"], v["name"]
        assert v["allValue"] == ".*", v["name"]
        selector, label = promql.parse_label_values(promql.variable_query(v))
        assert selector, v["name"]
        assert label == FILTERS[v["name"]]
        (sel,) = promql.selectors(selector)
        assert label in promql.series_labels(sel.metric), (v["name"], sel.metric)


def test_overview_filters_and_trace_variables():
    variables = {v["name"]: v for v in DASHBOARDS["tokentrail-overview.json"]["templating"]["list"]}
    assert {"datasource", "provider", "model", "feature", "team"} <= variables.keys()
    assert variables["jaeger_datasource"]["query"] == "jaeger"
    assert variables["tempo_datasource"]["query"] == "tempo"
    service = variables[TRACE_SERVICE]
    assert not service["multi"]
    assert not service["includeAll"]  # a Jaeger search needs one service
    # behind the Collector, Prometheus's job is the telemetry's service.name
    assert promql.parse_label_values(promql.variable_query(service)) == (
        "tokentrail_requests_total",
        "job",
    )


@by_name
def test_every_query_is_filtered_by_the_variables_that_apply(dash):
    """A selector of a series that carries a filter's label must use that filter."""
    filters = {FILTERS[v["name"]]: v["name"] for v in filter_variables(dash)}
    for title, expr in promql.panel_exprs(dash):
        for sel in promql.selectors(expr):
            for label, var in filters.items():
                if label in promql.series_labels(sel.metric):
                    m = sel.matcher(label)
                    assert m is not None, f"{title}: {sel.metric} is not filtered by ${var}"
                    assert (m.op, m.value) == ("=~", f"${var}"), (title, m)


def test_every_query_and_variable_selector_parses():
    check_promql(promql.dashboard_exprs())


def test_dashboards_read_only_exported_series():
    for path in promql.DASHBOARDS:
        for title, expr in promql.panel_exprs(promql.load_dashboard(path)):
            names = promql.metric_names(expr)
            assert names <= promql.EXPORTED_SERIES, (path.name, title, names)
            assert "otel_scope" not in expr
            assert "telemetry_sdk" not in expr


def explore_pane(url: str) -> dict:
    """The Explore pane a link opens, as Grafana sends it after interpolating the variables."""
    path, _, query = url.partition("?")
    assert path == "/explore"
    params = urllib.parse.parse_qs(query)
    panes = json.loads(promql.to_promql(params["panes"][0], value="x"))
    (pane,) = panes.values()
    return pane


def test_trace_links_open_jaeger_and_tempo_searches():
    dash = DASHBOARDS["tokentrail-overview.json"]
    links = list(dash["links"])
    for p in promql.iter_panels(dash):
        links += p.get("links", [])
    trace_links = [link for link in links if "url" in link]
    by_store: dict[str, set[str]] = {"Jaeger": set(), "Tempo": set()}
    for link in trace_links:
        what, _, store = link["title"].rpartition(" in ")
        by_store[store].add(what)
        raw = json.loads(urllib.parse.unquote(link["url"].partition("panes=")[2]))
        (raw_pane,) = raw.values()
        (raw_query,) = raw_pane["queries"]
        variable = {"Jaeger": "${jaeger_datasource}", "Tempo": "${tempo_datasource}"}[store]
        assert raw_pane["datasource"] == raw_query["datasource"]["uid"] == variable
        pane = explore_pane(link["url"])
        (q,) = pane["queries"]
        if store == "Tempo":
            assert q["datasource"]["type"] == "tempo"
            assert q["queryType"] == "traceql"
            assert q["query"].startswith("{")
            assert q["query"].endswith("}")
        else:
            assert q["datasource"]["type"] == "jaeger"
            assert q["queryType"] == "search"
            assert raw_query["service"] == "${service}"  # a Jaeger search needs a service
    # every place that links to traces links to both stores
    assert by_store["Jaeger"] == by_store["Tempo"]
    assert {"Traces", "Slow calls (> 5 s)", "Streamed calls", "Failed calls"} <= by_store["Jaeger"]


def test_provisioning():
    prov = GRAFANA / "provisioning"
    ds = yaml.safe_load((prov / "datasources" / "tokentrail.yaml").read_text())
    types = {d["type"] for d in ds["datasources"]}
    assert {"prometheus", "jaeger", "tempo"} <= types
    (provider,) = yaml.safe_load((prov / "dashboards" / "tokentrail.yaml").read_text())["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"]
