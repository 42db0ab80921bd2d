"""A fake Mistral API (``/v1/chat/completions`` and ``/v1/fim/completions``, plain and
streamed, and ``/v1/embeddings``): real ``mistralai`` clients talk to it through their HTTP
library's mock transport.

The ``Mistral`` client is ``mistralai.client.Mistral`` from 2.x on (``mistralai.Mistral`` in
1.x); its HTTP library is httpx2 in 3.x, httpx before. Streams are SSE whose last chunk carries
``usage``, then ``data: [DONE]``, as the API sends them. A request with a
``prompt_cache_key`` whose first message was seen before is a prompt-cache hit (in blocks of
64 tokens, reported as ``usage.prompt_tokens_details.cached_tokens``).

>>> fake = FakeMistral()
>>> fake.client().chat.complete(model="mistral-small-latest", messages=[...]).usage
"""

from __future__ import annotations

import importlib
import json
from typing import Any

from ._common import (
    FakeServer,
    broken_body,
    count_text,
    http_module,
    stable_int,
    structured_json,
    text_of,
)

__all__ = ["FakeMistral", "mistral_class"]

BASE_URL = "https://api.mistral.ai"
_ERROR_TYPES = {400: "invalid_request_error", 401: "unauthorized", 404: "not_found",
                422: "invalid_request_error", 429: "rate_limited", 500: "internal_error",
                503: "service_unavailable"}  # fmt: skip


def mistral_class() -> Any:
    """The SDK's ``Mistral`` client class, wherever this version keeps it."""
    try:
        return importlib.import_module("mistralai.client").Mistral
    except (ImportError, AttributeError):  # 1.x: mistralai.client is the retired v0 client
        return importlib.import_module("mistralai").Mistral


class FakeMistral(FakeServer):
    """``usage`` fixes the usage of every answer; ``stream_chunks`` how many content chunks a
    stream has. ``break_next_stream(after=n)`` drops the connection after ``n`` chunks."""

    api_key = "fake-mistral-key-for-tests"

    def __init__(
        self,
        *,
        latency: float = 0.0,
        usage: dict[str, Any] | None = None,
        stream_chunks: int | None = None,
    ) -> None:
        super().__init__(latency=latency)
        self.usage = usage
        self.stream_chunks = stream_chunks

    @classmethod
    def http(cls) -> Any:
        try:
            return http_module("mistralai.client.httpclient")
        except ImportError:
            return http_module("mistralai.httpclient")

    def error_body(self, status: int) -> dict[str, Any]:
        kind = _ERROR_TYPES.get(status, "internal_error")
        return {"object": "error", "message": f"fake {kind} ({status})", "type": kind,
                "param": None, "code": str(status)}  # fmt: skip

    def client(self, *, server_url: str | None = BASE_URL, **kwargs: Any) -> Any:
        """A ``Mistral`` client whose sync and async calls reach this fake, whatever its
        server (``server_url=None``: the SDK's default)."""
        http = self.http()
        transport = http.MockTransport(self.handler)
        if server_url is not None:
            kwargs["server_url"] = server_url
        return mistral_class()(
            api_key=self.api_key,
            client=http.Client(transport=transport),
            async_client=http.AsyncClient(transport=transport),
            **kwargs,
        )

    # -- the server ----------------------------------------------------------------------------

    def handler(self, request: Any) -> Any:
        http = self.http()
        path = request.url.path
        body = json.loads(request.content or b"{}")
        failure = self._record(path, body)
        if failure is not None:
            if failure.exception is not None:
                raise failure.exception
            return http.Response(failure.status, json=failure.body, headers=failure.headers)
        if path in ("/v1/chat/completions", "/v1/fim/completions"):
            return self._chat(http, body)
        if path == "/v1/embeddings":
            return http.Response(200, json=self.embeddings_body(body))
        return http.Response(404, json=self.error_body(404))

    def chat_usage(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.usage is not None:
            return dict(self.usage)
        # chat: the messages; fill-in-the-middle: the code before and after the gap
        messages = body.get("messages") or [body.get("prompt") or "", body.get("suffix") or ""]
        prompt = max(count_text(messages) // 4, 1) + 4 * len(messages)
        limit = int(body.get("max_tokens") or 400)
        completion = min(limit, 30 + stable_int(body.get("model"), json.dumps(messages),
                                                modulo=300))  # fmt: skip
        usage: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion,
                                 "total_tokens": prompt + completion}  # fmt: skip
        if body.get("prompt_cache_key"):
            first = json.dumps([body["prompt_cache_key"], messages[0]])
            cached = self.cached_tokens(first, prompt, minimum=64, step=64)
            usage["prompt_tokens_details"] = {"cached_tokens": cached}
        return usage

    def chat_body(self, body: dict[str, Any]) -> dict[str, Any]:
        usage = self.chat_usage(body)
        model = str(body.get("model", ""))
        limit = body.get("max_tokens")  # the answer is cut only by a cap the caller set
        cut = limit is not None and usage["completion_tokens"] >= int(limit)
        return {
            "id": f"{stable_int(json.dumps(body), len(self.requests), modulo=16**32):032x}",
            "object": "chat.completion",
            "model": model,
            "created": 1_760_000_000,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "tool_calls": None,
                            "content": structured_json(body.get("response_format"))
                            or text_of(max(usage["completion_tokens"] * 3 // 4, 1), model)},
                "finish_reason": "length" if cut else "stop",
            }],
            "usage": usage,
        }  # fmt: skip

    def _chat(self, http: Any, body: dict[str, Any]) -> Any:
        final = self.chat_body(body)
        if not body.get("stream"):
            return http.Response(200, json=final)
        choice = final["choices"][0]
        words = choice["message"]["content"].split()
        n = min(self.stream_chunks or len(words), len(words))
        pieces = [" ".join(words[len(words) * i // n : len(words) * (i + 1) // n]) + " "
                  for i in range(n)]  # fmt: skip
        base = {key: final[key] for key in ("id", "model", "created")}
        chunks = [
            {**base, "object": "chat.completion.chunk", "choices": [
                {"index": 0, "delta": {"role": "assistant", "content": piece}
                 if i == 0 else {"content": piece}, "finish_reason": None}]}
            for i, piece in enumerate(pieces)
        ]  # fmt: skip
        chunks[-1]["choices"][0]["finish_reason"] = choice["finish_reason"]
        chunks[-1]["usage"] = final["usage"]
        events = [f"data: {json.dumps(chunk)}\n\n".encode() for chunk in chunks]
        headers = {"content-type": "text/event-stream"}
        cut = self._take_stream_break()
        if cut is not None:
            error = http.ReadError("peer closed connection without sending complete body")
            stream = broken_body(http, events[: cut.after], error)
            return http.Response(200, headers=headers, stream=stream)
        return http.Response(200, headers=headers, content=b"".join(events) + b"data: [DONE]\n\n")

    def embeddings_body(self, body: dict[str, Any]) -> dict[str, Any]:
        inputs = body.get("inputs", body.get("input"))
        items = inputs if isinstance(inputs, list) else [inputs]
        tokens = (
            max(count_text(items) // 4, 1) if self.usage is None else self.usage["prompt_tokens"]
        )
        return {
            "id": f"{stable_int(json.dumps(body), modulo=16**32):032x}",
            "object": "list",
            "model": str(body.get("model", "")),
            "data": [{"object": "embedding", "index": i, "embedding": [0.01 * (i + 1)] * 8}
                     for i in range(len(items))],
            "usage": {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens},
        }  # fmt: skip
