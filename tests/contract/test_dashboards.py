"""dashboards/grafana: up to date with build.py, structurally valid, every query parses and is
filtered by the dashboard's variables, and reads only exported series."""

from __future__ import annotations

import json
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

DASHBOARDS = {path.name: promql.load_dashboard(path) for path in promql.DASHBOARDS}
by_name = pytest.mark.parametrize("dash", DASHBOARDS.values(), ids=DASHBOARDS.keys())


def test_both_dashboards_exist():
    assert set(DASHBOARDS) == {"tokentrail-overview.json", "tokentrail-budgets.json"}


def test_committed_json_is_what_build_py_generates():
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
    for v in promql.query_variables(dash):
        assert v["multi"], v["name"]
        assert v["includeAll"], v["name"]
        assert v["allValue"] == ".*", v["name"]
        selector, label = promql.parse_label_values(promql.variable_query(v))
        assert selector, v["name"]
        assert label == FILTERS[v["name"]]
        (sel,) = promql.selectors(selector)
        assert label in promql.series_labels(sel.metric), (v["name"], sel.metric)


def test_overview_filters_and_trace_variable():
    names = {v["name"] for v in DASHBOARDS["tokentrail-overview.json"]["templating"]["list"]}
    assert {"datasource", "traces_datasource", "provider", "model", "feature", "team"} <= names


@by_name
def test_every_query_is_filtered_by_the_variables_that_apply(dash):
    """A selector of a series that carries a filter's label must use that filter."""
    filters = {FILTERS[v["name"]]: v["name"] for v in promql.query_variables(dash)}
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


def test_trace_links_open_explore_with_a_valid_pane():
    dash = DASHBOARDS["tokentrail-overview.json"]
    links = list(dash["links"])
    for p in promql.iter_panels(dash):
        links += p.get("links", [])
    urls = [link["url"] for link in links if "url" in link]
    assert urls
    for url in urls:
        path, _, query = url.partition("?")
        assert path == "/explore"
        params = urllib.parse.parse_qs(query)
        # What Grafana sends after interpolating the variables.
        panes = json.loads(promql.to_promql(params["panes"][0], value="x"))
        (pane,) = panes.values()
        assert pane["datasource"] == "x"
        (q,) = pane["queries"]
        assert q["datasource"]["uid"] == "x"
        assert q["queryType"] == "traceql"
        assert q["query"].startswith("{")
        assert q["query"].endswith("}")


def test_provisioning():
    prov = GRAFANA / "provisioning"
    ds = yaml.safe_load((prov / "datasources" / "tokentrail.yaml").read_text())
    types = {d["type"] for d in ds["datasources"]}
    assert {"prometheus", "tempo"} <= types
    (provider,) = yaml.safe_load((prov / "dashboards" / "tokentrail.yaml").read_text())["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"]
