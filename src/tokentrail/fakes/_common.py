"""What the fake providers share: the SDK's HTTP library, text and token arithmetic."""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

_WORDS = [
    "the",
    "quick",
    "answer",
    "depends",
    "on",
    "context",
    "so",
    "here",
    "is",
    "a",
    "careful",
    "summary",
    "of",
    "the",
    "main",
    "points",
    "with",
    "the",
    "figures",
    "you",
    "asked",
    "for",
    "and",
    "a",
    "short",
    "recommendation",
    "at",
    "the",
    "end",
]


def http_module(sdk_base_client: str) -> Any:
    """``httpx2`` or ``httpx``: whichever the SDK's base client uses (openai >= 3 uses httpx2).
    Without the SDK, ``httpx``: the fake then serves another client on a loopback port
    (``_loopback.serve``; LiteLLM reaches Anthropic without the anthropic SDK)."""
    if not _installed(sdk_base_client.rsplit(".", 1)[0]):
        import httpx

        return httpx
    module = importlib.import_module(sdk_base_client)
    return getattr(module, "httpx2", None) or module.httpx


def _installed(package: str) -> bool:
    try:
        return importlib.util.find_spec(package) is not None
    except ModuleNotFoundError:  # its parent package is missing
        return False


def text_of(n_words: int, seed: str = "") -> str:
    offset = int(hashlib.blake2s(seed.encode(), digest_size=2).hexdigest(), 16) if seed else 0
    return " ".join(_WORDS[(offset + i) % len(_WORDS)] for i in range(max(n_words, 1)))


def count_text(value: Any) -> int:
    """Characters of text in a request (messages, content parts, strings)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return sum(
            count_text(v) for k, v in value.items() if k in ("content", "text", "input", "parts")
        )
    if isinstance(value, list):
        return sum(count_text(v) for v in value)
    return 0


def stable_int(*parts: Any, modulo: int) -> int:
    digest = hashlib.blake2s(repr(parts).encode(), digest_size=4).hexdigest()
    return int(digest, 16) % modulo


@dataclass
class Failure:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    #: raised by the transport instead of answering (connection refused, timeout ...)
    exception: BaseException | None = None


@dataclass
class StreamBreak:
    after: int
    error: dict[str, Any] | None = None


def broken_body(http: Any, parts: list[bytes], error: BaseException) -> Any:
    """A response body (sync and async) that delivers ``parts`` and then loses the
    connection: reading on raises ``error`` (the HTTP library's read error)."""
    return _broken_body_class(http)(parts, error)


@functools.cache
def _broken_body_class(http: Any) -> type:
    class BrokenBody(http.SyncByteStream, http.AsyncByteStream):
        def __init__(self, parts: list[bytes], error: BaseException) -> None:
            self.parts = parts
            self.error = error

        def __iter__(self) -> Any:
            yield from self.parts
            raise self.error

        async def __aiter__(self) -> Any:
            for part in self.parts:
                yield part
            raise self.error

    return BrokenBody


class FakeServer:
    """Bookkeeping every fake provider has: recorded requests, queued failures, latency and
    the prompt prefixes already seen (a repeated long prefix is a prompt-cache hit)."""

    #: the SDK module that imports the SDK's HTTP library (see ``http``)
    sdk_base_client: str = ""

    @classmethod
    def http(cls) -> Any:
        """The HTTP library the installed SDK uses (``httpx2`` or ``httpx``, by SDK version):
        its ``MockTransport`` reaches the fake, and its errors fake a failed connection."""
        return http_module(cls.sdk_base_client)

    def __init__(self, *, latency: float = 0.0) -> None:
        self.latency = latency
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self._failures: deque[Failure] = deque()
        self._stream_breaks: deque[StreamBreak] = deque()
        self._seen_prefixes: set[str] = set()
        self._lock = threading.Lock()

    def reset(self) -> None:
        """Start over: forget the requests, queued failures and cached prefixes, so that the
        same calls get the same answers again (ids count the requests) without new clients."""
        with self._lock:
            self.requests.clear()
            self._failures.clear()
            self._stream_breaks.clear()
            self._seen_prefixes.clear()

    def fail_next(
        self,
        status: int = 500,
        *,
        times: int = 1,
        body: dict | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next ``times`` requests with an HTTP error."""
        for _ in range(times):
            self._failures.append(Failure(status, body or self.error_body(status), headers or {}))

    def raise_next(self, exception: BaseException, *, times: int = 1) -> None:
        """Make the transport raise ``exception`` for the next ``times`` requests, as a
        refused connection or a timeout does (the SDK wraps it in its own error)."""
        for _ in range(times):
            self._failures.append(Failure(0, {}, exception=exception))

    def break_next_stream(self, *, after: int = 1, error: dict[str, Any] | None = None) -> None:
        """Cut the next streamed answer after ``after`` events: the connection drops
        mid-body (the transport raises a read error), or, with ``error``, the server sends
        that error object as a last event (as APIs do when they fail mid-stream)."""
        self._stream_breaks.append(StreamBreak(after, error))

    def _take_stream_break(self) -> StreamBreak | None:
        with self._lock:
            return self._stream_breaks.popleft() if self._stream_breaks else None

    def error_body(self, status: int) -> dict[str, Any]:
        return {"error": {"message": f"fake error {status}", "type": "server_error", "code": None}}

    def _record(self, path: str, body: dict[str, Any]) -> Failure | None:
        with self._lock:
            self.requests.append((path, body))
            failure = self._failures.popleft() if self._failures else None
        if self.latency:
            time.sleep(self.latency)
        return failure

    def cached_tokens(self, prefix: str, prompt_tokens: int, *, minimum: int, step: int) -> int:
        """Tokens served from the prompt cache: a prefix seen before, in ``step`` blocks."""
        if prompt_tokens < minimum:
            return 0
        key = hashlib.blake2s(prefix.encode(), digest_size=8).hexdigest()
        with self._lock:
            hit = key in self._seen_prefixes
            self._seen_prefixes.add(key)
        return (prompt_tokens // step) * step if hit else 0


def structured_json(format_: Any) -> str | None:
    """JSON that matches a structured-output request's schema (chat ``response_format`` or
    responses ``text.format``), or None for a free-text request."""
    if not isinstance(format_, dict) or format_.get("type") != "json_schema":
        return None
    schema = format_.get("json_schema", format_).get("schema")
    if not isinstance(schema, dict):
        return None
    return json.dumps(_instance(schema, schema.get("$defs", {}), "value"))


def _instance(schema: dict[str, Any], defs: dict[str, Any], seed: str) -> Any:
    """A value of ``schema`` (the subset of JSON Schema that structured outputs use)."""
    if "$ref" in schema:
        return _instance(defs[schema["$ref"].rsplit("/", 1)[-1]], defs, seed)
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema:
        return _instance(schema["anyOf"][0], defs, seed)
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: _instance(sub, defs, name) for name, sub in properties.items()}
    if kind == "array":
        return [_instance(schema.get("items", {}), defs, seed)]
    return {"integer": 42, "number": 4.2, "boolean": True, "null": None}.get(kind, text_of(3, seed))
