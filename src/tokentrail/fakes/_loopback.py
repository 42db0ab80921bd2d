"""A real HTTP server on a loopback port, for clients that take no injectable transport
(botocore's urllib3, LiteLLM's own handlers): they get a base URL instead.

The fake behind it answers ``Reply`` objects; a reply's ``parts`` go out as chunks of a
chunked body, and ``drop=True`` closes the connection after them without ending the body,
as a connection lost mid-stream does.
"""

from __future__ import annotations

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
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
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
