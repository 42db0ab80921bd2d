"""A client for the Prometheus HTTP query API (Prometheus, Thanos, Mimir, VictoriaMetrics...):
instant and range queries, with the authentication those servers sit behind.

Only the standard library: ``urllib`` with an ``ssl`` context for a custom CA (or none, for
``--insecure``), a bearer token or basic auth, and any extra headers (``X-Scope-OrgID`` for a
multi-tenant Mimir, for example).
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import QueryError, SourceError

#: labels -> [(unix seconds, value)]
Samples = list[tuple[float, float]]


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    samples: Samples


@dataclass
class PrometheusClient:
    url: str
    bearer_token: str | None = None
    basic_auth: tuple[str, str] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    ca_file: str | None = None
    insecure: bool = False
    timeout: float = 30.0

    def __post_init__(self) -> None:
        parsed = urllib.parse.urlparse(self.url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise SourceError(f"--prometheus {self.url!r} is not an http(s):// URL")
        self.url = self.url.rstrip("/")
        self._context: ssl.SSLContext | None = None
        if parsed.scheme == "https":
            try:
                self._context = ssl.create_default_context(cafile=self.ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise SourceError(f"--ca-file {self.ca_file}: {exc}") from None
            if self.insecure:
                self._context.check_hostname = False
                self._context.verify_mode = ssl.CERT_NONE

    # -- the API ----------------------------------------------------------------------------

    def check(self) -> str:
        """Reach the server and make sure it answers the query API; returns its version (or
        "unknown"). A :class:`SourceError` otherwise."""
        try:
            data = self._get("/api/v1/query", {"query": "vector(1)"})
        except QueryError as exc:
            raise SourceError(str(exc)) from None
        if not isinstance(data, dict) or data.get("resultType") not in ("vector", "scalar"):
            raise SourceError(f"{self.url} does not answer the Prometheus query API")
        try:
            info = self._get("/api/v1/status/buildinfo", {}, method="GET")
            return str(info.get("version", "unknown"))
        except (QueryError, SourceError):
            return "unknown"  # Thanos, Mimir, VictoriaMetrics may not serve it

    def instant(self, query: str, at: float) -> list[Series]:
        data = self._get("/api/v1/query", {"query": query, "time": _ts(at)})
        return [Series(r["metric"], [_sample(r["value"])]) for r in _vector(data, query)]

    def range(self, query: str, start: float, end: float, step: int) -> list[Series]:
        params = {"query": query, "start": _ts(start), "end": _ts(end), "step": str(step)}
        data = self._get("/api/v1/query_range", params)
        if data.get("resultType") != "matrix":
            raise QueryError(f"{query}: expected a matrix, got {data.get('resultType')}")
        return [Series(r["metric"], [_sample(v) for v in r["values"]]) for r in data["result"]]

    # -- HTTP -------------------------------------------------------------------------------

    def _get(self, path: str, params: Mapping[str, str], method: str = "POST") -> Any:
        """Queries are POSTed (form-encoded), so that long PromQL fits; the API takes both."""
        encoded = urllib.parse.urlencode(params)
        if method == "GET":
            url = self.url + path + (f"?{encoded}" if encoded else "")
            request = urllib.request.Request(url, method="GET")
        else:
            request = urllib.request.Request(self.url + path, data=encoded.encode(), method="POST")
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
        request.add_header("Accept", "application/json")
        for name, value in self._auth_headers().items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(
                request, timeout=self.timeout, context=self._context
            ) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            message = _api_error(raw) or f"HTTP {exc.code} {exc.reason}"
            if exc.code in (401, 403):
                raise SourceError(f"{self.url}: {message} (check the credentials)") from None
            if exc.code == 404 or _api_error(raw) is None:
                raise SourceError(
                    f"{self.url}{path}: {message}: not a Prometheus query API"
                ) from None
            raise QueryError(f"{message} (query: {params.get('query', '')})") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            if isinstance(reason, (socket.timeout, TimeoutError)):
                raise QueryError(
                    f"no answer from {self.url} within {self.timeout:g} s "
                    f"(query: {params.get('query', '')})"
                ) from None
            raise SourceError(f"cannot reach Prometheus at {self.url}: {_reason(reason)}") from None
        try:
            answer = json.loads(raw)
        except ValueError:
            raise SourceError(
                f"{self.url}{path} did not answer JSON: not a Prometheus query API"
            ) from None
        if not isinstance(answer, dict) or answer.get("status") != "success":
            message = _api_error(raw) or "unexpected answer"
            raise QueryError(f"{message} (query: {params.get('query', '')})")
        return answer["data"]

    def _auth_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.bearer_token:
            headers["Authorization"] = f"Bearer {self.bearer_token}"
        elif self.basic_auth:
            user, password = self.basic_auth
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        return headers


def _ts(seconds: float) -> str:
    return f"{seconds:.3f}"


def _sample(pair: list[Any]) -> tuple[float, float]:
    return float(pair[0]), float(pair[1])


def _vector(data: Any, query: str) -> list[dict[str, Any]]:
    if data.get("resultType") == "scalar":
        return [{"metric": {}, "value": data["result"]}]
    if data.get("resultType") != "vector":
        raise QueryError(f"{query}: expected a vector, got {data.get('resultType')}")
    return data["result"]


def _api_error(raw: bytes) -> str | None:
    try:
        answer = json.loads(raw)
    except ValueError:
        return None
    if isinstance(answer, dict) and answer.get("status") == "error":
        return f"{answer.get('errorType', 'error')}: {answer.get('error', '')}".strip()
    return None


def _reason(reason: object) -> str:
    if isinstance(reason, ssl.SSLError):
        return f"TLS: {reason.reason or reason}"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror.lower()
    return str(reason)
