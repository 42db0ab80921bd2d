"""Run ``tokentrail demo`` as a user would, in a subprocess, and read what it serves."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from tests.processes import Process, free_port, http_text, running

__all__ = ["demo_command", "demo_forever", "run_demo_exporting", "scrape", "serving_demo"]

#: read what the demo serves
scrape = http_text

#: the demo in a subprocess exports nowhere but where a test says
_ENV = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": ""}


def demo_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "tokentrail.cli", "demo", *args]


def run_demo_exporting(otlp_url: str, service: str, summary: Path) -> subprocess.CompletedProcess:
    """Two rounds of the demo, to the end, exporting over OTLP/HTTP to ``otlp_url`` as service
    ``service`` (metrics every second, nothing from this process's OTEL_/TOKENTRAIL_
    variables), its summary written as JSON to ``summary``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TOKENTRAIL_"))}
    environ.update(
        OTEL_SERVICE_NAME=service,
        OTEL_EXPORTER_OTLP_ENDPOINT=otlp_url,
        OTEL_METRIC_EXPORT_INTERVAL="1000",
    )
    return subprocess.run(
        demo_command("--rounds", "2", "--quiet", "--latency", "0.005", "--json", str(summary)),
        env=environ,
        capture_output=True,
        text=True,
        timeout=180,
    )


@contextlib.contextmanager
def serving_demo(tmp_path: Path, *args: str) -> Iterator[tuple[str, Path]]:
    """Start the demo with ``--metrics-port`` and ``--linger``; yield (metrics URL, summary
    path) once the workload is done and /metrics shows it; stop the process afterwards."""
    port = free_port()
    summary = tmp_path / "summary.json"
    log = tmp_path / "demo.log"
    process = Process(
        "tokentrail demo",
        demo_command("--metrics-port", str(port), "--linger", "120", "--quiet",
                     "--json", str(summary), *args),
        log,
        env=_ENV,
    )  # fmt: skip
    with running(process, lambda: "serving /metrics" in log.read_text(), timeout=60):
        yield f"http://127.0.0.1:{port}/metrics", summary


@contextlib.contextmanager
def demo_forever(tmp_path: Path, *args: str) -> Iterator[str]:
    """``tokentrail demo --forever`` serving /metrics; yield "127.0.0.1:<port>" once the first
    calls show there; stop the process afterwards."""
    port = free_port()
    target = f"127.0.0.1:{port}"
    process = Process(
        "tokentrail demo --forever",
        demo_command("--forever", "--quiet", "--metrics-port", str(port), *args),
        tmp_path / "demo-forever.log",
        env=_ENV,
    )

    def serving() -> bool:
        return "tokentrail_requests_total" in http_text(f"http://{target}/metrics")

    with running(process, serving, timeout=60):
        yield target
