"""Run ``tokentrail stack`` as a user does, in a subprocess, with its directory and its ports
given; find what it left running."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tokentrail.stack import Ports, free_ports

REPO = Path(__file__).resolve().parents[1]


def stack_command(action: str, directory: Path, *args: str) -> list[str]:
    return [
        sys.executable, "-m", "tokentrail.cli", "stack", action,
        "--dir", str(directory), "--repo", str(REPO), *args,
    ]  # fmt: skip


def free_port_args() -> tuple[Ports, list[str]]:
    """Free loopback ports for every service, and the ``--port`` options that choose them."""
    ports = Ports()
    args = []
    for name, port in zip(Ports.names(), free_ports(len(Ports.names())), strict=True):
        ports = ports.replace(name, port)
        args += ["--port", f"{name}={port}"]
    return ports, args


def run_stack(
    action: str, directory: Path, *args: str, env: dict[str, str] | None = None, timeout=90
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        stack_command(action, directory, *args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def processes_using(directory: Path) -> list[str]:
    """Command lines of the running processes that work in ``directory`` (the stack's servers
    run there) or name it, except ``tokentrail stack`` itself."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            cwd = (proc / "cwd").resolve()
        except OSError:
            continue
        uses = cwd == directory.resolve() or str(directory) in cmdline
        if uses and state != "Z" and "tokentrail.cli" not in cmdline:
            found.append(cmdline)
    return found
