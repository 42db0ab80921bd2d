"""A real HTTP server on a loopback port, for clients that take no injectable transport
(botocore's urllib3, LiteLLM's own handlers): they get a base URL instead.

The fake behind it answers ``Reply`` objects; a reply's ``parts`` go out as chunks of a
chunked body, and ``drop=True`` closes the connection after them without ending the body,
as a connection lost mid-stream does. ``serve(fake)`` puts a fake written for a mock
transport (a ``handler(request) -> response`` of ``httpx``/``httpx2``) behind one.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    #: 0: close the connection without answering (a refused or reset connection)
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    parts: list[bytes] = field(default_factory=list)
    #: close the connection after ``parts`` without finishing the body
    drop: bool = False


class LoopbackServer:
    """Serves ``app`` on ``127.0.0.1`` (a free port) from a daemon thread until ``close()``."""

    def __init__(self, app: Callable[[Received], Reply]) -> None:
        self.app = app
        self._server = _Server(("127.0.0.1", 0), _handler_class(self))
        self._server.daemon_threads = True
        # a short poll: close() (shutdown) waits for it, once per fake
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that goes away (a stream closed early, a timeout) is no error here."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


#: headers that belong to one HTTP hop: the loopback server frames its body itself
_HOP_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "content-encoding"})


def serve(fake: Any) -> LoopbackServer:
    """A loopback server answering as ``fake`` does through a mock transport: its
    ``handler`` gets the request as the SDK's HTTP library (``fake.http()``) would carry it.
    An exception the fake was told to raise (``raise_next``) closes the connection without
    an answer; a body that breaks off (``break_next_stream``) drops it mid-body."""
    http = fake.http()

    def app(received: Received) -> Reply:
        request = http.Request(
            received.method,
            "http://127.0.0.1" + received.path,
            headers=received.headers,
            content=received.body,
        )
        try:
            response = fake.handler(request)
        except Exception:
            return Reply(0)
        headers = {k: v for k, v in response.headers.items() if k.lower() not in _HOP_HEADERS}
        parts: list[bytes] = []
        try:
            parts.extend(response.stream)
        except Exception:  # the HTTP library's read error of a body cut short
            return Reply(response.status_code, headers, parts, drop=True)
        return Reply(response.status_code, headers, parts)

    return LoopbackServer(app)


def _handler_class(server: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            received = Received(
                self.command,
                self.path,
                {k.lower(): v for k, v in self.headers.items()},
                self.rfile.read(length),
            )
            reply = server.app(received)
            if reply.status == 0:
                self.close_connection = True
                return
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Transfer-Encoding", "chunked")
            if reply.drop:
                self.send_header("Connection", "close")
            self.end_headers()
            for part in reply.parts:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.flush()
            if reply.drop:
                self.close_connection = True
                return
            self.wfile.write(b"0\r\n\r\n")

        do_GET = do_POST

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: tests and the demo read their own output

    return Handler
