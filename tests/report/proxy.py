"""An HTTP(S) proxy in front of a real Prometheus that a test can make demanding (require
credentials) or faulty (fail the queries that contain some text), to see what the report does
with servers that behave like that."""

from __future__ import annotations

import json
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

#: request headers -> None to pass, or the (status, message) to refuse with
Gate = Callable[[dict[str, str]], "tuple[int, str] | None"]


class PrometheusProxy:
    def __init__(
        self,
        upstream: str,
        *,
        gate: Gate | None = None,
        fail_queries_containing: str | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.seen_headers: list[dict[str, str]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: bytes, kind: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _forward(self, body: bytes | None) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                proxy.seen_headers.append(headers)
                if gate is not None and (refusal := gate(headers)) is not None:
                    status, message = refusal
                    self._answer(status, message.encode(), "text/plain")
                    return
                query = urllib.parse.parse_qs((body or b"").decode()).get("query", [""])[0]
                if fail_queries_containing and fail_queries_containing in query:
                    error = {"status": "error", "errorType": "execution",
                             "error": "query processing would load too many samples"}  # fmt: skip
                    self._answer(422, json.dumps(error).encode())
                    return
                request = urllib.request.Request(upstream + self.path, data=body)
                if body is not None:
                    request.add_header("Content-Type", "application/x-www-form-urlencoded")
                try:
                    with urllib.request.urlopen(request, timeout=30) as response:
                        self._answer(response.status, response.read())
                except urllib.error.HTTPError as exc:
                    self._answer(exc.code, exc.read())

            def do_GET(self) -> None:
                self._forward(None)

            def do_POST(self) -> None:
                self._forward(self.rfile.read(int(self.headers.get("Content-Length", 0))))

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> PrometheusProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
