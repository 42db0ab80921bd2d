"""Pure functions from anthropic SDK objects to tokentrail's ``Request``/``Response``/``Usage``.

Nothing here touches OpenTelemetry. Every field may be missing (older SDKs, decoded JSON of
raw responses, the cache fields anthropic 0.x keeps as pydantic extras): ``_get`` reads a
missing field as None, and counts read as 0 unless they are ints.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ... import names as sc
from ...telemetry.records import Response
from ...usage import UNREADABLE_USAGE, Usage
from .._content import input_messages
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

# -- provider identity ------------------------------------------------------------------------

#: the platform clients, by their public names in ``anthropic`` (sync and async)
_PLATFORM_CLIENTS = (
    ("AnthropicBedrock", sc.PROVIDER_AWS_BEDROCK),
    ("AsyncAnthropicBedrock", sc.PROVIDER_AWS_BEDROCK),
    ("AnthropicVertex", sc.PROVIDER_GCP_VERTEX_AI),
    ("AsyncAnthropicVertex", sc.PROVIDER_GCP_VERTEX_AI),
)
#: hosts that name the platform when nothing else does (a client class this list predates)
_PLATFORM_HOSTS = (
    (".amazonaws.com", sc.PROVIDER_AWS_BEDROCK),
    ("aiplatform.googleapis.com", sc.PROVIDER_GCP_VERTEX_AI),
)


_endpoints = ClientCache()


def endpoint_of(client: Any) -> Endpoint:
    """The endpoint of an ``Anthropic`` (or platform) client, cached per client and base URL."""
    version = getattr(client, "_base_url", None)
    endpoint = _endpoints.get(client, version)
    if endpoint is None:
        url = getattr(client, "base_url", None)
        endpoint = _endpoints.put(client, version, _read_endpoint(client, url))
    return endpoint


def _read_endpoint(client: Any, url: Any) -> Endpoint:
    host, port = address_of(url)
    return Endpoint(_provider_of(client, host), host, port)


def _provider_of(client: Any, host: str | None) -> str:
    import anthropic

    for name, provider in _PLATFORM_CLIENTS:
        cls = getattr(anthropic, name, None)
        if cls is not None and isinstance(client, cls):
            return provider
    # anthropic >= 1.14 names the provider of every client (Bedrock Mantle, Foundry ...)
    named = getattr(client, "_gen_ai_provider_name", None)
    if isinstance(named, str) and named:
        return named
    for suffix, provider in _PLATFORM_HOSTS:
        if host and host.endswith(suffix):
            return provider
    return sc.PROVIDER_ANTHROPIC


# -- usage -----------------------------------------------------------------------------------


def _latest(start_and_delta: tuple[Any, Any], name: str) -> Any:
    """A stream's usage field: the last ``message_delta``'s when not null (its counts are
    cumulative), else ``message_start``'s."""
    start, delta = start_and_delta
    value = field(delta, name)
    return value if value is not None else field(start, name)


def message_usage(usage: Any, delta: Any = None) -> Usage | None:
    """An Anthropic ``usage`` (``Usage``/``BetaUsage``, or its JSON) → ``Usage``.

    For a stream, ``usage`` is ``message_start``'s and ``delta`` the last ``message_delta``'s,
    whose non-null fields are cumulative and win. Anthropic's ``input_tokens`` excludes the
    cache; tokentrail's includes cache reads and writes. The 1-hour cache writes are
    ``cache_creation.ephemeral_1h_input_tokens`` (only on ``message_start``). The beta
    ``iterations`` of type ``compaction`` are not in the top-level fields (their docstring
    says so) and are added here, since they are billed.
    """
    if usage is None:
        return None
    if not is_record(usage) or (delta is not None and not is_record(delta)):
        return UNREADABLE_USAGE
    values = fields_of(usage)
    if delta is None:
        get = values.get
    else:

        def get(name: str) -> Any:
            return _latest((usage, delta), name)

    uncached = count(get("input_tokens"))
    cache_read = count(get("cache_read_input_tokens"))
    cache_write = count(get("cache_creation_input_tokens"))
    output = count(get("output_tokens"))
    details = get("output_tokens_details")
    server_tools = get("server_tool_use")
    iterations = get("iterations")
    cache_write_1h = int_field(values.get("cache_creation"), "ephemeral_1h_input_tokens")
    if iterations is not None and not isinstance(iterations, (list, tuple)):
        return UNREADABLE_USAGE
    if iterations:
        for entry in iterations:
            if field(entry, "type") == "compaction":
                uncached += int_field(entry, "input_tokens")
                cache_read += int_field(entry, "cache_read_input_tokens")
                cache_write += int_field(entry, "cache_creation_input_tokens")
                cache_write_1h += int_field(
                    field(entry, "cache_creation"), "ephemeral_1h_input_tokens"
                )
                output += int_field(entry, "output_tokens")
    return Usage(
        uncached + cache_read + cache_write,
        output,
        cache_read,
        cache_write,
        min(cache_write_1h, cache_write),
        int_field(details, "thinking_tokens"),
        int_field(server_tools, "web_search_requests"),
    )


_BATCH = ("processing", "batch")
_FAST = ("speed", "fast")
_CONTEXTS = {
    (False, False): (),
    (True, False): (_BATCH,),
    (False, True): (_FAST,),
    (True, True): (_BATCH, _FAST),
}


def price_context(usage: Any) -> tuple[tuple[str, str], ...]:
    """The price variants a response's usage selects, in genai-prices' terms: the batch tier
    (``service_tier == "batch"`` → ``processing: batch``) and fast mode (``speed: fast``)."""
    if usage is None:
        return ()
    return _CONTEXTS[field(usage, "service_tier") == "batch", field(usage, "speed") == "fast"]


# -- responses -------------------------------------------------------------------------------


def message_response(message: Any, *, capture_content: bool) -> Response:
    """A ``Message`` / ``ParsedMessage`` / ``BetaMessage`` (or its decoded JSON)."""
    values = fields_of(message)
    usage = values.get("usage")
    stop_reason = values.get("stop_reason")
    attributes = None
    if capture_content and (messages := output_messages(values.get("content"), stop_reason)):
        attributes = {sc.GEN_AI_OUTPUT_MESSAGES: messages}
    model = values.get("model")
    id_ = values.get("id")
    return Response(
        message_usage(usage),
        model=model if isinstance(model, str) else None,
        id=id_ if isinstance(id_, str) else None,
        finish_reasons=(stop_reason,) if isinstance(stop_reason, str) else None,
        price_context=price_context(usage),
        attributes=attributes,
    )


def raw_body(raw_response: Any) -> Any:
    """The decoded JSON body of a ``with_raw_response`` result whose body was read."""
    return json.loads(raw_response.http_response.content)


# -- content capture (only with capture_content=True) ---------------------------------------


def input_attributes(system: Any, messages: Any) -> dict[str, str] | None:
    attributes = {}
    if (captured := input_messages(messages)) is not None:
        attributes[sc.GEN_AI_INPUT_MESSAGES] = captured
    if isinstance(system, str):
        system = [{"type": "text", "text": system}]
    if isinstance(system, (list, tuple)):
        parts = [
            {"type": "text", "content": block.get("text")}
            for block in system
            if isinstance(block, Mapping) and isinstance(block.get("text"), str)
        ]
        if parts:
            attributes[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = json.dumps(parts, ensure_ascii=False)
    return attributes or None


def output_messages(content: Any, stop_reason: Any) -> str | None:
    """A response's content blocks as the semconv ``gen_ai.output.messages`` JSON (text
    blocks with their text, other blocks by type)."""
    if not content:
        return None
    parts = []
    for block in content:
        kind = field(block, "type")
        text = field(block, "text") if kind == "text" else None
        parts.append({"type": "text", "content": text} if text is not None else {"type": kind})
    message = {"role": "assistant", "parts": parts, "finish_reason": stop_reason or ""}
    return json.dumps([message], ensure_ascii=False)


def text_output_messages(text: str, stop_reason: Any) -> str:
    """Streamed text as ``gen_ai.output.messages``."""
    return output_messages([{"type": "text", "text": text}], stop_reason) or ""
