"""Servers as child processes: each in a session of its own, so that stopping it stops whatever
it spawned too; its output in a log file; readiness polled, never waited for with a fixed sleep.
A process that this one did not start (one recorded by a detached ``tokentrail stack up``) is
stopped only while its pid still belongs to the same program start, never a recycled pid."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

#: how long a server gets to exit after SIGTERM before it is killed
STOP_TIMEOUT_S = 5.0


class Process:
    """A program started in its own session (process group), its output captured in
    ``log_path``, in the directory of that log."""

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
                cwd=log_path.parent,
                start_new_session=True,
            )
        self.pid = self._popen.pid
        self.started = start_time(self.pid)

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(text)

    def exit_code(self) -> int | None:
        """None while it runs."""
        return self._popen.poll()

    def check_alive(self) -> None:
        code = self._popen.poll()
        if code is not None:
            raise RuntimeError(f"{self.name} exited with {code}; its log ends:\n{self.log_tail()}")

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        if self._popen.poll() is None:
            _signal_group(self.pid, signal.SIGTERM)
            try:
                self._popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.pid, signal.SIGKILL)
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


def free_ports(n: int) -> list[int]:
    """``n`` distinct free loopback ports (all held open until each is chosen)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(n)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]


def free_port() -> int:
    return free_ports(1)[0]


def port_in_use(host: str, port: int) -> bool:
    """Whether ``host:port`` cannot be bound (another program listens there)."""
    with socket.socket() as s:
        # as servers do: connections of a stopped server, still in TIME_WAIT, do not count
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
        return False


# --- processes another invocation started --------------------------------------------------


def _proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (None: gone, or no /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()  # the name is in parentheses and may hold spaces


def start_time(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot (None: gone, or no /proc). With the pid
    it names one program start: a pid that the kernel reused has another start time."""
    fields = _proc_stat(pid)
    return int(fields[19]) if fields else None


def is_running(pid: int, started: int | None) -> bool:
    """Whether the program start recorded as (``pid``, ``started``) still runs (a zombie
    does not)."""
    fields = _proc_stat(pid)
    if fields is None:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return started is None  # no /proc to tell a reused pid apart: trust it
    same_start = started is None or int(fields[19]) == started
    return same_start and fields[0] != "Z"


def stop_recorded(
    pid: int, started: int | None, timeout: float = STOP_TIMEOUT_S, *, group: bool = True
) -> bool:
    """Stop a recorded program start (with its process group when ``group``, for the servers,
    which lead groups of their own): SIGTERM, then SIGKILL after ``timeout``. Returns whether
    it was still running."""
    if not is_running(pid, started):
        return False
    send = _signal_group if group else _signal
    send(pid, signal.SIGTERM)
    if not _gone_within(pid, started, timeout):
        send(pid, signal.SIGKILL)
        _gone_within(pid, started, timeout)
    return True


def _gone_within(pid: int, started: int | None, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while is_running(pid, started):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)
