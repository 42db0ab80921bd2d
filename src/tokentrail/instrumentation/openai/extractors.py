"""Pure functions from openai SDK objects to tokentrail's ``Request``/``Response``/``Usage``.

Nothing here touches OpenTelemetry. Every field the SDK may leave out, set to ``None`` or to
its ``NOT_GIVEN``/``omit`` sentinels is read defensively: those are all "unknown".
"""

from __future__ import annotations

import json
from typing import Any

from ... import names as sc
from ...telemetry.records import Response
from ...usage import UNREADABLE_USAGE, Usage
from .._content import choice_messages, text_parts
from .._sdk import (
    ClientCache,
    Endpoint,
    address_of,
    count,
    field,
    fields_of,
    int_field,
    is_record,
)

#: the hosts of providers reached through the openai SDK with a ``base_url`` (a host not
#: listed is reported as ``openai``, its ``server.address`` naming it)
_PROVIDER_BY_HOST = {
    "api.openai.com": sc.PROVIDER_OPENAI,
    "api.groq.com": sc.PROVIDER_GROQ,
    "api.deepseek.com": sc.PROVIDER_DEEPSEEK,
    "api.x.ai": sc.PROVIDER_X_AI,
    "api.mistral.ai": sc.PROVIDER_MISTRAL_AI,
    "api.perplexity.ai": sc.PROVIDER_PERPLEXITY,
    "api.together.xyz": sc.PROVIDER_TOGETHER_AI,
    "api.together.ai": sc.PROVIDER_TOGETHER_AI,
    "api.fireworks.ai": sc.PROVIDER_FIREWORKS_AI,
    "openrouter.ai": sc.PROVIDER_OPENROUTER,
    "ollama.com": sc.PROVIDER_OLLAMA,
    "generativelanguage.googleapis.com": sc.PROVIDER_GCP_GEMINI,
}
#: Ollama's own port (``ollama serve`` listens there unless told otherwise; nothing else
#: claims it), on any host: a local or LAN Ollama server. vLLM's default port (8000) is every
#: development server's, so a vLLM server is not named: it shows as its ``server.address``.
_OLLAMA_PORT = 11434
_AZURE_SUFFIXES = (".openai.azure.com", ".cognitiveservices.azure.com", ".services.ai.azure.com")
_RUNTIME_PROVIDERS = {"vertex": sc.PROVIDER_GCP_VERTEX_AI, "bedrock": sc.PROVIDER_AWS_BEDROCK}
#: hosts documented to accept ``stream_options={"include_usage": true}`` and to send no usage
#: on streams without it (Ollama by its port too). Hosts that send usage unasked (Groq in
#: ``x_groq.usage``, Together, Fireworks, OpenRouter, Mistral) need nothing injected.
_STREAM_USAGE_HOSTS = {"api.openai.com", "api.deepseek.com", "ollama.com"}


def endpoint_of(client: Any, extra_hosts: frozenset[str], cache: ClientCache) -> Endpoint:
    """The endpoint of an ``OpenAI``/``AzureOpenAI`` client, cached per client and base URL
    (each runtime has its own cache, and so its own stream-usage allow-list)."""
    version = getattr(client, "_base_url", None)
    endpoint = cache.get(client, version)
    if endpoint is None:
        url = getattr(client, "base_url", None)
        endpoint = cache.put(client, version, _read_endpoint(client, url, extra_hosts))
    return endpoint


def _read_endpoint(client: Any, url: Any, extra_hosts: frozenset[str]) -> Endpoint:
    host, port = address_of(url)
    runtime = getattr(getattr(client, "_provider_runtime", None), "name", None)
    if _is_azure(client) or (host and host.endswith(_AZURE_SUFFIXES)):
        provider = sc.PROVIDER_AZURE_OPENAI
        accepts = True
    elif runtime in _RUNTIME_PROVIDERS:
        provider, accepts = _RUNTIME_PROVIDERS[runtime], False
    elif port == _OLLAMA_PORT:
        provider, accepts = sc.PROVIDER_OLLAMA, True
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


# -- usage -----------------------------------------------------------------------------------


def _record_or_none(value: Any) -> bool:
    return value is None or is_record(value)


def chat_usage(usage: Any) -> Usage | None:
    """``CompletionUsage`` (chat and legacy completions) → ``Usage``. ``prompt_tokens``
    already includes cached tokens, ``completion_tokens`` includes reasoning tokens."""
    if usage is None:
        return None
    if not is_record(usage):
        return UNREADABLE_USAGE
    values = fields_of(usage)
    prompt_details = values.get("prompt_tokens_details")
    completion_details = values.get("completion_tokens_details")
    if not (_record_or_none(prompt_details) and _record_or_none(completion_details)):
        return UNREADABLE_USAGE  # its counts cannot be read
    prompt = fields_of(prompt_details)
    completion = fields_of(completion_details)
    details: tuple[tuple[str, int], ...] = ()
    audio_in, audio_out = count(prompt.get("audio_tokens")), count(completion.get("audio_tokens"))
    if audio_in or audio_out:
        details = tuple(
            (key, n)
            for key, n in (("input_audio_tokens", audio_in), ("output_audio_tokens", audio_out))
            if n
        )
    return Usage(
        count(values.get("prompt_tokens")),
        count(values.get("completion_tokens")),
        count(prompt.get("cached_tokens")),
        count(prompt.get("cache_write_tokens")),
        0,
        count(completion.get("reasoning_tokens")),
        0,
        details,
    )


def groq_stream_usage(chunk: Any) -> Any:
    """The usage Groq puts on a stream's final chunk without being asked (``x_groq.usage``,
    in the chat shape), or None."""
    extra = getattr(chunk, "__pydantic_extra__", None)
    return field(extra.get("x_groq"), "usage") if extra else None


def responses_usage(usage: Any, tool_usage: Any = None) -> Usage | None:
    """``ResponseUsage`` (Responses API) → ``Usage``; web searches from ``tool_usage``."""
    if usage is None:
        return None
    if not is_record(usage):
        return UNREADABLE_USAGE
    inputs = field(usage, "input_tokens_details")
    outputs = field(usage, "output_tokens_details")
    web_search = field(tool_usage, "web_search")
    return Usage(
        input_tokens=int_field(usage, "input_tokens"),
        output_tokens=int_field(usage, "output_tokens"),
        cache_read_tokens=int_field(inputs, "cached_tokens"),
        cache_write_tokens=int_field(inputs, "cache_write_tokens"),
        reasoning_tokens=int_field(outputs, "reasoning_tokens"),
        web_search_requests=int_field(web_search, "num_requests"),
    )


def embeddings_usage(usage: Any) -> Usage | None:
    if usage is None:
        return None
    if not is_record(usage):
        return UNREADABLE_USAGE
    return Usage(input_tokens=int_field(usage, "prompt_tokens"))


def price_context(service_tier: Any) -> tuple[tuple[str, str], ...]:
    """The response's service tier selects a price variant (flex, priority ...)."""
    return (("service_tier", service_tier),) if isinstance(service_tier, str) else ()


def finish_reasons(choices: Any) -> tuple[str, ...] | None:
    if not choices:
        return None
    if len(choices) == 1:  # the usual case, without a generator
        reason = field(choices[0], "finish_reason")
        return (reason,) if reason else None
    reasons = tuple(c.finish_reason for c in choices if field(c, "finish_reason"))
    return reasons or None


def responses_finish_reason(response: Any) -> tuple[str, ...] | None:
    details = field(response, "incomplete_details")
    reason = field(details, "reason") or field(response, "status")
    return (reason,) if isinstance(reason, str) else None


# -- content capture (only with capture_content=True) ---------------------------------------


def output_messages(choices: Any) -> str | None:
    return choice_messages(choices, _choice_content)


def _choice_content(choice: Any, message: Any) -> Any:
    # chat choices carry a message; legacy completion choices carry the text itself
    return field(message, "content") if message else field(choice, "text")


def responses_output_messages(response: Any) -> str | None:
    text = getattr(response, "output_text", None)
    if not isinstance(text, str):
        return None
    return json.dumps([{"role": "assistant", "parts": text_parts(text)}], ensure_ascii=False)


# -- responses -------------------------------------------------------------------------------


def chat_response(completion: Any, *, capture_content: bool) -> Response:
    """``ChatCompletion`` / ``ParsedChatCompletion`` / legacy ``Completion``."""
    values = fields_of(completion)
    choices = values.get("choices")
    attributes = None
    if capture_content and (messages := output_messages(choices)):
        attributes = {sc.GEN_AI_OUTPUT_MESSAGES: messages}
    return Response(
        chat_usage(values.get("usage")),
        model=values.get("model"),
        id=values.get("id"),
        finish_reasons=finish_reasons(choices),
        price_context=price_context(values.get("service_tier")),
        attributes=attributes,
    )


def responses_response(response: Any, *, capture_content: bool) -> Response:
    """``Response`` / ``ParsedResponse`` of the Responses API."""
    attributes = None
    if capture_content and (messages := responses_output_messages(response)):
        attributes = {sc.GEN_AI_OUTPUT_MESSAGES: messages}
    return Response(
        responses_usage(field(response, "usage"), field(response, "tool_usage")),
        model=field(response, "model"),
        id=field(response, "id"),
        finish_reasons=responses_finish_reason(response),
        price_context=price_context(field(response, "service_tier")),
        attributes=attributes,
    )


def embeddings_response(response: Any) -> Response:
    return Response(
        embeddings_usage(field(response, "usage")),
        model=field(response, "model"),
    )
