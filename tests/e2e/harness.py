"""Real servers for end-to-end tests: the built Collector, Jaeger v2, Prometheus, Alertmanager
and a webhook receiver. Everything listens on free 127.0.0.1 ports, readiness is polled (never
a fixed sleep), and every process runs in its own process group so that stopping it also stops
anything it spawned. The servers are started by the local stack's own functions
(``tokentrail.stack.servers``, which ``tokentrail stack up`` uses too); this module adds what
the tests read them with. The pytest fixtures that wire these together are in ``conftest.py``.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.processes import (  # noqa: F401 - the fixtures import these from here
    Process,
    free_port,
    free_ports,
    get_json,
    http_ok,
    require_binary,
    running,
    wait_until,
)
from tokentrail.stack import BINARIES, StackError
from tokentrail.stack.servers import (  # noqa: F401 - the fixtures import these from here
    CollectorEndpoints,
    JaegerEndpoints,
    alertmanager_ready,
    collector_ready,
    jaeger_ready,
    prometheus_config,
    prometheus_ready,
    start_alertmanager,
    start_collector,
    start_jaeger,
    start_prometheus,
    write_yaml,
)

REPO = Path(__file__).resolve().parents[2]
COLLECTOR_DIR = REPO / "collector"
OTELCOL_CONFIG = COLLECTOR_DIR / "otelcol.yaml"


# --- locating binaries ----------------------------------------------------------------------


def _binary(name: str) -> str:
    """The stack's binary ``name``; missing, the test fails under CI and skips elsewhere."""
    try:
        return BINARIES[name].find(REPO)
    except StackError as exc:
        if os.environ.get("CI"):
            pytest.fail(str(exc), pytrace=False)
        pytest.skip(str(exc))


def otelcol_binary() -> str:
    return _binary("collector")


def jaeger_binary() -> str:
    return _binary("jaeger")


# --- the servers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Collector:
    endpoints: CollectorEndpoints
    process: Process = field(repr=False)


@dataclass(frozen=True)
class Jaeger:
    """Jaeger v2 all-in-one with in-memory storage: OTLP gRPC in, HTTP query API out."""

    otlp_grpc: str
    query_http: str

    @property
    def query_url(self) -> str:
        return f"http://{self.query_http}"

    def traces(self, service: str) -> list[dict[str, Any]]:
        return get_json(f"{self.query_url}/api/traces", service=service)["data"] or []

    def wait_for_span(self, service: str, name: str, timeout: float = 15) -> dict[str, Any]:
        """The first span called ``name`` of ``service``, as the Jaeger API returns it."""

        def find() -> dict[str, Any] | None:
            spans = (s for t in self.traces(service) for s in t["spans"])
            return next((s for s in spans if s["operationName"] == name), None)

        return wait_until(find, timeout=timeout, what=f"span {name!r} of {service!r} in Jaeger")


def span_tags(span: Mapping[str, Any]) -> dict[str, Any]:
    """A Jaeger API span's tags (attributes) as a dict."""
    return {tag["key"]: tag["value"] for tag in span["tags"]}


def span_events(span: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """A Jaeger API span's events (``logs``) by name, each as a dict of its attributes."""
    events = ({f["key"]: f["value"] for f in log["fields"]} for log in span["logs"])
    return {event.pop("event"): event for event in events}


@dataclass(frozen=True)
class Prometheus:
    """Prometheus 2.42 (Debian) scraping the default collector every second, evaluating rules
    every second, sending alerts to Alertmanager, and accepting remote write."""

    address: str
    rules_dir: Path

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def query(self, expr: str) -> list[dict[str, Any]]:
        body = get_json(f"{self.url}/api/v1/query", query=expr)
        assert body["status"] == "success", body
        return body["data"]["result"]

    def value(self, expr: str) -> float | None:
        """The value of a query that returns one series, None while it returns none."""
        result = self.query(expr)
        assert len(result) <= 1, f"{expr} returned {len(result)} series: {result}"
        return float(result[0]["value"][1]) if result else None

    def wait_for_value(self, expr: str, expected: float, timeout: float = 30) -> None:
        """Poll until ``expr`` returns one series whose value is ``expected``."""
        try:
            wait_until(
                lambda: self.value(expr) == pytest.approx(expected),
                timeout=timeout,
                what=f"{expr} == {expected}",
            )
        except TimeoutError as e:
            raise AssertionError(
                f"{expr}: want {expected}, Prometheus has {self.value(expr)}"
            ) from e


@dataclass(frozen=True)
class Alertmanager:
    address: str

    @property
    def url(self) -> str:
        return f"http://{self.address}"


# The e2e topology's test alert, loaded at start-up (a reload would delay alerts by ~5 s while
# Prometheus rediscovers Alertmanager). No `for:`: it fires at the first evaluation that sees a
# cost. Labels: job (the sender's service.name), severity="test".
E2E_RULES = {
    "groups": [
        {
            "name": "tokentrail-e2e",
            "rules": [
                {
                    "alert": "TokentrailE2ECostSeen",
                    "expr": "sum by (job) (tokentrail_cost_usd_total) > 0",
                    "labels": {"severity": "test"},
                    "annotations": {"summary": "{{ $labels.job }} spent {{ $value }} USD"},
                }
            ],
        }
    ]
}


def alertmanager_config(webhook_url: str) -> dict[str, Any]:
    return {
        "route": {
            "receiver": "webhook",
            "group_by": ["alertname", "job"],
            "group_wait": "0s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {"name": "webhook", "webhook_configs": [{"url": webhook_url, "send_resolved": True}]}
        ],
    }


class WebhookReceiver:
    """Alertmanager's webhook target: an HTTP server in a thread recording every notification."""

    def __init__(self) -> None:
        self.notifications: list[dict[str, Any]] = []
        received = self.notifications

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/alert"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def wait_for_alert(
        self, alertname: str, *, timeout: float = 30, status: str = "firing", **labels: str
    ) -> dict[str, Any]:
        """The first alert with this name, status and labels that Alertmanager delivered."""
        wanted = {"alertname": alertname, **labels}

        def find() -> dict[str, Any] | None:
            alerts = (a for n in list(self.notifications) for a in n["alerts"])
            return next(
                (
                    a
                    for a in alerts
                    if a["status"] == status
                    and all(a["labels"].get(k) == v for k, v in wanted.items())
                ),
                None,
            )

        return wait_until(find, timeout=timeout, what=f"a {status} {wanted} alert on the webhook")

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
