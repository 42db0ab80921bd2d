"""Start and stop the servers the live tests need: loopback only, free ports, own process
groups, always stopped."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

DEADLINE_S = 40  # Prometheus applies new scrape targets on a 5s tick; the rest is a few scrapes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running(*cmd: str) -> Iterator[subprocess.Popen]:
    """Run a server in its own process group; stop the whole group on exit, whatever
    happened."""
    if shutil.which(cmd[0]) is None:
        pytest.fail(f"{cmd[0]} is missing: apt-get install prometheus prometheus-alertmanager")
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        proc.stderr.close()


def poll(what: str, check: Callable[[], Any], proc: subprocess.Popen) -> Any:
    """Call check() until it returns something truthy; fail at the deadline or as soon as
    the server has died."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        if proc.poll() is not None:
            pytest.fail(f"{proc.args[0]} exited {proc.returncode} waiting for {what}:\n"
                        f"{proc.stderr.read()}")  # fmt: skip
        try:
            if result := check():
                return result
        except OSError:
            pass  # not listening yet
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {DEADLINE_S}s waiting for {what}")
        time.sleep(0.2)


def get_json(url: str, data: bytes | None = None, **params: str | list[str]) -> Any:
    """GET (or POST JSON data to) a JSON API: the decoded answer, None for an empty one.
    HTTP errors are answers too: Prometheus explains them in JSON."""
    if params:
        url += "?" + urllib.parse.urlencode(params, doseq=True)
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            body = r.read()
    except urllib.error.HTTPError as e:
        body = e.read()
    return json.loads(body) if body else None
