"""A real HTTP server on a free loopback port standing in for webhooks, Slack and PagerDuty:
``/ok`` answers 200, ``/accepted`` 202 (PagerDuty), ``/fail`` 500, ``/bad`` 400, ``/busy``
429 with Retry-After, and ``/hang`` holds the request until the test ends."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any
    at: float


@dataclass
class Receiver:
    base_url: str
    requests: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def url(self, path: str) -> str:
        return self.base_url + path

    def on(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    def wait_for(self, path: str, count: int, timeout: float = 5.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.on(path)) < count and time.monotonic() < deadline:
                self.arrived.wait(deadline - time.monotonic())
        return self.on(path)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            rec = state["receiver"]
            with rec.arrived:
                rec.requests.append(
                    Received(self.path, dict(self.headers), json.loads(raw), time.monotonic())
                )
                rec.arrived.notify_all()
            if self.path == "/hang":
                rec.release.wait(30)
            status, headers = {
                "/ok": (200, {}),
                "/accepted": (202, {}),
                "/fail": (500, {}),
                "/bad": (400, {}),
                "/busy": (429, {"Retry-After": "0"}),
                "/hang": (200, {}),
            }.get(self.path, (404, {}))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state["receiver"] = rec = Receiver(f"http://127.0.0.1:{server.server_port}")
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        rec.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
