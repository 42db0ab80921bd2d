"""A fake Anthropic Messages API: real ``anthropic`` clients talk to it through a mock
transport, so nothing leaves the process. Bodies follow the API's documented shapes; usage
follows the request (prompt length, ``max_tokens``), with prompt caching as the API does it:
the prefix up to a ``cache_control`` breakpoint is written to the cache the first time
(5 minutes, or 1 hour with ``"ttl": "1h"``) and read from it when it is sent again, once it
is long enough to be cached. Extended thinking and web search add their tokens and requests.

>>> fake = FakeAnthropic()
>>> client = fake.client()
>>> client.messages.create(model="claude-haiku-4-5", max_tokens=256, messages=[...]).usage

Clients keep the SDK's default ``open_telemetry`` (its own tracing on) unless given one.
"""

from __future__ import annotations

import inspect
import json
import re
from itertools import pairwise
from typing import Any

from ._common import FakeServer, broken_body, count_text, stable_int, text_of

BASE_URL = "https://api.anthropic.com"

#: what the API answers in ``model`` for an alias
SNAPSHOTS = {
    "claude-haiku-4-5": "claude-haiku-4-5-20251001",
    "claude-sonnet-4-5": "claude-sonnet-4-5-20250929",
    "claude-opus-4-1": "claude-opus-4-1-20250805",
    "claude-opus-4-5": "claude-opus-4-5-20251101",
}
#: the shortest prefix (tokens) the API caches; shorter breakpoints are ignored
_MIN_CACHEABLE = {"claude-haiku": 2048}
_DEFAULT_MIN_CACHEABLE = 1024
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
_VERTEX_PATH = re.compile(r"/models/([^/:]+):(rawPredict|streamRawPredict)$")
_BEDROCK_PATH = re.compile(r"^/model/([^/]+)/(invoke|invoke-with-response-stream)$")


class FakeAnthropic(FakeServer):
    """Answers ``/v1/messages`` (plain and streamed), ``/v1/messages/count_tokens``, and the
    Vertex (``rawPredict``) and Bedrock (``invoke``, not streamed) paths of the same API.

    ``usage`` fixes the usage object of every answer instead of deriving it from the request;
    ``stream_chunks`` fixes how many text deltas a stream has. ``break_next_stream(after=n,
    error=OVERLOADED_EVENT)`` cuts a stream after ``n`` events (``message_start`` and ``ping``
    come first) with an error event, or without ``error`` by dropping the connection.
    """

    sdk_base_client = "anthropic._base_client"
    #: the API key its clients send (set another on an instance to look for it elsewhere)
    api_key = "sk-ant-fake-key-for-tests"

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
        #: the headers of each request, in order (``traceparent`` ...)
        self.request_headers: list[dict[str, str]] = []

    def reset(self) -> None:
        super().reset()
        self.request_headers.clear()

    def error_body(self, status: int) -> dict[str, Any]:
        kind = _ERROR_TYPES.get(status, "api_error")
        return {
            "type": "error",
            "error": {"type": kind, "message": f"fake {kind} ({status})"},
            "request_id": "req_fake_error",
        }

    # -- clients -------------------------------------------------------------------------------

    def client(self, *, base_url: str = BASE_URL, **kwargs: Any) -> Any:
        import anthropic

        http = self.http()
        return anthropic.Anthropic(
            api_key=self.api_key,
            base_url=base_url,
            http_client=http.Client(transport=http.MockTransport(self.handler)),
            **_client_options(kwargs),
        )

    def async_client(self, *, base_url: str = BASE_URL, **kwargs: Any) -> Any:
        import anthropic

        http = self.http()
        return anthropic.AsyncAnthropic(
            api_key=self.api_key,
            base_url=base_url,
            http_client=http.AsyncClient(transport=http.MockTransport(self.handler)),
            **_client_options(kwargs),
        )

    def vertex_client(
        self, *, asynchronous: bool = False, region: str = "us-east5", **kwargs: Any
    ) -> Any:
        """``AnthropicVertex`` with a fixed access token (no Google credentials needed)."""
        import anthropic

        http = self.http()
        transport = http.MockTransport(self.handler)
        cls = anthropic.AsyncAnthropicVertex if asynchronous else anthropic.AnthropicVertex
        http_client = (http.AsyncClient if asynchronous else http.Client)(transport=transport)
        return cls(
            region=region,
            project_id="fake-project",
            access_token="ya29.fake-token",
            http_client=http_client,
            **{"max_retries": 0, **kwargs},
        )

    def bedrock_client(
        self, *, asynchronous: bool = False, region: str = "us-east-1", **kwargs: Any
    ) -> Any:
        """``AnthropicBedrock`` with a Bedrock API key (bearer auth: no AWS signing needed).
        Bedrock streams use AWS event-stream framing, which this fake does not produce."""
        import anthropic

        http = self.http()
        transport = http.MockTransport(self.handler)
        cls = anthropic.AsyncAnthropicBedrock if asynchronous else anthropic.AnthropicBedrock
        http_client = (http.AsyncClient if asynchronous else http.Client)(transport=transport)
        return cls(
            api_key="fake-bedrock-api-key",
            aws_region=region,
            http_client=http_client,
            **{"max_retries": 0, **kwargs},
        )

    # -- the server ----------------------------------------------------------------------------

    def handler(self, request: Any) -> Any:
        http = self.http()
        path = request.url.path
        body = json.loads(request.content or b"{}")
        self.request_headers.append(dict(request.headers))
        failure = self._record(path, body)
        if failure is not None:
            if failure.exception is not None:
                raise failure.exception
            return http.Response(failure.status, json=failure.body, headers=failure.headers)
        if path.endswith(("/count_tokens", "/count-tokens:rawPredict")):
            return http.Response(200, json={"input_tokens": self._prompt_tokens(body)})
        if path == "/v1/messages":
            return self._messages(http, body, stream=bool(body.get("stream")))
        if match := _VERTEX_PATH.search(path):
            body = {**body, "model": match.group(1)}
            return self._messages(http, body, stream=match.group(2) == "streamRawPredict")
        if (match := _BEDROCK_PATH.match(path)) and match.group(2) == "invoke":
            return self._messages(http, {**body, "model": match.group(1)}, stream=False)
        return http.Response(404, json=self.error_body(404))

    def _serial(self, body: dict[str, Any]) -> str:
        return f"{stable_int(json.dumps(body), len(self.requests), modulo=10**12):012d}"

    # usage

    def _prompt_tokens(self, body: dict[str, Any]) -> int:
        chars = count_text(body.get("messages")) + _system_chars(body.get("system"))
        chars += sum(len(json.dumps(tool)) for tool in body.get("tools") or ())
        return max(chars // 4, 1) + 8

    def _cache(self, body: dict[str, Any]) -> tuple[int, int, int]:
        """(cache read, 5-minute write, 1-hour write) tokens for this request."""
        model = str(body.get("model", ""))
        minimum = next(
            (n for prefix, n in _MIN_CACHEABLE.items() if model.startswith(prefix)),
            _DEFAULT_MIN_CACHEABLE,
        )
        breakpoints = _breakpoints(body)
        read = 0
        hits = []
        for tokens, key, _ in breakpoints:
            cached = self.cached_tokens(f"{model}|{key}", tokens, minimum=minimum, step=1)
            hits.append(cached)
            read = max(read, cached)
        write_5m = write_1h = 0
        written_up_to = read
        for (tokens, _, ttl), cached in zip(breakpoints, hits, strict=True):
            if tokens > written_up_to and not cached and tokens >= minimum:
                if ttl == "1h":
                    write_1h += tokens - written_up_to
                else:
                    write_5m += tokens - written_up_to
                written_up_to = tokens
        return read, write_5m, write_1h

    def message_usage(self, body: dict[str, Any]) -> dict[str, Any]:
        """The API's ``usage`` for a request (input excludes the cache, as the API reports)."""
        if self.usage is not None:
            return self.usage
        model = str(body.get("model", ""))
        prompt = self._prompt_tokens(body)
        read, write_5m, write_1h = self._cache(body)
        limit = int(body.get("max_tokens") or 400)
        thinking = body.get("thinking") or {}
        thinking_on = thinking.get("type") in ("enabled", "adaptive")
        answer = 30 + stable_int(model, json.dumps(body.get("messages")), modulo=300)
        reasoning = 0
        if thinking_on:
            budget = int(thinking.get("budget_tokens") or limit)
            reasoning = min(budget, 120 + answer)
        output = min(limit, answer + reasoning)
        reasoning = min(reasoning, output - 1)
        searches = 1 if _has_web_search(body.get("tools")) else 0
        usage: dict[str, Any] = {
            "input_tokens": max(prompt - read - write_5m - write_1h, 1),
            "cache_creation_input_tokens": write_5m + write_1h,
            "cache_read_input_tokens": read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": write_5m,
                "ephemeral_1h_input_tokens": write_1h,
            },
            "output_tokens": output,
            "service_tier": "standard",
        }
        if thinking_on:
            usage["output_tokens_details"] = {"thinking_tokens": reasoning}
        if searches:
            usage["server_tool_use"] = {"web_search_requests": searches, "web_fetch_requests": 0}
        if body.get("speed") == "fast":
            usage["speed"] = "fast"
        return usage

    # messages

    def message_body(self, body: dict[str, Any]) -> dict[str, Any]:
        usage = self.message_usage(body)
        model = str(body.get("model", ""))
        thinking = (usage.get("output_tokens_details") or {}).get("thinking_tokens", 0)
        visible = max(usage["output_tokens"] - thinking, 1)
        content: list[dict[str, Any]] = []
        if "output_tokens_details" in usage:
            content.append(
                {
                    "type": "thinking",
                    "thinking": text_of(max(thinking * 3 // 4, 1), "thinking"),
                    "signature": "EqQBCkYIBxgCKkDfakeSignature",
                }
            )
        if usage.get("server_tool_use"):
            content += _web_search_blocks()
        content.append({"type": "text", "text": text_of(max(visible * 3 // 4, 1), model)})
        limit = int(body.get("max_tokens") or 400)
        return {
            "id": f"msg_{self._serial(body)}",
            "type": "message",
            "role": "assistant",
            "model": SNAPSHOTS.get(model, model),
            "content": content,
            "stop_reason": "max_tokens" if usage["output_tokens"] >= limit else "end_turn",
            "stop_sequence": None,
            "usage": usage,
        }

    def _messages(self, http: Any, body: dict[str, Any], *, stream: bool) -> Any:
        message = self.message_body(body)
        headers = {"request-id": f"req_{message['id'][4:]}"}
        if not stream:
            return http.Response(200, json=message, headers=headers)
        headers["content-type"] = "text/event-stream"
        events = self._stream_events(message)
        cut = self._take_stream_break()
        if cut is not None:
            events = events[: cut.after]
            if cut.error is None:  # the connection drops
                parts = [_event_text(event).encode() for event in events]
                error = http.ReadError("peer closed connection without sending complete body")
                return http.Response(200, headers=headers, stream=broken_body(http, parts, error))
            events.append(cut.error)
        text = "".join(_event_text(event) for event in events)
        return http.Response(200, text=text, headers=headers)

    def _stream_events(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        """The SSE events of ``message``: ``message_start`` (input and cache usage, a
        placeholder output count), each content block as start/deltas/stop, ``message_delta``
        (stop reason, cumulative usage) and ``message_stop``."""
        usage = message["usage"]
        start_usage = {
            k: v for k, v in usage.items() if k not in ("output_tokens_details", "server_tool_use")
        }
        start_usage["output_tokens"] = 1
        start = {**message, "content": [], "stop_reason": None, "usage": start_usage}
        events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
        events.append({"type": "ping"})
        for index, block in enumerate(message["content"]):
            opening, deltas = _block_stream(block, self.stream_chunks)
            events.append({"type": "content_block_start", "index": index, "content_block": opening})
            for delta in deltas:
                events.append({"type": "content_block_delta", "index": index, "delta": delta})
            events.append({"type": "content_block_stop", "index": index})
        cumulative = {key: usage[key] for key in _DELTA_USAGE if key in usage}
        stop = {"stop_reason": message["stop_reason"], "stop_sequence": None}
        events.append({"type": "message_delta", "delta": stop, "usage": cumulative})
        events.append({"type": "message_stop"})
        return events


def _client_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The client's keyword arguments: no retries unless asked, and ``open_telemetry=False``
    dropped where the SDK has no tracing of its own to turn off (before 1.14)."""
    import anthropic

    options = {"max_retries": 0, **kwargs}
    traces = "open_telemetry" in inspect.signature(anthropic.Anthropic.__init__).parameters
    if options.get("open_telemetry") is False and not traces:
        del options["open_telemetry"]
    return options


#: the cumulative usage fields a ``message_delta`` carries
_DELTA_USAGE = (
    "input_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "output_tokens",
    "output_tokens_details",
    "server_tool_use",
)


def _block_stream(
    block: dict[str, Any], chunks: int | None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A content block as streamed: its ``content_block_start`` and its deltas."""
    kind = block["type"]
    if kind == "text":
        words = block["text"].split()
        n = chunks or len(words)
        if n <= len(words):  # n runs of consecutive words
            cuts = [len(words) * i // n for i in range(n + 1)]
            pieces = [" ".join(words[a:b]) for a, b in pairwise(cuts)]
        else:
            pieces = [words[i % len(words)] for i in range(n)]
        return {"type": "text", "text": ""}, [
            {"type": "text_delta", "text": piece + " "} for piece in pieces
        ]
    if kind == "thinking":
        return {"type": "thinking", "thinking": "", "signature": ""}, [
            {"type": "thinking_delta", "thinking": block["thinking"]},
            {"type": "signature_delta", "signature": block["signature"]},
        ]
    if kind == "server_tool_use":
        partial = json.dumps(block["input"])
        return {**block, "input": {}}, [{"type": "input_json_delta", "partial_json": partial}]
    return block, []


def _event_text(event: dict[str, Any]) -> str:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n"


#: what the API sends when it fails mid-stream (``break_next_stream(error=...)``)
OVERLOADED_EVENT = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


def _system_chars(system: Any) -> int:
    if isinstance(system, str):
        return len(system)
    return count_text(system) if isinstance(system, list) else 0


def _has_web_search(tools: Any) -> bool:
    return any(
        isinstance(tool, dict) and str(tool.get("type", "")).startswith("web_search")
        for tool in tools or ()
    )


def _breakpoints(body: dict[str, Any]) -> list[tuple[int, str, str]]:
    """Each ``cache_control`` breakpoint in prompt order (tools, system, messages) as
    (tokens of the prefix up to and including it, that prefix as a key, its TTL)."""
    blocks: list[tuple[str, Any]] = []  # (text of a block, its cache_control or None)
    for tool in body.get("tools") or ():
        blocks.append((json.dumps(tool), tool.get("cache_control")))
    system = body.get("system")
    if isinstance(system, str):
        blocks.append((system, None))
    elif isinstance(system, list):
        blocks += [(str(block.get("text", "")), block.get("cache_control")) for block in system]
    for message in body.get("messages") or ():
        content = message.get("content")
        if isinstance(content, str):
            blocks.append((content, None))
        elif isinstance(content, list):
            blocks += [(str(b.get("text", "")), b.get("cache_control")) for b in content]
    if isinstance(body.get("cache_control"), dict) and blocks:  # automatic caching: all of it
        blocks[-1] = (blocks[-1][0], body["cache_control"])
    out = []
    chars = 0
    prefix: list[str] = []
    for text, control in blocks:
        chars += len(text)
        prefix.append(text)
        if isinstance(control, dict):
            out.append((chars // 4, "\x00".join(prefix), str(control.get("ttl", "5m"))))
    return out


def _web_search_blocks() -> list[dict[str, Any]]:
    return [
        {
            "type": "server_tool_use",
            "id": "srvtoolu_fake",
            "name": "web_search",
            "input": {"query": "quarterly figures"},
        },
        {
            "type": "web_search_tool_result",
            "tool_use_id": "srvtoolu_fake",
            "content": [
                {
                    "type": "web_search_result",
                    "url": "https://example.com/figures",
                    "title": "Quarterly figures",
                    "encrypted_content": "EqgfCioIARgBIiQ3fake",
                    "page_age": None,
                }
            ],
        },
    ]
