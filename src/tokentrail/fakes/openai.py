"""A fake OpenAI API: real ``openai`` clients talk to it through a mock transport, so nothing
leaves the process. Bodies follow the API's documented shapes; usage follows the request
(prompt length, ``max_tokens``), with prompt-cache hits on repeated long prefixes and
reasoning tokens for reasoning models.

>>> fake = FakeOpenAI()
>>> client = fake.client()
>>> client.chat.completions.create(model="gpt-4o-mini", messages=[...]).usage
"""

from __future__ import annotations

import json
import re
from typing import Any

from ._common import FakeServer, broken_body, count_text, stable_int, structured_json, text_of

BASE_URL = "https://api.openai.com/v1"
AZURE_ENDPOINT = "https://fake-resource.openai.azure.com"
AZURE_API_VERSION = "2024-10-21"

#: what the API answers in ``model`` for an alias
SNAPSHOTS = {
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "o3-mini": "o3-mini-2025-01-31",
    "o4-mini": "o4-mini-2025-04-16",
    "gpt-5": "gpt-5-2025-08-07",
    "gpt-5-mini": "gpt-5-mini-2025-08-07",
}
_REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")
#: how OpenAI-compatible hosts send the usage of a chat stream, as they document it (any other
#: host does as OpenAI does: a last chunk of its own, only with ``stream_options.include_usage``)
#: - ``finish``: always, on the chunk that finishes
#: - ``chunk``: always, a last chunk of its own (``choices == []``)
#: - ``x_groq``: always, in ``x_groq.usage`` of the chunk that finishes
STREAM_USAGE_BY_HOST = {
    "api.groq.com": "x_groq",
    "api.together.xyz": "finish",
    "api.together.ai": "finish",
    "api.fireworks.ai": "finish",
    "api.mistral.ai": "finish",
    "openrouter.ai": "chunk",
}


class FakeOpenAI(FakeServer):
    """Answers chat completions, responses, embeddings and legacy completions.

    ``usage`` fixes the usage object of every answer (OpenAI wire format, chat shape) instead
    of deriving it from the request; ``stream_chunks`` fixes how many content chunks a stream
    has; ``deployments`` maps Azure deployment names to the models they serve (Azure answers
    with the model's name). A ``response_format``/``text.format`` JSON schema is answered with
    JSON that matches it, so ``.parse()`` works.
    """

    sdk_base_client = "openai._base_client"
    #: the API key its clients send (set another on an instance to look for it elsewhere)
    api_key = "sk-fake-key-for-tests"

    def __init__(
        self,
        *,
        latency: float = 0.0,
        usage: dict[str, Any] | None = None,
        stream_chunks: int | None = None,
        deployments: dict[str, str] | None = None,
    ) -> None:
        super().__init__(latency=latency)
        self.usage = usage
        self.stream_chunks = stream_chunks
        self.deployments = dict(deployments or {})

    # -- clients -------------------------------------------------------------------------------

    def transport(self, asynchronous: bool = False) -> Any:
        http = self.http()
        return http.MockTransport(self.handler)

    def client(self, *, base_url: str = BASE_URL, **kwargs: Any) -> Any:
        import openai

        http = self.http()
        return openai.OpenAI(
            api_key=self.api_key,
            base_url=base_url,
            http_client=http.Client(transport=http.MockTransport(self.handler)),
            max_retries=0,
            **kwargs,
        )

    def async_client(self, *, base_url: str = BASE_URL, **kwargs: Any) -> Any:
        import openai

        http = self.http()
        return openai.AsyncOpenAI(
            api_key=self.api_key,
            base_url=base_url,
            http_client=http.AsyncClient(transport=http.MockTransport(self.handler)),
            max_retries=0,
            **kwargs,
        )

    def azure_client(
        self, *, azure_endpoint: str = AZURE_ENDPOINT, asynchronous: bool = False, **kwargs: Any
    ) -> Any:
        """An ``AzureOpenAI`` (or ``AsyncAzureOpenAI``) client; ``model`` is the deployment."""
        import openai

        http = self.http()
        client_class, http_client = (
            (openai.AsyncAzureOpenAI, http.AsyncClient)
            if asynchronous
            else (openai.AzureOpenAI, http.Client)
        )
        return client_class(
            api_key="fake-azure-key-for-tests",
            api_version=AZURE_API_VERSION,
            azure_endpoint=azure_endpoint,
            http_client=http_client(transport=http.MockTransport(self.handler)),
            max_retries=0,
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
        deployment = _DEPLOYMENT.search(path)
        if deployment and "model" in body:  # Azure answers with the deployment's model
            body = {**body, "model": self.deployments.get(deployment.group(1), body["model"])}
        if path.endswith("/chat/completions"):
            return self._chat(http, body, STREAM_USAGE_BY_HOST.get(request.url.host))
        if path.endswith("/responses"):
            return self._responses(http, body)
        if path.endswith("/embeddings"):
            return http.Response(200, json=self.embeddings_body(body))
        if path.endswith("/completions"):
            return self._legacy(http, body)
        return http.Response(
            404, json={"error": {"message": f"no route {path}", "type": "invalid_request_error"}}
        )

    def _sse(self, http: Any, events: list[tuple[str | None, dict[str, Any]]]) -> Any:
        headers = {"content-type": "text/event-stream"}
        cut = self._take_stream_break()
        if cut is not None:
            events = events[: cut.after]
            if cut.error is None:  # the connection drops
                parts = [_event_text(name, data).encode() for name, data in events]
                error = http.ReadError("peer closed connection without sending complete body")
                return http.Response(200, headers=headers, stream=broken_body(http, parts, error))
            events = [*events, (None, cut.error)]
        text = "".join(_event_text(name, data) for name, data in events)
        if cut is None and events and events[0][0] is None:
            text += "data: [DONE]\n\n"
        return http.Response(200, text=text, headers=headers)

    def _serial(self, body: dict[str, Any]) -> str:
        # what the answer is about, not how it is delivered: asking for usage in a stream (as
        # tokentrail does) does not change the ids the caller sees
        content = {k: v for k, v in body.items() if k != "stream_options"}
        return f"{stable_int(json.dumps(content), len(self.requests), modulo=10**12):012d}"

    # chat completions

    def chat_usage(self, body: dict[str, Any], prompt_key: str = "messages") -> dict[str, Any]:
        if self.usage is not None:
            return self.usage
        model = str(body.get("model", ""))
        prompt = body.get(prompt_key)
        prompt_tokens = max(count_text(prompt) // 4, 1) + 3 * (
            len(prompt) if isinstance(prompt, list) else 1
        )
        first = prompt[0] if isinstance(prompt, list) and prompt else prompt
        cached = self.cached_tokens(json.dumps(first), prompt_tokens, minimum=1024, step=128)
        limit = body.get("max_completion_tokens") or body.get("max_tokens") or 400
        completion = min(int(limit), 40 + stable_int(model, json.dumps(prompt), modulo=360))
        reasoning = completion * 2 // 3 if model.startswith(_REASONING_PREFIXES) else 0
        return {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": prompt_tokens + completion,
            "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": reasoning,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    def chat_body(self, body: dict[str, Any]) -> dict[str, Any]:
        usage = self.chat_usage(body)
        model = str(body.get("model", ""))
        visible = usage["completion_tokens"] - _reasoning(usage)
        return {
            "id": f"chatcmpl-{self._serial(body)}",
            "object": "chat.completion",
            "created": 1_760_000_000,
            "model": SNAPSHOTS.get(model, model),
            "service_tier": "default",
            "system_fingerprint": "fp_fake",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "logprobs": None,
                    "message": {
                        "role": "assistant",
                        "content": structured_json(body.get("response_format"))
                        or text_of(max(visible * 3 // 4, 1), model),
                        "refusal": None,
                        "annotations": [],
                    },
                }
            ],
            "usage": usage,
        }

    def _chat(self, http: Any, body: dict[str, Any], unasked_usage: str | None = None) -> Any:
        completion = self.chat_body(body)
        if not body.get("stream"):
            return http.Response(200, json=completion)
        base = {
            key: completion[key]
            for key in ("id", "created", "model", "service_tier", "system_fingerprint")
        }
        base["object"] = "chat.completion.chunk"
        words = completion["choices"][0]["message"]["content"].split()
        n = self.stream_chunks or len(words)
        pieces = (
            [" ".join(words[i::n]) for i in range(n)]
            if n <= len(words)
            else [words[i % len(words)] for i in range(n)]
        )
        chunks: list[tuple[str | None, dict[str, Any]]] = [
            (
                None,
                {
                    **base,
                    "choices": [
                        {
                            "index": 0,
                            "delta": {"role": "assistant", "content": ""},
                            "finish_reason": None,
                            "logprobs": None,
                        }
                    ],
                    "usage": None,
                },
            )
        ]
        for piece in pieces:
            chunks.append(
                (
                    None,
                    {
                        **base,
                        "choices": [
                            {
                                "index": 0,
                                "delta": {"content": piece + " "},
                                "finish_reason": None,
                                "logprobs": None,
                            }
                        ],
                        "usage": None,
                    },
                )
            )
        finish: dict[str, Any] = {
            **base,
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop", "logprobs": None}],
            "usage": completion["usage"] if unasked_usage == "finish" else None,
        }
        if unasked_usage == "x_groq":
            finish["x_groq"] = {"id": f"req_{self._serial(body)}", "usage": completion["usage"]}
        chunks.append((None, finish))
        options = body.get("stream_options") or {}
        if options.get("include_usage") or unasked_usage == "chunk":
            chunks.append((None, {**base, "choices": [], "usage": completion["usage"]}))
        return self._sse(http, chunks)

    # responses

    def response_body(self, body: dict[str, Any], status: str = "completed") -> dict[str, Any]:
        chat = self.chat_usage(body, prompt_key="input")
        model = str(body.get("model", ""))
        text = structured_json((body.get("text") or {}).get("format")) or text_of(
            max((chat["completion_tokens"] - _reasoning(chat)) * 3 // 4, 1), model
        )
        return {
            "id": f"resp_{self._serial(body)}",
            "object": "response",
            "created_at": 1_760_000_000,
            "status": status,
            "model": SNAPSHOTS.get(model, model),
            "output": [
                {
                    "type": "message",
                    "id": "msg_1",
                    "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": text, "annotations": []}],
                }
            ],
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "service_tier": "default",
            "usage": {
                "input_tokens": chat["prompt_tokens"],
                "output_tokens": chat["completion_tokens"],
                "total_tokens": chat["total_tokens"],
                "input_tokens_details": {
                    key: value
                    for key, value in (chat.get("prompt_tokens_details") or {}).items()
                    if key in ("cached_tokens", "cache_write_tokens")
                },
                "output_tokens_details": {"reasoning_tokens": _reasoning(chat)},
            },
        }

    def _responses(self, http: Any, body: dict[str, Any]) -> Any:
        final = self.response_body(body)
        if not body.get("stream"):
            return http.Response(200, json=final)
        text = final["output"][0]["content"][0]["text"]
        words = text.split()
        n = self.stream_chunks or len(words)
        item = {
            "type": "message",
            "id": "msg_1",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        events = [
            {
                "type": "response.created",
                "response": {**final, "status": "in_progress", "output": [], "usage": None},
            },
            {"type": "response.output_item.added", "output_index": 0, "item": item},
            {
                "type": "response.content_part.added",
                "item_id": "msg_1",
                "output_index": 0,
                "content_index": 0,
                "part": {"type": "output_text", "text": "", "annotations": []},
            },
        ]
        for i in range(n):
            events.append(
                {
                    "type": "response.output_text.delta",
                    "item_id": "msg_1",
                    "output_index": 0,
                    "content_index": 0,
                    "delta": words[i % len(words)] + " ",
                    "logprobs": [],
                }
            )
        events += [
            {
                "type": "response.output_text.done",
                "item_id": "msg_1",
                "output_index": 0,
                "content_index": 0,
                "text": text,
                "logprobs": [],
            },
            {"type": "response.output_item.done", "output_index": 0, "item": final["output"][0]},
            {"type": "response.completed", "response": final},
        ]
        return self._sse(
            http, [(e["type"], {**e, "sequence_number": i}) for i, e in enumerate(events)]
        )

    # embeddings and legacy completions

    def embeddings_body(self, body: dict[str, Any]) -> dict[str, Any]:
        inputs = body.get("input")
        items = inputs if isinstance(inputs, list) else [inputs]
        tokens = (
            max(count_text(items) // 4, 1) if self.usage is None else self.usage["prompt_tokens"]
        )
        return {
            "object": "list",
            "model": str(body.get("model", "")),
            "data": [
                {"object": "embedding", "index": i, "embedding": [0.01 * (i + 1)] * 8}
                for i in range(len(items))
            ],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    def _legacy(self, http: Any, body: dict[str, Any]) -> Any:
        usage = self.chat_usage(body, prompt_key="prompt")
        model = str(body.get("model", ""))
        base = {
            "id": "cmpl-1",
            "object": "text_completion",
            "created": 1_760_000_000,
            "model": model,
        }
        text = text_of(max(usage["completion_tokens"] * 3 // 4, 1), model)
        if not body.get("stream"):
            return http.Response(
                200,
                json={
                    **base,
                    "usage": usage,
                    "choices": [
                        {"index": 0, "text": text, "finish_reason": "length", "logprobs": None}
                    ],
                },
            )
        chunks: list[tuple[str | None, dict[str, Any]]] = [
            (
                None,
                {
                    **base,
                    "choices": [
                        {"index": 0, "text": word + " ", "finish_reason": None, "logprobs": None}
                    ],
                },
            )
            for word in text.split()[: self.stream_chunks or None]
        ]
        chunks.append(
            (
                None,
                {
                    **base,
                    "choices": [
                        {"index": 0, "text": "", "finish_reason": "length", "logprobs": None}
                    ],
                },
            )
        )
        if (body.get("stream_options") or {}).get("include_usage"):
            chunks.append((None, {**base, "choices": [], "usage": usage}))
        return self._sse(http, chunks)


def _reasoning(usage: dict[str, Any]) -> int:
    return (usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0


_DEPLOYMENT = re.compile(r"/deployments/([^/]+)/")


def _event_text(name: str | None, data: dict[str, Any]) -> str:
    return (f"event: {name}\n" if name else "") + f"data: {json.dumps(data)}\n\n"
