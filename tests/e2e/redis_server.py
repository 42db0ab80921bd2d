"""A throwaway ``redis-server`` for the budget tests: no persistence, loopback only, on a free
port, stopped by the test (also when it fails)."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from tests.processes import free_port


class RedisServer:
    """A throwaway ``redis-server``: loopback only, no persistence unless given a directory
    (then an append-only file written at every command, kept across restarts)."""

    def __init__(self, port: int | None = None, persist_in: Path | None = None) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.persist_in = persist_in
        self.process: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        if self.persist_in is None:
            persistence = ["--save", "", "--appendonly", "no"]
        else:
            persistence = ["--save", "", "--appendonly", "yes", "--appendfsync", "always",
                           "--dir", str(self.persist_in)]  # fmt: skip
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", *persistence],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not answer PING within 10 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def client(self):
        import redis

        return redis.Redis.from_url(self.url)
