"""The rules and dashboards against a live Prometheus scraping a tokentrail /metrics endpoint.

A Prometheus 2.42 started here (127.0.0.1, free port, temp storage, 1s scrapes, the tokentrail
rules loaded) scrapes the endpoint of the `metrics_target` fixture. Then:
- every series name the rules and dashboards read is in the scraped exposition;
- every panel query (Grafana variables as ".*") succeeds and returns data;
- every template variable query resolves to at least one value;
- every rule evaluates without error.

`metrics_target` is the real thing: `tokentrail demo --forever` (three providers, budgets and
alerts, one failing and one unpriced call per round) serving /metrics through
opentelemetry-exporter-prometheus. The names are taken from what it exposes, never from a list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.contract import promql
from tests.demo_process import demo_forever
from tests.processes import (
    Process,
    free_port,
    get_json,
    require_binary,
    running,
    wait_until,
)
from tokentrail.stack.servers import prometheus_ready, start_prometheus

pytestmark = pytest.mark.e2e

JOB = "tokentrail"


@pytest.fixture(scope="module")
def metrics_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """ "host:port" of the instrumented demo's /metrics."""
    with demo_forever(tmp_path_factory.mktemp("demo"), "--latency", "0.01") as target:
        yield target


#: Prometheus applies new scrape targets on a 5 s tick; the rest is a few scrapes
DEADLINE_S = 40


class Prometheus:
    def __init__(self, url: str, process: Process) -> None:
        self.url, self.process = url, process

    def get(self, path: str, **params: str | list[str]) -> Any:
        return get_json(self.url + path, **params)

    def query(self, expr: str) -> dict:
        return self.get("/api/v1/query", query=expr)

    def poll(self, what: str, check: Callable[[], Any]) -> Any:
        return wait_until(check, timeout=DEADLINE_S, what=what, process=self.process)


@pytest.fixture(scope="module")
def prometheus(
    metrics_target: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prometheus]:
    binary = require_binary("prometheus", "apt-get install prometheus", skip_outside_ci=False)
    work = tmp_path_factory.mktemp("prometheus")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(promql.RULES)],
        "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": [metrics_target]}]}],
    }
    port = free_port()
    process = start_prometheus(binary, f"127.0.0.1:{port}", config, work)
    prom = Prometheus(f"http://127.0.0.1:{port}", process)
    with running(process, lambda: prometheus_ready(f"127.0.0.1:{port}"), timeout=DEADLINE_S):
        # Three scrapes, so that every rate() over 1m has two samples or more.
        scraped = f'count_over_time(up{{job="{JOB}"}}[1m]) >= 3 and up{{job="{JOB}"}} == 1'
        prom.poll("three scrapes", lambda: prom.query(scraped)["data"]["result"])
        yield prom


PANEL_QUERIES = promql.panel_queries()
VARIABLE_QUERIES = promql.variable_queries()


def test_every_series_the_rules_and_dashboards_read_is_exported(prometheus):
    exported = set(prometheus.get("/api/v1/label/__name__/values")["data"])
    missing = promql.used_metric_names() - exported
    assert not missing, f"read by rules/dashboards but not exported: {sorted(missing)}"


@pytest.mark.parametrize(("where", "expr"), PANEL_QUERIES, ids=[w for w, _ in PANEL_QUERIES])
def test_panel_query_returns_data(prometheus, where, expr):
    answer = prometheus.query(expr)
    assert answer["status"] == "success", f"{where}: {answer.get('error')}\n{expr}"
    assert answer["data"]["result"], f"{where} returned no data:\n{expr}"


@pytest.mark.parametrize(
    ("where", "selector", "label"), VARIABLE_QUERIES, ids=[w for w, *_ in VARIABLE_QUERIES]
)
def test_variable_query_resolves(prometheus, where, selector, label):
    params = {"match[]": selector} if selector else {}
    answer = prometheus.get(f"/api/v1/label/{label}/values", **params)
    assert answer["status"] == "success", where
    assert answer["data"], f"{where}: label_values({selector}, {label}) is empty"


def test_every_rule_evaluates_without_error(prometheus):
    def evaluated() -> list[dict] | None:
        groups = prometheus.get("/api/v1/rules")["data"]["groups"]
        rules = [r for g in groups for r in g["rules"]]
        done = all(not r["lastEvaluation"].startswith("0001") for r in rules)
        return rules if rules and done else None

    rules = prometheus.poll("a rule evaluation", evaluated)
    assert len(rules) == len(promql.load_rules())
    broken = {r["name"]: r.get("lastError") for r in rules if r["health"] != "ok"}
    assert not broken, broken
