"""A fake Gemini API (and Vertex AI's Gemini endpoints): real ``google-genai`` clients talk to
it through a mock transport, so nothing leaves the process. Bodies follow the API's wire
format (camelCase); usage follows the request: prompt length, audio and image parts, implicit
cache hits on repeated long prefixes, thinking tokens for thinking models, tool-use prompt
tokens for built-in tools, function calls that drive automatic function calling, and
continuation over several requests when asked for.

>>> fake = FakeGemini()
>>> client = fake.client()                        # client.models and client.aio.models
>>> client.models.generate_content(model="gemini-2.5-flash", contents="hi").usage_metadata
"""

from __future__ import annotations

import base64
import json
from collections import deque
from typing import Any

from ._common import FakeServer, count_text, stable_int, text_of

BASE_URL = "https://generativelanguage.googleapis.com/"
#: models that think before they answer (unless ``thinkingBudget`` is 0)
_THINKING_PREFIXES = ("gemini-2.5", "gemini-3")
#: a prefix is served from the implicit cache from this many tokens on
_CACHE_MINIMUM = 1024
#: tokens per inline image or document, and audio tokens per 1000 bytes (the API counts 32
#: per second of audio)
_IMAGE_TOKENS = 258
_AUDIO_BYTES_PER_TOKEN = 1000
#: prompt tokens that a built-in tool's results add (search results, code output)
_TOOL_USE_TOKENS = {"googleSearch": 180, "google_search": 180, "codeExecution": 90,
                    "code_execution": 90, "urlContext": 240, "url_context": 240}  # fmt: skip
_STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
                 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}  # fmt: skip
#: a streamed chunk carries about this many words, as the API's do
_WORDS_PER_CHUNK = 20
_TRAFFIC_TYPES = {"flex": "ON_DEMAND_FLEX", "priority": "ON_DEMAND_PRIORITY"}


class FakeGemini(FakeServer):
    """Answers ``generateContent``, ``streamGenerateContent`` (SSE), ``countTokens``,
    ``batchEmbedContents``, ``embedContent`` and Vertex ``predict``.

    ``usage`` fixes the ``usageMetadata`` of every answer (wire format) instead of deriving it;
    ``stream_chunks`` fixes how many chunks a stream has; ``tool_rounds`` is how many times the
    model calls a declared function before it answers (counted from the function responses
    already in the conversation); ``continuation_hops`` splits each answer over that many
    requests (``finishReason: CONTINUATION`` and a ``continuationToken``); ``embed_usage``
    says whether embeddings report ``usageMetadata``.
    """

    sdk_base_client = "google.genai._api_client"
    #: the API key its clients send (set another on an instance to look for it elsewhere)
    api_key = "fake-gemini-key-for-tests"

    def __init__(
        self,
        *,
        latency: float = 0.0,
        usage: dict[str, Any] | None = None,
        stream_chunks: int | None = None,
        tool_rounds: int = 1,
        continuation_hops: int = 1,
        embed_usage: bool = True,
    ) -> None:
        super().__init__(latency=latency)
        self.usage = usage
        self.stream_chunks = stream_chunks
        self.tool_rounds = tool_rounds
        self.continuation_hops = continuation_hops
        self.embed_usage = embed_usage
        #: streams that fail after this many chunks (``break_next_stream``)
        self._broken_streams: deque[tuple[int, int]] = deque()

    def reset(self) -> None:
        super().reset()
        self._broken_streams.clear()

    # -- clients -------------------------------------------------------------------------------

    def http_options(self, **kwargs: Any) -> Any:
        """``HttpOptions`` whose sync and async clients talk to this fake (passing an async
        client also keeps the SDK off aiohttp)."""
        from google.genai import types

        http = self.http()
        transport = http.MockTransport(self.handler)
        if "httpx_client" in types.HttpOptions.model_fields:
            clients = {
                "httpx_client": http.Client(transport=transport),
                "httpx_async_client": http.AsyncClient(transport=transport),
            }
        else:  # before 1.47 the SDK builds its clients from these arguments
            clients = {
                "client_args": {"transport": transport},
                "async_client_args": {"transport": transport},
            }
        return types.HttpOptions(**clients, **kwargs)

    def client(self, *, vertexai: bool = False, **http_options: Any) -> Any:
        """A ``genai.Client`` (its ``.aio`` is the async client): the Gemini API with an API
        key, or Vertex AI with ``vertexai=True``."""
        from google import genai

        options = self.http_options(**http_options)
        if vertexai:
            return genai.Client(
                vertexai=True,
                project="fake-project",
                location="us-central1",
                credentials=_credentials(),
                http_options=options,
            )
        return genai.Client(api_key=self.api_key, http_options=options)

    def break_next_stream(self, after: int = 1, status: int = 503) -> None:
        """The next stream sends ``after`` chunks, then an error event."""
        self._broken_streams.append((after, status))

    def error_body(self, status: int) -> dict[str, Any]:
        name = _STATUS_NAMES.get(status, "UNKNOWN")
        return {"error": {"code": status, "message": f"fake error {status}", "status": name}}

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
        model = _model_of(path)
        vertex = "/projects/" in path
        if path.endswith(":generateContent"):
            return http.Response(200, json=self.generate_body(model, body, vertex=vertex))
        if path.endswith(":streamGenerateContent"):
            return self._stream(http, model, body, vertex)
        if path.endswith(":countTokens"):
            tokens = self._prompt(body)["total"]
            return http.Response(200, json={"totalTokens": tokens})
        if path.endswith(":batchEmbedContents"):
            return http.Response(200, json=self._embeddings(body.get("requests") or []))
        if path.endswith(":embedContent"):
            return http.Response(200, json=self._embed_one(body))
        if path.endswith(":predict"):
            return http.Response(200, json=self._predict(body))
        return http.Response(404, json=self.error_body(404))

    # generateContent

    def _prompt(self, body: dict[str, Any]) -> dict[str, int]:
        """Prompt tokens by modality, and how many of them the implicit cache serves."""
        text = audio = image = 0
        contents = body.get("contents") or []
        for content in contents:
            for part in content.get("parts") or []:
                blob = part.get("inlineData") or part.get("inline_data")
                if blob:
                    mime = str(blob.get("mimeType") or blob.get("mime_type") or "")
                    size = len(base64.b64decode(blob.get("data") or ""))
                    if mime.startswith("audio/"):
                        audio += max(size // _AUDIO_BYTES_PER_TOKEN, 1)
                    else:
                        image += _IMAGE_TOKENS
                elif part.get("text"):
                    text += max(count_text(part) // 4, 1)
                else:  # function calls and responses
                    text += len(json.dumps(part)) // 4
        system = body.get("systemInstruction") or body.get("system_instruction")
        prefix_text = max(count_text(system) // 4, 0) if system else 0
        tools = body.get("tools") or []
        text += prefix_text + len(json.dumps(tools)) // 8 + 3 * len(contents)
        # the implicit cache holds a long prefix seen before: the system instruction and
        # every turn but the last
        prefix = json.dumps([system, tools, contents[:-1]])
        prefix_tokens = prefix_text + sum(
            max(count_text(c) // 4, 1) for c in contents[:-1]
        )  # fmt: skip
        cached = self.cached_tokens(prefix, prefix_tokens, minimum=_CACHE_MINIMUM, step=1)
        return {
            "text": text,
            "audio": audio,
            "image": image,
            "total": text + audio + image,
            "cached": cached,
        }

    def usage_metadata(self, model: str, body: dict[str, Any], vertex: bool) -> dict[str, Any]:
        if self.usage is not None:
            return dict(self.usage)
        prompt = self._prompt(body)
        config = body.get("generationConfig") or {}
        limit = config.get("maxOutputTokens") or config.get("max_output_tokens") or 400
        contents = body.get("contents") or []
        candidates = min(int(limit), 40 + stable_int(model, json.dumps(contents), modulo=360))
        thinking = config.get("thinkingConfig") or config.get("thinking_config") or {}
        budget = thinking.get("thinkingBudget", thinking.get("thinking_budget"))
        thoughts = 0
        if model.startswith(_THINKING_PREFIXES) and budget != 0:
            thoughts = candidates * 2 + stable_int(model, len(contents), modulo=200)
            if isinstance(budget, int) and budget > 0:
                thoughts = min(thoughts, budget)
        tool_use = sum(
            _TOOL_USE_TOKENS.get(key, 0) for tool in body.get("tools") or [] for key in tool
        )
        usage: dict[str, Any] = {
            "promptTokenCount": prompt["total"],
            "candidatesTokenCount": candidates,
            "totalTokenCount": prompt["total"] + candidates + thoughts + tool_use,
            "promptTokensDetails": [
                {"modality": modality, "tokenCount": prompt[key]}
                for modality, key in (("TEXT", "text"), ("AUDIO", "audio"), ("IMAGE", "image"))
                if prompt[key]
            ],
            "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": candidates}],
        }
        if thoughts:
            usage["thoughtsTokenCount"] = thoughts
        if tool_use:
            usage["toolUsePromptTokenCount"] = tool_use
            usage["toolUsePromptTokensDetails"] = [{"modality": "TEXT", "tokenCount": tool_use}]
        if prompt["cached"]:
            usage["cachedContentTokenCount"] = prompt["cached"]
            usage["cacheTokensDetails"] = [{"modality": "TEXT", "tokenCount": prompt["cached"]}]
        if vertex:
            tier = str(body.get("serviceTier") or "").lower()
            usage["trafficType"] = _TRAFFIC_TYPES.get(tier, "ON_DEMAND")
        return usage

    def _function_call(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """The model calls the first declared function until ``tool_rounds`` calls were
        answered in this conversation."""
        declarations = [
            declaration
            for tool in body.get("tools") or []
            for declaration in tool.get("functionDeclarations")
            or tool.get("function_declarations")
            or []
        ]
        if not declarations:
            return None
        answered = sum(
            1
            for content in body.get("contents") or []
            for part in content.get("parts") or []
            if part.get("functionResponse") or part.get("function_response")
        )
        if answered >= self.tool_rounds:
            return None
        declaration = declarations[0]
        schema = (
            declaration.get("parametersJsonSchema")
            or declaration.get("parameters_json_schema")
            or declaration.get("parameters")
            or {}
        )
        args = {
            name: _example(str(spec.get("type", "string")))
            for name, spec in (schema.get("properties") or {}).items()
        }
        return {"functionCall": {"name": declaration["name"], "args": args}}

    def _hop(self, body: dict[str, Any]) -> int:
        token = body.get("continuationToken") or body.get("continuation_token")
        if not token:
            return 1
        return int(base64.b64decode(token).decode().rsplit("-", 1)[1]) + 1

    def generate_body(self, model: str, body: dict[str, Any], *, vertex: bool = False):
        usage = self.usage_metadata(model, body, vertex)
        call = self._function_call(body)
        hop = self._hop(body)
        candidate: dict[str, Any] = {"index": 0, "finishReason": "STOP"}
        if call is not None:
            candidate["content"] = {"role": "model", "parts": [call]}
        else:
            words = max(usage.get("candidatesTokenCount", 1) * 3 // 4, 1)
            candidate["content"] = {"role": "model", "parts": [{"text": text_of(words, model)}]}
            if hop < self.continuation_hops:
                candidate["finishReason"] = "CONTINUATION"
                candidate["continuationToken"] = base64.b64encode(f"hop-{hop}".encode()).decode()
        return {
            "candidates": [candidate],
            "usageMetadata": usage,
            "modelVersion": model,
            "responseId": f"resp-{self._serial(body)}",
            **({"createTime": "2026-11-22T10:00:00Z"} if vertex else {}),
        }

    def _serial(self, body: dict[str, Any]) -> str:
        return f"{stable_int(json.dumps(body), len(self.requests), modulo=10**12):012d}"

    def _stream(self, http: Any, model: str, body: dict[str, Any], vertex: bool) -> Any:
        final = self.generate_body(model, body, vertex=vertex)
        candidate = final["candidates"][0]
        usage = final["usageMetadata"]
        parts = candidate["content"]["parts"]
        if "text" in parts[0]:
            words = parts[0]["text"].split()
            n = min(self.stream_chunks or max(len(words) // _WORDS_PER_CHUNK, 1), len(words))
            pieces = [
                " ".join(words[len(words) * i // n : len(words) * (i + 1) // n]) + " "
                for i in range(n)
            ]
        else:
            pieces = [None]  # a function call arrives in one chunk
        chunks: list[dict[str, Any]] = []
        base = {key: final[key] for key in ("modelVersion", "responseId")}
        prompt = usage.get("promptTokenCount", 0)
        candidates = usage.get("candidatesTokenCount", 0)
        thoughts = usage.get("thoughtsTokenCount", 0)
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            content = {"role": "model", "parts": [{"text": piece}] if piece else parts}
            chunk_candidate: dict[str, Any] = {"index": 0, "content": content}
            if last:
                chunk_candidate.update(
                    {k: v for k, v in candidate.items() if k not in ("content", "index")}
                )
                chunk_usage = usage
            else:  # the server's running total so far (thinking happens before the answer)
                so_far = candidates * (i + 1) // len(pieces)
                chunk_usage = {
                    "promptTokenCount": prompt,
                    "candidatesTokenCount": so_far,
                    "totalTokenCount": prompt + so_far + thoughts,
                    **({"thoughtsTokenCount": thoughts} if thoughts else {}),
                }
            chunks.append({**base, "candidates": [chunk_candidate], "usageMetadata": chunk_usage})
        if self._broken_streams:  # the stream breaks off with an error event
            after, status = self._broken_streams.popleft()
            chunks = [*chunks[:after], self.error_body(status)]
        text = "".join(f"data: {json.dumps(chunk)}\r\n\r\n" for chunk in chunks)
        return http.Response(200, text=text, headers={"content-type": "text/event-stream"})

    # embeddings

    def _embedding(self, content: Any, i: int) -> tuple[dict[str, Any], int]:
        tokens = max(count_text(content) // 4, 1)
        return {"values": [round(0.01 * (i + 1), 4)] * 8}, tokens

    def _embeddings(self, requests: list[dict[str, Any]]) -> dict[str, Any]:
        embedded = [self._embedding(r.get("content"), i) for i, r in enumerate(requests)]
        body: dict[str, Any] = {"embeddings": [values for values, _ in embedded]}
        if self.embed_usage:
            tokens = sum(t for _, t in embedded)
            body["usageMetadata"] = {"promptTokenCount": tokens, "totalTokenCount": tokens}
        return body

    def _embed_one(self, body: dict[str, Any]) -> dict[str, Any]:
        values, tokens = self._embedding(body.get("content"), 0)
        answer: dict[str, Any] = {"embedding": values}
        if self.embed_usage:
            answer["usageMetadata"] = {"promptTokenCount": tokens, "totalTokenCount": tokens}
        return answer

    def _predict(self, body: dict[str, Any]) -> dict[str, Any]:
        predictions = []
        for i, instance in enumerate(body.get("instances") or []):
            values, tokens = self._embedding(instance, i)
            statistics = {"token_count": tokens, "truncated": False}
            predictions.append({"embeddings": {**values, "statistics": statistics}})
        return {"predictions": predictions, "metadata": {"billableCharacterCount": 0}}


def _model_of(path: str) -> str:
    """``/v1/models/gemini-2.5-flash:generateContent`` (or a Vertex publisher path) →
    ``gemini-2.5-flash``."""
    return path.rsplit("/", 1)[-1].split(":", 1)[0]


def _credentials() -> Any:
    """Credentials for a Vertex AI client that need no Google account."""
    from google.auth.credentials import Credentials

    class FakeCredentials(Credentials):
        def refresh(self, request: Any) -> None:
            self.token = "fake-vertex-token"

    return FakeCredentials()


def _example(kind: str) -> Any:
    return {"integer": 2, "number": 1.5, "boolean": True}.get(kind.lower(), "Paris")
