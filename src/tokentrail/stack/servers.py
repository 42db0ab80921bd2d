"""How each server of the local stack is configured and started: the built Collector running
``collector/otelcol.yaml``, Jaeger v2 (all-in-one, in-memory), Prometheus and Alertmanager.

Every function here is used both by ``tokentrail stack`` and by the end-to-end tests, so the
stack a user starts and the one the tests check are started the same way. Each ``start_*``
returns a :class:`Process` that is starting; its ``*_ready`` function says when it serves.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .processes import Process, free_ports, http_ok

LOOPBACK = "127.0.0.1"


def write_yaml(path: Path, data: object) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# --- the Collector --------------------------------------------------------------------------


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
        """Free loopback ports."""
        *addresses, telemetry_port = free_ports(5)
        return cls(*(f"{LOOPBACK}:{port}" for port in addresses), telemetry_port)

    @property
    def otlp_http_url(self) -> str:
        return f"http://{self.otlp_http}"

    @property
    def health_url(self) -> str:
        return f"http://{self.health_check}/"

    def env(self) -> dict[str, str]:
        """The variables that make collector/otelcol.yaml listen here, and only on loopback."""
        return {
            "OTLP_GRPC_ENDPOINT": self.otlp_grpc,
            "OTLP_HTTP_ENDPOINT": self.otlp_http,
            "PROMETHEUS_EXPORTER_ENDPOINT": self.prometheus_exporter,
            "HEALTH_CHECK_ENDPOINT": self.health_check,
            "OTELCOL_TELEMETRY_HOST": LOOPBACK,
            "OTELCOL_TELEMETRY_PORT": str(self.telemetry_port),
        }


def start_collector(
    binary: str,
    endpoints: CollectorEndpoints,
    configs: Sequence[Path],
    log_path: Path,
    *,
    env: Mapping[str, str] | None = None,
) -> Process:
    """Run the collector on ``configs`` (merged in order) at ``endpoints``.

    The variables the configs read come from ``endpoints`` and ``env`` only, never from this
    process's environment, so the configs' own defaults are what runs unless ``env`` says
    otherwise.
    """
    argv = [binary]
    read: set[str] = set()
    for config in configs:
        argv += ["--config", str(config)]
        read.update(re.findall(r"\$\{env:(\w+)", config.read_text()))
    inherited = {k: v for k, v in os.environ.items() if k not in read}
    return Process("collector", argv, log_path, env={**inherited, **endpoints.env(), **(env or {})})


def collector_ready(endpoints: CollectorEndpoints) -> bool:
    """The health check answers 200 once every pipeline runs."""
    return http_ok(endpoints.health_url)


# --- Jaeger ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class JaegerEndpoints:
    """Jaeger v2's OTLP gRPC receiver and its query service (HTTP API and UI; gRPC)."""

    otlp_grpc: str
    query_http: str
    query_grpc: str

    @classmethod
    def allocate(cls) -> JaegerEndpoints:
        return cls(*(f"{LOOPBACK}:{port}" for port in free_ports(3)))

    @property
    def query_url(self) -> str:
        return f"http://{self.query_http}"


def jaeger_config(endpoints: JaegerEndpoints, ui_assets: Path | None = None) -> dict[str, Any]:
    """Jaeger v2 all-in-one with in-memory storage. ``ui_assets``: a directory of built
    jaeger-ui assets to serve (the build has no UI of its own; see collector/README.md)."""
    query: dict[str, Any] = {
        "storage": {"traces": "memory"},
        "enable_tracing": False,  # else it sends its own spans to localhost:4317
        "http": {"endpoint": endpoints.query_http},
        "grpc": {"endpoint": endpoints.query_grpc},
    }
    if ui_assets is not None:
        query["ui"] = {"assets_path": str(ui_assets)}
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
            "jaeger_query": query,
        },
        "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": endpoints.otlp_grpc}}}},
        "exporters": {"jaeger_storage_exporter": {"trace_storage": "memory"}},
    }


def start_jaeger(
    binary: str, endpoints: JaegerEndpoints, workdir: Path, *, ui_assets: Path | None = None
) -> Process:
    """Writes ``jaeger.yaml`` and ``jaeger.log`` in ``workdir``."""
    config = write_yaml(workdir / "jaeger.yaml", jaeger_config(endpoints, ui_assets))
    return Process("jaeger", [binary, "--config", str(config)], workdir / "jaeger.log")


def jaeger_ready(endpoints: JaegerEndpoints) -> bool:
    return http_ok(f"{endpoints.query_url}/api/services")


# --- Prometheus -----------------------------------------------------------------------------


def prometheus_config(
    *, scrape_target: str, alertmanager: str, rule_files: Sequence[str], interval: str
) -> dict[str, Any]:
    """Scrape the collector's Prometheus exporter, evaluate ``rule_files``, alert to
    ``alertmanager`` (``host:port``)."""
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": list(rule_files),
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


def start_prometheus(
    binary: str, address: str, config: Mapping[str, Any], workdir: Path
) -> Process:
    """Writes ``prometheus.yml``, ``prometheus.log`` and the ``prometheus/`` data in
    ``workdir``."""
    config_path = write_yaml(workdir / "prometheus.yml", config)
    argv = [
        binary,
        f"--config.file={config_path}",
        f"--storage.tsdb.path={workdir / 'prometheus'}",
        f"--web.listen-address={address}",
        "--web.enable-lifecycle",  # POST /-/reload after changing rule files
        "--web.enable-remote-write-receiver",  # for collector/examples/grafana-stack.yaml
        # Firing alerts are re-sent every resend-delay (default 1 m). Alertmanager is discovered
        # ~5 s after start, like scrape targets; a rule that fires before then must not wait.
        "--rules.alert.resend-delay=1s",
        "--log.level=warn",
    ]
    return Process("prometheus", argv, workdir / "prometheus.log")


def prometheus_ready(address: str) -> bool:
    return http_ok(f"http://{address}/-/ready")


# --- Alertmanager ---------------------------------------------------------------------------


def routing_without_integrations(
    routing: Mapping[str, Any], webhook_url: str | None = None
) -> dict[str, Any]:
    """``routing`` (an Alertmanager configuration) with the same route tree and inhibit rules,
    but receivers that notify nobody (or only ``webhook_url``): alerts show in Alertmanager
    under the receiver they would reach, and no Slack or PagerDuty secret is needed."""
    local = {key: value for key, value in routing.items() if key not in ("global", "receivers")}
    webhook = [{"url": webhook_url, "send_resolved": True}] if webhook_url else None
    local["receivers"] = [
        {"name": r["name"], **({"webhook_configs": webhook} if webhook else {})}
        for r in routing["receivers"]
    ]
    return local


def start_alertmanager(
    binary: str,
    address: str,
    config: Mapping[str, Any],
    workdir: Path,
    *,
    ui_path: Path | None = None,
) -> Process:
    """Writes ``alertmanager.yml``, ``alertmanager.log`` and the ``alertmanager/`` data in
    ``workdir``. ``ui_path``: the web UI for a build that serves it from a directory
    (Debian's; see :func:`takes_ui_path`)."""
    config_path = write_yaml(workdir / "alertmanager.yml", config)
    argv = [
        binary,
        f"--config.file={config_path}",
        f"--storage.path={workdir / 'alertmanager'}",
        f"--web.listen-address={address}",
        "--cluster.listen-address=",  # no gossip port, no 3 s wait for the gossip to settle
        "--log.level=warn",
    ]
    if ui_path is not None:
        argv.append(f"--web.ui-path={ui_path}/")
    return Process("alertmanager", argv, workdir / "alertmanager.log")


def takes_ui_path(binary: str) -> bool:
    """Whether this Alertmanager serves its UI from a directory (Debian's build, which ships
    none: collector/install-alertmanager-ui.sh provides it) rather than built in."""
    help_text = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=10)
    return "--web.ui-path" in help_text.stdout + help_text.stderr


def alertmanager_ready(address: str) -> bool:
    return http_ok(f"http://{address}/-/ready")
