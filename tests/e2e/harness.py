"""Real servers for end-to-end tests: the built Collector, Jaeger v2, Prometheus, Alertmanager
and a webhook receiver. Everything listens on free 127.0.0.1 ports, readiness is polled (never
a fixed sleep), and every process runs in its own process group so that stopping it also stops
anything it spawned. The pytest fixtures that wire these together are in ``conftest.py``.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

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

REPO = Path(__file__).resolve().parents[2]
COLLECTOR_DIR = REPO / "collector"
OTELCOL_CONFIG = COLLECTOR_DIR / "otelcol.yaml"

T = TypeVar("T")


# --- locating binaries ----------------------------------------------------------------------


def otelcol_binary() -> str:
    path = os.environ.get("TOKENTRAIL_OTELCOL") or COLLECTOR_DIR / "_build" / "otelcol-tokentrail"
    return require_binary(path, "build it with collector/build.sh (or set TOKENTRAIL_OTELCOL)")


def jaeger_binary() -> str:
    path = os.environ.get("TOKENTRAIL_JAEGER") or COLLECTOR_DIR / "_build" / "jaeger"
    return require_binary(
        path, "build it with collector/install-jaeger.sh (or set TOKENTRAIL_JAEGER)"
    )


def write_yaml(path: Path, data: object) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# --- the servers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CollectorEndpoints:
    """Where one collector listens. Addresses are ``host:port``; ``otlp_http_url`` is the base
    URL for OTLP/HTTP exporters (``OTEL_EXPORTER_OTLP_ENDPOINT``)."""

    otlp_grpc: str
    otlp_http: str
    prometheus_exporter: str
    health_check: str
    telemetry_port: int

    @classmethod
    def allocate(cls) -> CollectorEndpoints:
        *addresses, telemetry_port = free_ports(5)
        return cls(*(f"127.0.0.1:{port}" for port in addresses), telemetry_port)

    @property
    def otlp_http_url(self) -> str:
        return f"http://{self.otlp_http}"

    def env(self) -> dict[str, str]:
        """The variables that make collector/otelcol.yaml listen here, and only on loopback."""
        return {
            "OTLP_GRPC_ENDPOINT": self.otlp_grpc,
            "OTLP_HTTP_ENDPOINT": self.otlp_http,
            "PROMETHEUS_EXPORTER_ENDPOINT": self.prometheus_exporter,
            "HEALTH_CHECK_ENDPOINT": self.health_check,
            "OTELCOL_TELEMETRY_HOST": "127.0.0.1",
            "OTELCOL_TELEMETRY_PORT": str(self.telemetry_port),
        }


@dataclass(frozen=True)
class Collector:
    endpoints: CollectorEndpoints
    process: Process = field(repr=False)


def start_collector(
    binary: str,
    endpoints: CollectorEndpoints,
    log_path: Path,
    *,
    overlays: tuple[Path, ...] = (),
    env: Mapping[str, str] | None = None,
) -> Process:
    """Run collector/otelcol.yaml (plus ``overlays``, merged in order) on ``endpoints``.

    The variables the configs read come from ``endpoints`` and ``env`` only, never from this
    process's environment, so the configs' own defaults are what gets tested.
    """
    configs = [OTELCOL_CONFIG, *overlays]
    argv = [binary]
    read = set()
    for config in configs:
        argv += ["--config", str(config)]
        read.update(re.findall(r"\$\{env:(\w+)", config.read_text()))
    inherited = {k: v for k, v in os.environ.items() if k not in read}
    return Process("collector", argv, log_path, env={**inherited, **endpoints.env(), **(env or {})})


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


def jaeger_config(jaeger: Jaeger, query_grpc_port: int) -> dict[str, Any]:
    return {
        "service": {
            "extensions": ["jaeger_storage", "jaeger_query"],
            "pipelines": {
                "traces": {"receivers": ["otlp"], "exporters": ["jaeger_storage_exporter"]}
            },
            "telemetry": {"metrics": {"level": "none"}, "logs": {"level": "warn"}},
        },
        "extensions": {
            "jaeger_storage": {"backends": {"memory": {"memory": {"max_traces": 10000}}}},
            "jaeger_query": {
                "storage": {"traces": "memory"},
                "enable_tracing": False,  # else it sends its own spans to localhost:4317
                "http": {"endpoint": jaeger.query_http},
                "grpc": {"endpoint": f"127.0.0.1:{query_grpc_port}"},
            },
        },
        "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": jaeger.otlp_grpc}}}},
        "exporters": {"jaeger_storage_exporter": {"trace_storage": "memory"}},
    }


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


def prometheus_config(scrape_target: str, alertmanager: str, rules_dir: Path) -> dict[str, Any]:
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules_dir / "*.yml")],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
        "scrape_configs": [
            {
                # honor_labels keeps job/instance as the collector's exporter sets them from the
                # telemetry's service.name/service.instance.id, instead of exported_job.
                "job_name": "otelcol",
                "honor_labels": True,
                "static_configs": [{"targets": [scrape_target]}],
            }
        ],
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
