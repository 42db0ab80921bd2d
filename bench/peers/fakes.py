"""Fake OpenAI, Anthropic, Gemini and Bedrock APIs for the peer benchmark: real SDK clients
over an ``httpx2.MockTransport`` (boto3: answered from botocore's ``before-send`` event, before
any HTTP), nothing leaves the process. LiteLLM is given the fake OpenAI client.

Self-contained on purpose: the peers' virtualenvs do not have tokentrail, so this cannot reuse
``tokentrail.fakes``. Bodies follow the APIs' wire shapes (``reference/sdk-surfaces.md`` §7)
with realistic usage: cached input and reasoning tokens on every provider (a second Gemini
without thinking tokens), cache writes on Anthropic and Bedrock, running usage totals on every
Gemini stream chunk. Every answer carries a fresh id,
so that an instrumentation that keeps state per response id shows up in the memory figures.
Bodies are rendered once; a call only substitutes the id.

``EXPECTED`` is what a correct instrumentation reports, in the GenAI semantic conventions'
terms: input tokens include cache reads and writes, output tokens include reasoning.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx2

OPENAI_BASE_URL = "https://api.openai.com/v1"
ANTHROPIC_BASE_URL = "https://api.anthropic.com"

OPENAI_MODEL = "gpt-5-mini"
OPENAI_RESPONSE_MODEL = "gpt-5-mini-2025-08-07"
ANTHROPIC_MODEL = "claude-haiku-4-5"
ANTHROPIC_RESPONSE_MODEL = "claude-haiku-4-5-20251001"
GEMINI_MODEL = "gemini-2.5-flash"
#: a cross-region inference profile, as most Bedrock callers use
BEDROCK_MODEL = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
#: LiteLLM's route to the openai SDK (given the fake client)
LITELLM_MODEL = f"openai/{OPENAI_MODEL}"

_ID = "__RESPONSE_ID__"
_WORDS = ["the", "quarterly", "figures", "show", "steady", "growth", "in", "the", "core"]

OPENAI_USAGE = {
    "prompt_tokens": 1200,
    "completion_tokens": 300,
    "total_tokens": 1500,
    "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 128,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}
# Anthropic's input_tokens EXCLUDES the cache reads and writes; output includes thinking.
ANTHROPIC_USAGE = {
    "input_tokens": 50,
    "output_tokens": 300,
    "cache_read_input_tokens": 1000,
    "cache_creation_input_tokens": 200,
    "cache_creation": {"ephemeral_5m_input_tokens": 200, "ephemeral_1h_input_tokens": 0},
    "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0},
    "output_tokens_details": {"thinking_tokens": 64},
    "service_tier": "standard",
}
# Gemini's candidates_token_count EXCLUDES the thoughts; prompt includes the cached part.
GEMINI_USAGE = {
    "promptTokenCount": 1200,
    "cachedContentTokenCount": 1024,
    "candidatesTokenCount": 300,
    "thoughtsTokenCount": 128,
    "totalTokenCount": 1628,
    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 1200}],
    "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": 1024}],
}
# the same without thinking (thinking off, or a model without it): nothing to add to output
GEMINI_USAGE_NO_THINKING = {k: v for k, v in GEMINI_USAGE.items() if k != "thoughtsTokenCount"} | {
    "totalTokenCount": 1500
}
# Converse's inputTokens EXCLUDES the cache reads and writes, as Anthropic's does.
BEDROCK_USAGE = {
    "inputTokens": 50,
    "outputTokens": 300,
    "totalTokens": 1550,
    "cacheReadInputTokens": 1000,
    "cacheWriteInputTokens": 200,
}

#: usage (a scenario's, by default its provider's) -> semconv usage a correct instrumentation
#: reports per call
EXPECTED: dict[str, dict[str, int]] = {
    "openai": {"input": 1200, "output": 300, "cache_read": 1024, "reasoning": 128},
    "anthropic": {
        "input": 50 + 1000 + 200,
        "output": 300,
        "cache_read": 1000,
        "cache_creation": 200,
        "reasoning": 64,
    },
    "gemini": {"input": 1200, "output": 300 + 128, "cache_read": 1024, "reasoning": 128},
    "gemini-no-thinking": {"input": 1200, "output": 300, "cache_read": 1024},
    "bedrock": {"input": 50 + 1000 + 200, "output": 300, "cache_read": 1000, "cache_creation": 200},
    # LiteLLM routes to the fake OpenAI
    "litellm": {"input": 1200, "output": 300, "cache_read": 1024, "reasoning": 128},
}


def _text(n: int) -> list[str]:
    return [_WORDS[i % len(_WORDS)] + " " for i in range(n)]


def _sse(events: list[tuple[str | None, dict[str, Any]]], done: bool = False) -> str:
    text = "".join(
        (f"event: {name}\n" if name else "") + f"data: {json.dumps(data)}\n\n"
        for name, data in events
    )
    return text + ("data: [DONE]\n\n" if done else "")


class _Fake:
    """A handler that answers from pre-rendered bodies, with a fresh response id each time."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.requests = 0

    def _answer(self, body: str, stream: bool) -> httpx2.Response:
        self.requests += 1
        content = body.replace(_ID, f"{next(self._ids):012d}").encode()
        content_type = "text/event-stream" if stream else "application/json"
        return httpx2.Response(200, content=content, headers={"content-type": content_type})

    def sync_http(self) -> httpx2.Client:
        return httpx2.Client(transport=httpx2.MockTransport(self.handler))

    def async_http(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(transport=httpx2.MockTransport(self.handler))

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        raise NotImplementedError


class FakeOpenAI(_Fake):
    """Chat completions (plain and streamed, usage chunk when asked) and responses."""

    def __init__(self, chunks: int = 50) -> None:
        super().__init__()
        base = {
            "id": f"chatcmpl-{_ID}",
            "created": 1_760_000_000,
            "model": OPENAI_RESPONSE_MODEL,
            "service_tier": "default",
            "system_fingerprint": "fp_bench",
        }
        pieces = _text(chunks)
        self._chat = json.dumps(
            {
                **base,
                "object": "chat.completion",
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "logprobs": None,
                        "message": {
                            "role": "assistant",
                            "content": "".join(pieces),
                            "refusal": None,
                            "annotations": [],
                        },
                    }
                ],
                "usage": OPENAI_USAGE,
            }
        )
        chunk = {**base, "object": "chat.completion.chunk", "usage": None}

        def delta(d: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            choice = {"index": 0, "delta": d, "finish_reason": finish, "logprobs": None}
            return {**chunk, "choices": [choice]}

        events: list[tuple[str | None, dict[str, Any]]] = [
            (None, delta({"role": "assistant", "content": ""}))
        ]
        events += [(None, delta({"content": piece})) for piece in pieces]
        events.append((None, delta({}, "stop")))
        self._chat_stream = _sse(events, done=True)
        usage_chunk = (None, {**chunk, "choices": [], "usage": OPENAI_USAGE})
        self._chat_stream_usage = _sse([*events, usage_chunk], done=True)
        self._response = json.dumps(
            {
                "id": f"resp_{_ID}",
                "object": "response",
                "created_at": 1_760_000_000,
                "status": "completed",
                "model": OPENAI_RESPONSE_MODEL,
                "output": [
                    {
                        "type": "reasoning",
                        "id": f"rs_{_ID}",
                        "summary": [],
                    },
                    {
                        "type": "message",
                        "id": f"msg_{_ID}",
                        "status": "completed",
                        "role": "assistant",
                        "content": [
                            {"type": "output_text", "text": "".join(pieces), "annotations": []}
                        ],
                    },
                ],
                "parallel_tool_calls": True,
                "tool_choice": "auto",
                "tools": [],
                "service_tier": "default",
                "usage": {
                    "input_tokens": 1200,
                    "output_tokens": 300,
                    "total_tokens": 1500,
                    "input_tokens_details": {"cached_tokens": 1024},
                    "output_tokens_details": {"reasoning_tokens": 128},
                },
            }
        )

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        path = request.url.path
        if path.endswith("/chat/completions"):
            body = json.loads(request.content)
            if not body.get("stream"):
                return self._answer(self._chat, False)
            usage = (body.get("stream_options") or {}).get("include_usage")
            return self._answer(self._chat_stream_usage if usage else self._chat_stream, True)
        if path.endswith("/responses"):
            return self._answer(self._response, False)
        return httpx2.Response(404, json={"error": {"message": path, "type": "not_found"}})

    def client(self) -> Any:
        import openai

        return openai.OpenAI(
            api_key="sk-bench", base_url=OPENAI_BASE_URL, http_client=self.sync_http()
        )

    def async_client(self) -> Any:
        import openai

        return openai.AsyncOpenAI(
            api_key="sk-bench", base_url=OPENAI_BASE_URL, http_client=self.async_http()
        )


class FakeAnthropic(_Fake):
    """Messages, plain and streamed (``chunks`` text deltas, usage on start and delta)."""

    def __init__(self, chunks: int = 50) -> None:
        super().__init__()
        pieces = _text(chunks)
        message = {
            "id": f"msg_{_ID}",
            "type": "message",
            "role": "assistant",
            "model": ANTHROPIC_RESPONSE_MODEL,
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "content": [{"type": "text", "text": "".join(pieces)}],
            "usage": ANTHROPIC_USAGE,
        }
        self._message = json.dumps(message)
        start = {
            **message,
            "content": [],
            "stop_reason": None,
            "usage": {**ANTHROPIC_USAGE, "output_tokens": 1},
        }
        events: list[dict[str, Any]] = [
            {"type": "message_start", "message": start},
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ]
        events += [
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}
            for p in pieces
        ]
        events += [
            {"type": "content_block_stop", "index": 0},
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                # cumulative, as the API sends it
                "usage": {"output_tokens": 300, "output_tokens_details": {"thinking_tokens": 64}},
            },
            {"type": "message_stop"},
        ]
        self._stream = _sse([(e["type"], e) for e in events])

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/v1/messages":
            if json.loads(request.content).get("stream"):
                return self._answer(self._stream, True)
            return self._answer(self._message, False)
        return httpx2.Response(
            404, json={"type": "error", "error": {"type": "not_found_error", "message": "?"}}
        )

    def client(self, *, native_tracing: bool) -> Any:
        """``native_tracing``: the SDK's own OpenTelemetry spans (its default) or none."""
        import anthropic

        options: dict[str, Any] = {} if native_tracing else {"open_telemetry": False}
        return anthropic.Anthropic(
            api_key="sk-ant-bench",
            base_url=ANTHROPIC_BASE_URL,
            http_client=self.sync_http(),
            **options,
        )


class FakeGemini(_Fake):
    """generate_content and its stream (``chunks`` chunks, each with the running usage);
    ``thinking=False``: usage without thoughts."""

    def __init__(self, chunks: int = 50, *, thinking: bool = True) -> None:
        super().__init__()
        pieces = _text(chunks)
        final_usage = GEMINI_USAGE if thinking else GEMINI_USAGE_NO_THINKING

        def response(text: str, usage: dict[str, Any], finish: str | None) -> dict[str, Any]:
            candidate: dict[str, Any] = {
                "content": {"role": "model", "parts": [{"text": text}]},
                "index": 0,
            }
            if finish:
                candidate["finishReason"] = finish
            return {
                "candidates": [candidate],
                "usageMetadata": usage,
                "modelVersion": GEMINI_MODEL,
                "responseId": _ID,
            }

        self._response = json.dumps(response("".join(pieces), final_usage, "STOP"))
        chunks_json = []
        for i, piece in enumerate(pieces, 1):
            last = i == len(pieces)
            running = {
                "promptTokenCount": 1200,
                "cachedContentTokenCount": 1024,
                "candidatesTokenCount": 300 * i // len(pieces),
                "totalTokenCount": 1200 + 300 * i // len(pieces),
            }
            if thinking:
                running["thoughtsTokenCount"] = 128
                running["totalTokenCount"] += 128
            usage = final_usage if last else running
            chunks_json.append(json.dumps(response(piece, usage, "STOP" if last else None)))
        self._stream = "".join(f"data: {c}\r\n\r\n" for c in chunks_json)

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        path = request.url.path
        if path.endswith(":streamGenerateContent"):
            return self._answer(self._stream, True)
        if path.endswith(":generateContent"):
            return self._answer(self._response, False)
        return httpx2.Response(404, json={"error": {"code": 404, "message": path}})

    def client(self) -> Any:
        from google import genai
        from google.genai import types

        return genai.Client(
            api_key="bench",
            http_options=types.HttpOptions(
                httpx_client=self.sync_http(), httpx_async_client=self.async_http()
            ),
        )


class _Body:
    """The raw body of a botocore ``AWSResponse`` (what its ``content`` reads)."""

    __slots__ = ("_content",)

    def __init__(self, content: bytes) -> None:
        self._content = content

    def stream(self, **_: Any) -> Any:
        yield self._content


class FakeBedrock(_Fake):
    """``bedrock-runtime`` Converse, answered from botocore's ``before-send`` event: the
    request is built, signed and parsed by botocore as for AWS, only the HTTP send is
    skipped."""

    def __init__(self) -> None:
        super().__init__()
        self._converse = json.dumps(
            {
                "output": {
                    "message": {
                        "role": "assistant",
                        "content": [{"text": "".join(_text(50))}],
                    }
                },
                "stopReason": "end_turn",
                "usage": BEDROCK_USAGE,
                "metrics": {"latencyMs": 420},
            }
        )

    def before_send(self, request: Any, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        self.requests += 1
        headers = {
            "content-type": "application/json",
            "x-amzn-requestid": f"{next(self._ids):08d}-0000-4000-8000-000000000000",
        }
        return AWSResponse(request.url, 200, headers, _Body(self._converse.encode()))

    def client(self) -> Any:
        import boto3

        client = boto3.client(
            "bedrock-runtime",
            region_name="us-east-1",
            aws_access_key_id="AKIDBENCH",
            aws_secret_access_key="bench-secret",
        )
        client.meta.events.register("before-send.bedrock-runtime.Converse", self.before_send)
        return client
