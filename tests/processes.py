"""Processes for the tests that run real programs: free loopback ports, servers in their own
process groups (stopped with everything they spawned, whatever happens), polling instead of
sleeping, and JSON over HTTP."""

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
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")


def require_binary(name_or_path: str | Path, how_to_get: str, *, skip_outside_ci=True) -> str:
    """An executable's path. Without it the test fails under CI (env ``CI`` set); elsewhere
    it is skipped, unless ``skip_outside_ci`` is False."""
    found = shutil.which(str(name_or_path))
    if found:
        return found
    message = f"{name_or_path} not found; {how_to_get}"
    if os.environ.get("CI") or not skip_outside_ci:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def free_ports(n: int) -> list[int]:
    """``n`` distinct free loopback ports (all held open until each is chosen)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(n)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]


def free_port() -> int:
    return free_ports(1)[0]


class Process:
    """A program started in its own process group, its output captured in ``log_path``."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """``env``: the whole environment (default: this process's)."""
        self.name = name
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self._popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(text)

    def check_alive(self) -> None:
        code = self._popen.poll()
        if code is not None:
            raise RuntimeError(f"{self.name} exited with {code}; its log ends:\n{self.log_tail()}")

    def stop(self) -> None:
        if self._popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._popen.pid, signal.SIGTERM)
            try:
                self._popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self._popen.pid, signal.SIGKILL)
                self._popen.wait()


@contextlib.contextmanager
def running(process: Process, ready: Callable[[], object], timeout: float = 30) -> Iterator[None]:
    """Wait until ``ready()`` is truthy, then yield; stop the process however this ends."""
    try:
        wait_until(ready, timeout=timeout, what=f"{process.name} to be ready", process=process)
        yield
    finally:
        process.stop()


def wait_until(
    condition: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    process: Process | None = None,
    interval: float = 0.05,
) -> T:
    """Poll ``condition`` until it returns something truthy and return that.

    Connection errors count as "not yet". ``process``: fail at once, with its log, if it dies.
    """
    deadline = time.monotonic() + timeout
    while True:
        if process is not None:
            process.check_alive()
        with contextlib.suppress(OSError):
            result = condition()
            if result:
                return result
        if time.monotonic() > deadline:
            log = f"\n{process.name} log:\n{process.log_tail()}" if process else ""
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}{log}")
        time.sleep(interval)


def http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.status == 200


def http_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


def get_json(url: str, data: bytes | None = None, **params: str | list[str]) -> Any:
    """GET (or POST JSON ``data`` to) a JSON API: the decoded answer, None for an empty one.
    HTTP errors are answers too: Prometheus explains them in JSON."""
    if params:
        url += "?" + urllib.parse.urlencode(params, doseq=True)
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
    except urllib.error.HTTPError as e:
        body = e.read()
    return json.loads(body) if body else None
