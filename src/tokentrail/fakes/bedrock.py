"""A fake Amazon Bedrock Runtime: a real HTTP server on a loopback port that boto3's
``bedrock-runtime`` client reaches through ``endpoint_url`` (with dummy credentials: the
signature is not checked). It answers ``Converse`` and ``InvokeModel`` with JSON and the two
streaming calls (``ConverseStream``, ``InvokeModelWithResponseStream``) in AWS event-stream
framing (prelude, headers, CRC32s), so botocore's own decoder parses them.

``InvokeModel`` bodies are each model family's own: Anthropic Messages (answered by a
``FakeAnthropic``, so a call through ``AnthropicBedrock`` and one through boto3 report the same
usage), Meta Llama (``generation`` and token counts), Amazon Nova (``output``/``usage``) and
Mistral (chat completions with ``usage``, or the older ``outputs`` without). Every
``InvokeModel`` answer also carries the token counts in ``X-Amzn-Bedrock-*-Token-Count``
headers, and every stream ends with ``amazon-bedrock-invocationMetrics``, as Bedrock does.

>>> with FakeBedrock() as fake:
...     client = fake.client()
...     client.converse(modelId="us.anthropic.claude-haiku-4-5-20251001-v1:0", messages=[...])
"""

from __future__ import annotations

import base64
import json
import re
import struct
import zlib
from typing import Any

from ._common import FakeServer, count_text, stable_int, text_of
from ._loopback import LoopbackServer, Received, Reply
from .anthropic import FakeAnthropic

__all__ = ["FakeBedrock", "event_message", "family_of"]

REGION = "us-east-1"
_PATH = re.compile(
    r"^/model/([^/]+)/(converse|converse-stream|invoke|invoke-with-response-stream)$"
)
#: the error type Bedrock names for each status (``x-amzn-ErrorType``)
_ERROR_TYPES = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}
#: cross-region inference profiles prefix the model id with a geography
_PROFILE_PREFIXES = ("us.", "eu.", "apac.", "us-gov.", "jp.", "au.", "ca.", "global.")
_CACHE_MINIMUM = 1024


def family_of(model_id: str) -> str:
    """``us.anthropic.claude-...`` → ``anthropic``; ``meta``, ``amazon``, ``mistral`` ..."""
    for prefix in _PROFILE_PREFIXES:
        if model_id.startswith(prefix):
            model_id = model_id[len(prefix) :]
            break
    return model_id.split(".", 1)[0]


def event_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One AWS event-stream message: prelude (total and headers length, CRC32), string
    headers, payload, CRC32 of everything before it."""
    encoded = b"".join(
        bytes([len(name)])
        + name.encode()
        + b"\x07"
        + struct.pack(">H", len(value))
        + value.encode()
        for name, value in headers.items()
    )
    prelude = struct.pack(">II", 16 + len(encoded) + len(payload), len(encoded))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + encoded + payload
    return message + struct.pack(">I", zlib.crc32(message))


def _event(event_type: str, payload: dict[str, Any]) -> bytes:
    headers = {":event-type": event_type, ":content-type": "application/json",
               ":message-type": "event"}  # fmt: skip
    return event_message(headers, json.dumps(payload).encode())


def _exception(exception_type: str, message: str) -> bytes:
    headers = {":exception-type": exception_type, ":content-type": "application/json",
               ":message-type": "exception"}  # fmt: skip
    return event_message(headers, json.dumps({"message": message}).encode())


def _chunk(data: dict[str, Any]) -> bytes:
    """An ``InvokeModelWithResponseStream`` chunk: the model's JSON, base64 in ``bytes``."""
    return _event("chunk", {"bytes": base64.b64encode(json.dumps(data).encode()).decode()})


class FakeBedrock(FakeServer):
    """Serves Bedrock Runtime on ``self.url`` until ``close()`` (or the ``with`` block ends).

    ``fail_next(status)`` answers with that status and Bedrock's error type (429 is
    ``ThrottlingException``); ``raise_next(...)`` closes the connection unanswered;
    ``break_next_stream(after=n)`` cuts the next stream after ``n`` events by dropping the
    connection, or with ``error={"type": "modelStreamErrorException", "message": ...}`` by
    sending that exception event. ``stream_chunks`` fixes how many text deltas a stream has.
    ``usage`` fixes the counts of every answer (``input`` uncached, ``cache_read``,
    ``cache_write``, ``output``) instead of deriving them from the request;
    ``token_headers=False`` leaves the token-count headers out of ``InvokeModel`` answers.
    Every answer has an ``x-amzn-RequestId``.
    """

    #: the access key id of its clients (the secret key only signs; nothing checks it)
    access_key_id = "AKIAFAKEKEYFORTESTS"

    def __init__(
        self,
        *,
        latency: float = 0.0,
        stream_chunks: int | None = None,
        usage: dict[str, int] | None = None,
        token_headers: bool = True,
    ) -> None:
        super().__init__(latency=latency)
        self.stream_chunks = stream_chunks
        self.usage = usage
        self.token_headers = token_headers
        #: answers the Anthropic family's native bodies (and keeps their prompt cache)
        self.anthropic = FakeAnthropic(stream_chunks=stream_chunks, usage=_anthropic_usage(usage))
        self._server = LoopbackServer(self.answer)
        self.url = self._server.url

    def close(self) -> None:
        self._server.close()

    def __enter__(self) -> FakeBedrock:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def client(self, **kwargs: Any) -> Any:
        """A boto3 ``bedrock-runtime`` client of this server (no retries unless asked;
        ``endpoint_url=`` another server)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "bedrock-runtime",
            endpoint_url=kwargs.pop("endpoint_url", self.url),
            region_name=REGION,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key="fake-secret-for-tests",
            config=kwargs.pop("config", Config(retries={"total_max_attempts": 1})),
            **kwargs,
        )

    def error_body(self, status: int) -> dict[str, Any]:
        return {"message": f"fake {_ERROR_TYPES.get(status, 'InternalServerException')}"}

    # -- the server ----------------------------------------------------------------------------

    def answer(self, received: Received) -> Reply:
        reply = self._answer(received)
        serial = stable_int(received.path, len(self.requests), modulo=10**12)
        reply.headers.setdefault("x-amzn-RequestId", f"fake-{serial:012d}")
        return reply

    def _answer(self, received: Received) -> Reply:
        from urllib.parse import unquote

        body = json.loads(received.body or b"{}")
        match = _PATH.match(received.path)  # an ARN model id has its "/" encoded
        failure = self._record(received.path, body)
        if failure is not None:
            if failure.exception is not None:
                return Reply(0)
            kind = _ERROR_TYPES.get(failure.status, "InternalServerException")
            headers = {"x-amzn-ErrorType": kind, "Content-Type": "application/json",
                       **failure.headers}  # fmt: skip
            return Reply(failure.status, headers, [json.dumps(failure.body).encode()])
        if match is None:
            return Reply(404, {"x-amzn-ErrorType": "UnknownOperationException"}, [b"{}"])
        model_id, operation = unquote(match.group(1)), match.group(2)
        if operation == "converse":
            return _json(self.converse_body(model_id, body))
        if operation == "converse-stream":
            return self._stream(self._converse_events(model_id, body))
        native = self.invoke_body(model_id, body)
        if operation == "invoke":
            counts = native.pop("_counts")
            return _json(native, _usage_headers(counts) if self.token_headers else None)
        return self._stream(self._invoke_chunks(model_id, body, native))

    def _stream(self, events: list[bytes]) -> Reply:
        headers = {"Content-Type": "application/vnd.amazon.eventstream"}
        cut = self._take_stream_break()
        if cut is None:
            return Reply(200, headers, events)
        events = events[: cut.after]
        if cut.error is None:
            return Reply(200, headers, events, drop=True)
        error = cut.error
        return Reply(200, headers, [*events, _exception(error["type"], error["message"])])

    # -- usage ---------------------------------------------------------------------------------

    def _counts(self, model_id: str, prompt: Any, system: Any, limit: int) -> dict[str, int]:
        """Input (uncached), cache read/write and output tokens of one request."""
        if self.usage is not None:
            return {"input": 0, "cache_read": 0, "cache_write": 0, "output": 0, **self.usage}
        prompt_tokens = max((count_text(prompt) + count_text(system)) // 4, 1) + 8
        prefix = json.dumps(system)
        prefix_tokens = max(count_text(system) // 4, 0)
        read = write = 0
        if _has_cache_point(system) or _has_cache_point(prompt):
            read = self.cached_tokens(prefix, prefix_tokens, minimum=_CACHE_MINIMUM, step=1)
            write = prefix_tokens if not read and prefix_tokens >= _CACHE_MINIMUM else 0
        output = min(limit, 30 + stable_int(model_id, json.dumps(prompt), modulo=300))
        return {"input": max(prompt_tokens - read - write, 1), "cache_read": read,
                "cache_write": write, "output": output}  # fmt: skip

    # -- Converse ------------------------------------------------------------------------------

    def converse_body(self, model_id: str, body: dict[str, Any]) -> dict[str, Any]:
        limit = int((body.get("inferenceConfig") or {}).get("maxTokens") or 400)
        counts = self._counts(model_id, body.get("messages"), body.get("system"), limit)
        text = text_of(max(counts["output"] * 3 // 4, 1), model_id)
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": "max_tokens" if counts["output"] >= limit else "end_turn",
            "usage": _converse_usage(counts),
            "metrics": {"latencyMs": 120 + stable_int(model_id, modulo=400)},
        }

    def _converse_events(self, model_id: str, body: dict[str, Any]) -> list[bytes]:
        final = self.converse_body(model_id, body)
        pieces = _pieces(final["output"]["message"]["content"][0]["text"], self.stream_chunks)
        events = [_event("messageStart", {"role": "assistant"})]
        events += [
            _event("contentBlockDelta", {"delta": {"text": piece}, "contentBlockIndex": 0})
            for piece in pieces
        ]
        events.append(_event("contentBlockStop", {"contentBlockIndex": 0}))
        events.append(_event("messageStop", {"stopReason": final["stopReason"]}))
        metadata = {"usage": final["usage"], "metrics": final["metrics"]}
        events.append(_event("metadata", metadata))
        return events

    # -- InvokeModel (native bodies) -----------------------------------------------------------

    def invoke_body(self, model_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """The family's native answer, with the counts for the headers under ``_counts``."""
        family = family_of(model_id)
        if family == "anthropic":
            message = self.anthropic.message_body({**body, "model": model_id})
            usage = message["usage"]
            counts = {"input": usage["input_tokens"], "output": usage["output_tokens"],
                      "cache_read": usage.get("cache_read_input_tokens") or 0,
                      "cache_write": usage.get("cache_creation_input_tokens") or 0}  # fmt: skip
            return {**message, "_counts": counts}
        if family == "amazon":
            config = body.get("inferenceConfig") or {}
            limit = int(config.get("maxTokens") or config.get("max_new_tokens") or 400)
            counts = self._counts(model_id, body.get("messages"), body.get("system"), limit)
            text = text_of(max(counts["output"] * 3 // 4, 1), model_id)
            usage = {"inputTokens": counts["input"], "outputTokens": counts["output"],
                     "totalTokens": counts["input"] + counts["output"] + counts["cache_read"]
                     + counts["cache_write"],
                     "cacheReadInputTokenCount": counts["cache_read"],
                     "cacheWriteInputTokenCount": counts["cache_write"]}  # fmt: skip
            return {
                "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
                "stopReason": "max_tokens" if counts["output"] >= limit else "end_turn",
                "usage": usage,
                "_counts": counts,
            }
        if family == "meta":
            limit = int(body.get("max_gen_len") or 400)
            counts = self._counts(model_id, body.get("prompt"), None, limit)
            return {
                "generation": text_of(max(counts["output"] * 3 // 4, 1), model_id),
                "prompt_token_count": counts["input"],
                "generation_token_count": counts["output"],
                "stop_reason": "length" if counts["output"] >= limit else "stop",
                "_counts": counts,
            }
        if family == "mistral":
            limit = int(body.get("max_tokens") or 400)
            prompt = body.get("messages") or body.get("prompt")
            counts = self._counts(model_id, prompt, None, limit)
            text = text_of(max(counts["output"] * 3 // 4, 1), model_id)
            stop = "length" if counts["output"] >= limit else "stop"
            if "messages" not in body:  # Mistral 7B / Mixtral: text completion, no usage
                return {"outputs": [{"text": text, "stop_reason": stop}], "_counts": counts}
            return {
                "id": f"cmpl-{stable_int(model_id, json.dumps(body), modulo=10**12):012d}",
                "object": "chat.completion",
                "created": 1_760_000_000,
                "model": model_id,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                             "finish_reason": stop}],
                "usage": {"prompt_tokens": counts["input"], "completion_tokens": counts["output"],
                          "total_tokens": counts["input"] + counts["output"]},
            } | {"_counts": counts}  # fmt: skip
        raise ValueError(f"FakeBedrock answers no model family {family!r} ({model_id})")

    def _invoke_chunks(self, model_id: str, body: dict[str, Any], final: dict[str, Any]):
        """The family's stream: its own chunk shapes, the last one with
        ``amazon-bedrock-invocationMetrics``."""
        counts = final.pop("_counts")
        metrics = {"amazon-bedrock-invocationMetrics": {
            "inputTokenCount": counts["input"], "outputTokenCount": counts["output"],
            "invocationLatency": 300 + stable_int(model_id, modulo=500),
            "firstByteLatency": 90 + stable_int(model_id, modulo=100),
            "cacheReadInputTokenCount": counts["cache_read"],
            "cacheWriteInputTokenCount": counts["cache_write"],
        }}  # fmt: skip
        family = family_of(model_id)
        chunks: list[dict[str, Any]]
        if family == "anthropic":
            chunks = self.anthropic._stream_events(final)
        elif family == "amazon":
            text = final["output"]["message"]["content"][0]["text"]
            chunks = [{"messageStart": {"role": "assistant"}}]
            chunks += [
                {"contentBlockDelta": {"delta": {"text": piece}, "contentBlockIndex": 0}}
                for piece in _pieces(text, self.stream_chunks)
            ]
            chunks += [
                {"contentBlockStop": {"contentBlockIndex": 0}},
                {"messageStop": {"stopReason": final["stopReason"]}},
                {"metadata": {"usage": final["usage"], "metrics": {}, "trace": {}}},
            ]
        elif family == "meta":
            pieces = _pieces(final["generation"], self.stream_chunks)
            chunks = [
                {"generation": piece,
                 "prompt_token_count": counts["input"] if i == 0 else None,
                 "generation_token_count": (i + 1) * counts["output"] // len(pieces),
                 "stop_reason": final["stop_reason"] if i == len(pieces) - 1 else None}
                for i, piece in enumerate(pieces)
            ]  # fmt: skip
        elif "outputs" in final:
            output = final["outputs"][0]
            pieces = _pieces(output["text"], self.stream_chunks)
            chunks = [{"outputs": [{"text": piece, "stop_reason": None}]} for piece in pieces[:-1]]
            chunks.append({"outputs": [{"text": pieces[-1], "stop_reason": output["stop_reason"]}]})
        else:  # Mistral chat: the message grows by chunk, ``usage`` in the last
            choice = final["choices"][0]
            pieces = _pieces(choice["message"]["content"], self.stream_chunks)
            base = {key: final[key] for key in ("id", "created", "model")}
            chunks = [
                {**base, "object": "chat.completion.chunk",
                 "choices": [{"index": 0, "message": {"role": "assistant", "content": piece},
                              "stop_reason": None}]}
                for piece in pieces
            ]  # fmt: skip
            chunks[-1]["choices"][0]["stop_reason"] = choice["finish_reason"]
            chunks[-1]["usage"] = final["usage"]
        chunks[-1] = {**chunks[-1], **metrics}
        return [_chunk(chunk) for chunk in chunks]


def _json(body: dict[str, Any], headers: dict[str, str] | None = None) -> Reply:
    return Reply(200, {"Content-Type": "application/json", **(headers or {})},
                 [json.dumps(body).encode()])  # fmt: skip


def _usage_headers(counts: dict[str, int]) -> dict[str, str]:
    """The token counts ``InvokeModel`` answers in headers, for every model family."""
    return {
        "X-Amzn-Bedrock-Input-Token-Count": str(counts["input"]),
        "X-Amzn-Bedrock-Output-Token-Count": str(counts["output"]),
        "X-Amzn-Bedrock-Cache-Read-Input-Token-Count": str(counts["cache_read"]),
        "X-Amzn-Bedrock-Cache-Write-Input-Token-Count": str(counts["cache_write"]),
        "X-Amzn-Bedrock-Invocation-Latency": "420",
    }


def _converse_usage(counts: dict[str, int]) -> dict[str, int]:
    """Converse ``usage``: ``inputTokens`` excludes the cache; the total includes it."""
    usage = {"inputTokens": counts["input"], "outputTokens": counts["output"],
             "totalTokens": sum(counts.values())}  # fmt: skip
    if counts["cache_read"] or counts["cache_write"]:
        usage["cacheReadInputTokens"] = counts["cache_read"]
        usage["cacheWriteInputTokens"] = counts["cache_write"]
    return usage


def _anthropic_usage(counts: dict[str, int] | None) -> dict[str, Any] | None:
    """Fixed counts in the Anthropic Messages shape (its input excludes the cache too)."""
    if counts is None:
        return None
    return {"input_tokens": counts.get("input", 0), "output_tokens": counts.get("output", 0),
            "cache_read_input_tokens": counts.get("cache_read", 0),
            "cache_creation_input_tokens": counts.get("cache_write", 0)}  # fmt: skip


def _has_cache_point(value: Any) -> bool:
    if isinstance(value, dict):
        return (
            "cachePoint" in value
            or "cache_control" in value
            or any(_has_cache_point(v) for v in value.values())
        )
    if isinstance(value, list):
        return any(_has_cache_point(v) for v in value)
    return False


def _pieces(text: str, chunks: int | None) -> list[str]:
    words = text.split()
    n = min(chunks or len(words), len(words)) or 1
    return [
        " ".join(words[len(words) * i // n : len(words) * (i + 1) // n]) + " " for i in range(n)
    ]
