"""Pure functions from openai SDK objects to tokentrail's ``Request``/``Response``/``Usage``.

Nothing here touches OpenTelemetry. Every field the SDK may leave out, set to ``None`` or to
its ``NOT_GIVEN``/``omit`` sentinels is read defensively: those are all "unknown".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ...telemetry import semconv as sc
from ...telemetry.records import Response
from ...usage import Usage

__all__ = [
    "Endpoint",
    "chat_usage",
    "endpoint_of",
    "responses_usage",
]

_PROVIDER_BY_HOST = {
    "api.openai.com": sc.PROVIDER_OPENAI,
    "api.groq.com": "groq",
    "api.deepseek.com": "deepseek",
    "api.x.ai": "x_ai",
    "api.mistral.ai": "mistral_ai",
    "api.perplexity.ai": "perplexity",
    "generativelanguage.googleapis.com": sc.PROVIDER_GCP_GEMINI,
}
_AZURE_SUFFIXES = (".openai.azure.com", ".cognitiveservices.azure.com", ".services.ai.azure.com")
_RUNTIME_PROVIDERS = {"vertex": sc.PROVIDER_GCP_VERTEX_AI, "bedrock": sc.PROVIDER_AWS_BEDROCK}
#: hosts known to accept ``stream_options={"include_usage": true}``
_STREAM_USAGE_HOSTS = {"api.openai.com"}


class Endpoint:
    """Who serves a client's requests."""

    __slots__ = ("accepts_stream_usage", "address", "port", "provider")

    def __init__(self, provider: str, address: str | None, port: int | None, accepts: bool):
        self.provider = provider
        self.address = address
        self.port = port
        self.accepts_stream_usage = accepts


_endpoints: dict[int, tuple[Any, frozenset[str], Endpoint]] = {}


def endpoint_of(client: Any, extra_stream_usage_hosts: frozenset[str]) -> Endpoint:
    """The endpoint of an ``OpenAI``/``AzureOpenAI`` client, cached per base URL object and
    allow-list (a new ``instrument()`` may bring another list)."""
    url = getattr(client, "base_url", None)
    cached = _endpoints.get(id(url))
    if cached is not None and cached[0] is url and cached[1] is extra_stream_usage_hosts:
        return cached[2]
    endpoint = _read_endpoint(client, url, extra_stream_usage_hosts)
    if len(_endpoints) > 512:
        _endpoints.clear()
    _endpoints[id(url)] = (url, extra_stream_usage_hosts, endpoint)
    return endpoint


def _read_endpoint(client: Any, url: Any, extra_hosts: frozenset[str]) -> Endpoint:
    host = (getattr(url, "host", None) or "").lower() or None
    scheme = getattr(url, "scheme", "https")
    port = getattr(url, "port", None) or (443 if scheme == "https" else 80 if scheme else None)
    runtime = getattr(getattr(client, "_provider_runtime", None), "name", None)
    if _is_azure(client) or (host and host.endswith(_AZURE_SUFFIXES)):
        provider = sc.PROVIDER_AZURE_OPENAI
        accepts = True
    elif runtime in _RUNTIME_PROVIDERS:
        provider, accepts = _RUNTIME_PROVIDERS[runtime], False
    else:
        provider = _PROVIDER_BY_HOST.get(host or "", sc.PROVIDER_OPENAI)
        accepts = host in _STREAM_USAGE_HOSTS
    accepts = accepts or "*" in extra_hosts or (host in extra_hosts if host else False)
    return Endpoint(provider, host, port, accepts)


def _is_azure(client: Any) -> bool:
    try:
        from openai.lib.azure import BaseAzureClient
    except ImportError:  # pragma: no cover - every supported openai has it
        return False
    return isinstance(client, BaseAzureClient)


# -- request fields --------------------------------------------------------------------------


def given_int(value: Any) -> int | None:
    """An int argument, or None for absent/None/NOT_GIVEN/omit."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def given_float(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def given_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# -- usage -----------------------------------------------------------------------------------


def _int(obj: Any, name: str) -> int:
    value = getattr(obj, name, None) if obj is not None else None
    return value if isinstance(value, int) else 0


def chat_usage(usage: Any) -> Usage | None:
    """``CompletionUsage`` (chat and legacy completions) → ``Usage``. ``prompt_tokens``
    already includes cached tokens, ``completion_tokens`` includes reasoning tokens."""
    if usage is None:
        return None
    prompt = getattr(usage, "prompt_tokens_details", None)
    completion = getattr(usage, "completion_tokens_details", None)
    details = []
    if audio_in := _int(prompt, "audio_tokens"):
        details.append(("input_audio_tokens", audio_in))
    if audio_out := _int(completion, "audio_tokens"):
        details.append(("output_audio_tokens", audio_out))
    return Usage(
        input_tokens=_int(usage, "prompt_tokens"),
        output_tokens=_int(usage, "completion_tokens"),
        cache_read_tokens=_int(prompt, "cached_tokens"),
        cache_write_tokens=_int(prompt, "cache_write_tokens"),
        reasoning_tokens=_int(completion, "reasoning_tokens"),
        details=tuple(details),
    )


def responses_usage(usage: Any, tool_usage: Any = None) -> Usage | None:
    """``ResponseUsage`` (Responses API) → ``Usage``; web searches from ``tool_usage``."""
    if usage is None:
        return None
    inputs = getattr(usage, "input_tokens_details", None)
    outputs = getattr(usage, "output_tokens_details", None)
    web_search = getattr(tool_usage, "web_search", None) if tool_usage is not None else None
    return Usage(
        input_tokens=_int(usage, "input_tokens"),
        output_tokens=_int(usage, "output_tokens"),
        cache_read_tokens=_int(inputs, "cached_tokens"),
        cache_write_tokens=_int(inputs, "cache_write_tokens"),
        reasoning_tokens=_int(outputs, "reasoning_tokens"),
        web_search_requests=_int(web_search, "num_requests"),
    )


def embeddings_usage(usage: Any) -> Usage | None:
    if usage is None:
        return None
    return Usage(input_tokens=_int(usage, "prompt_tokens"))


def price_context(service_tier: Any) -> tuple[tuple[str, str], ...]:
    """The response's service tier selects a price variant (flex, priority ...)."""
    return (("service_tier", service_tier),) if isinstance(service_tier, str) else ()


def finish_reasons(choices: Any) -> tuple[str, ...] | None:
    if not choices:
        return None
    reasons = tuple(c.finish_reason for c in choices if getattr(c, "finish_reason", None))
    return reasons or None


def responses_finish_reason(response: Any) -> tuple[str, ...] | None:
    details = getattr(response, "incomplete_details", None)
    reason = getattr(details, "reason", None) or getattr(response, "status", None)
    return (reason,) if isinstance(reason, str) else None


# -- content capture (only with capture_content=True) ---------------------------------------


def _parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    parts = []
    if isinstance(content, (list, tuple)):
        for part in content:
            if isinstance(part, Mapping):
                text = part.get("text")
                if isinstance(text, str):
                    parts.append({"type": "text", "content": text})
                else:
                    parts.append({"type": str(part.get("type", "unknown"))})
    return parts


def input_messages(messages: Any) -> str | None:
    """Chat ``messages`` or Responses ``input`` as the semconv ``gen_ai.input.messages`` JSON."""
    if isinstance(messages, str):
        return json.dumps([{"role": "user", "parts": _parts(messages)}])
    if not isinstance(messages, (list, tuple)):
        return None
    out = []
    for message in messages:
        if isinstance(message, str):  # a batch of prompts or embedding inputs
            out.append({"role": "user", "parts": _parts(message)})
        elif isinstance(message, Mapping):
            out.append(
                {"role": str(message.get("role", "user")), "parts": _parts(message.get("content"))}
            )
    return json.dumps(out, ensure_ascii=False) if out else None


def output_messages(choices: Any) -> str | None:
    out = []
    for choice in choices or ():
        message = getattr(choice, "message", None)
        # chat choices carry a message; legacy completion choices carry the text itself
        content = getattr(message, "content", None) if message else getattr(choice, "text", None)
        out.append(
            {
                "role": getattr(message, "role", "assistant") or "assistant",
                "parts": _parts(content) if content else [],
                "finish_reason": getattr(choice, "finish_reason", None) or "",
            }
        )
    return json.dumps(out, ensure_ascii=False) if out else None


def responses_output_messages(response: Any) -> str | None:
    text = getattr(response, "output_text", None)
    if not isinstance(text, str):
        return None
    return json.dumps([{"role": "assistant", "parts": _parts(text)}], ensure_ascii=False)


# -- responses -------------------------------------------------------------------------------


def chat_response(completion: Any, *, capture_content: bool) -> Response:
    """``ChatCompletion`` / ``ParsedChatCompletion`` / legacy ``Completion``."""
    choices = getattr(completion, "choices", None)
    attributes = None
    if capture_content and (messages := output_messages(choices)):
        attributes = {sc.GEN_AI_OUTPUT_MESSAGES: messages}
    return Response(
        chat_usage(getattr(completion, "usage", None)),
        model=getattr(completion, "model", None),
        id=getattr(completion, "id", None),
        finish_reasons=finish_reasons(choices),
        price_context=price_context(getattr(completion, "service_tier", None)),
        attributes=attributes,
    )


def responses_response(response: Any, *, capture_content: bool) -> Response:
    """``Response`` / ``ParsedResponse`` of the Responses API."""
    attributes = None
    if capture_content and (messages := responses_output_messages(response)):
        attributes = {sc.GEN_AI_OUTPUT_MESSAGES: messages}
    return Response(
        responses_usage(getattr(response, "usage", None), getattr(response, "tool_usage", None)),
        model=getattr(response, "model", None),
        id=getattr(response, "id", None),
        finish_reasons=responses_finish_reason(response),
        price_context=price_context(getattr(response, "service_tier", None)),
        attributes=attributes,
    )


def embeddings_response(response: Any) -> Response:
    return Response(
        embeddings_usage(getattr(response, "usage", None)),
        model=getattr(response, "model", None),
    )
