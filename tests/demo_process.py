"""Run ``tokentrail demo`` as a user would, in a subprocess, and read what it serves."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def demo_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "tokentrail.cli", "demo", *args]


@contextlib.contextmanager
def serving_demo(tmp_path: Path, *args: str) -> Iterator[tuple[str, Path]]:
    """Start the demo with ``--metrics-port`` and ``--linger``; yield (metrics URL, summary
    path) once the workload is done and /metrics shows it; stop the process afterwards."""
    port = free_port()
    summary = tmp_path / "summary.json"
    log = (tmp_path / "demo.log").open("w")
    process = subprocess.Popen(
        demo_command("--metrics-port", str(port), "--linger", "120", "--quiet",
                     "--json", str(summary), *args),
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": ""},
        start_new_session=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        wait_until(lambda: _lingering(tmp_path / "demo.log"), timeout=60, process=process)
        yield url, summary
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
        log.close()


def _lingering(log: Path) -> bool:
    return "serving /metrics" in log.read_text()


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


def wait_until(condition, *, timeout: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if process is not None and process.poll() is not None:
            raise AssertionError(f"process exited with {process.returncode}")
        time.sleep(0.05)
    raise AssertionError("timed out waiting for a condition")


@contextlib.contextmanager
def demo_forever(tmp_path: Path, *args: str) -> Iterator[str]:
    """``tokentrail demo --forever`` serving /metrics; yield "127.0.0.1:<port>" once the first
    calls show there; stop the process afterwards."""
    port = free_port()
    log = (tmp_path / "demo-forever.log").open("w")
    process = subprocess.Popen(
        demo_command("--forever", "--quiet", "--metrics-port", str(port), *args),
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": ""},
        start_new_session=True,
    )
    target = f"127.0.0.1:{port}"

    def serving() -> bool:
        try:
            return "tokentrail_requests_total" in scrape(f"http://{target}/metrics")
        except OSError:
            return False

    try:
        wait_until(serving, timeout=60, process=process)
        yield target
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
        log.close()
