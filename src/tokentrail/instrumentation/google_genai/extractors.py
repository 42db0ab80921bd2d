"""Pure functions from google-genai SDK objects to tokentrail's ``Request``/``Response``/``Usage``.

Nothing here touches OpenTelemetry. Every field is read defensively: older SDKs lack some
(``thoughts_token_count``, ``tool_use_prompt_token_count``, ``traffic_type`` came in 1.x, embed
usage in 3.1), and a ``config`` may be a ``GenerateContentConfig``, a dict or None.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ... import names as sc
from ...telemetry.records import Response
from ...usage import UNREADABLE_USAGE, Usage
from .._sdk import (
    Endpoint,
    address_of,
    count,
    enum_value,
    field,
    fields_of,
    int_field,
    is_record,
)

_endpoints: dict[tuple[Any, bool], Endpoint] = {}


def endpoint_of(api_client: Any) -> Endpoint:
    """The endpoint of a module's ``_api_client``: ``gcp.vertex_ai`` when the client was made
    with ``vertexai=True`` (or ``enterprise=True``; unset is None, not False), else
    ``gcp.gemini``; the address from the HTTP options' base URL. Cached per (URL, mode)."""
    vertex = getattr(api_client, "vertexai", None) is True
    options = getattr(api_client, "_http_options", None)
    base_url = getattr(options, "base_url", None)
    key = (base_url, vertex)
    endpoint = _endpoints.get(key)
    if endpoint is None:
        address, port = address_of(base_url)
        provider = sc.PROVIDER_GCP_VERTEX_AI if vertex else sc.PROVIDER_GCP_GEMINI
        if len(_endpoints) > 512:
            _endpoints.clear()
        endpoint = _endpoints[key] = Endpoint(provider, address, port)
    return endpoint


# -- request fields --------------------------------------------------------------------------


def model_name(model: Any) -> str | None:
    """The model id of a ``model`` argument: ``models/gemini-2.5-flash`` and Vertex resource
    names (``projects/p/locations/l/publishers/google/models/gemini-2.5-flash``) name the same
    model as ``gemini-2.5-flash``; tuned models and endpoints keep their names."""
    if not isinstance(model, str) or not model:
        return None
    if "models/" in model:
        return model.rsplit("models/", 1)[1] or model
    return model


def config_value(config: Any, name: str, wire_name: str) -> Any:
    """A field of a ``GenerateContentConfig`` or of a config dict (snake or camel case)."""
    if config is None:
        return None
    value = field(config, name)
    if value is None and isinstance(config, Mapping):
        value = config.get(wire_name)
    return value


def may_call_functions(config: Any) -> bool:
    """Whether a call may make several model requests: automatic function calling runs when
    ``config.tools`` holds something that is not a tool declaration (a Python function, an
    MCP session) and ``automatic_function_calling.disable`` is not set."""
    tools = config_value(config, "tools", "tools")
    if not tools or isinstance(tools, (str, bytes)):
        return False
    if not any(not isinstance(t, Mapping) and not hasattr(type(t), "model_fields") for t in tools):
        return False  # declarations only (Tool objects, dicts): the model's calls come back
    afc = config_value(config, "automatic_function_calling", "automaticFunctionCalling")
    return config_value(afc, "disable", "disable") is not True


#: genai-prices price variants (``service_tier``) by the request's ``config.service_tier``
_TIERS = {"flex": "flex", "priority": "priority"}
#: ... and by what the response says served it (Vertex ``usage_metadata.traffic_type``)
_TIERS_BY_TRAFFIC = {"ON_DEMAND_FLEX": "flex", "ON_DEMAND_PRIORITY": "priority"}
_PRICE_CONTEXTS = {tier: (("service_tier", tier),) for tier in _TIERS.values()}


def request_tier(config: Any) -> str | None:
    """The price variant the request asks for (``flex``, ``priority``), if any."""
    tier = config_value(config, "service_tier", "serviceTier")
    if tier is None:
        return None
    return _TIERS.get(str(enum_value(tier)).lower())


def price_context(metadata: Any, tier: str | None) -> tuple[tuple[str, str], ...]:
    """The response's traffic type, when it has one, says what was served; else the request's
    tier applies."""
    traffic = field(metadata, "traffic_type") if metadata is not None else None
    if traffic is not None:
        tier = _TIERS_BY_TRAFFIC.get(enum_value(traffic))
    return _PRICE_CONTEXTS[tier] if tier else ()


# -- usage -----------------------------------------------------------------------------------


# genai-prices' google extractor: usage key per modality of each details list. TEXT is not
# listed (text is what the totals leave); DOCUMENT is priced as image, as genai-prices does.
_PROMPT_KEYS = {
    "AUDIO": ("input_audio_tokens",),
    "IMAGE": ("input_image_tokens",),
    "DOCUMENT": ("input_image_tokens",),
    "VIDEO": ("input_video_tokens",),
}
_CACHE_KEYS = {
    "AUDIO": ("cache_audio_read_tokens",),
    "IMAGE": ("cache_image_read_tokens",),
    "DOCUMENT": ("cache_image_read_tokens",),
    "VIDEO": ("cache_video_read_tokens",),
}
_OUTPUT_KEYS = {
    "AUDIO": ("output_audio_tokens",),
    "IMAGE": ("output_image_tokens",),
    "DOCUMENT": ("output_image_tokens",),
    "VIDEO": ("output_video_tokens",),
}
_TOOL_USE_KEYS = {
    "AUDIO": ("input_audio_tokens", "input_audio_tool_tokens"),
    "IMAGE": ("input_image_tokens", "input_image_tool_tokens"),
    "DOCUMENT": ("input_image_tokens", "input_image_tool_tokens"),
    "VIDEO": ("input_video_tokens", "input_video_tool_tokens"),
}
_DETAIL_LISTS = (
    ("prompt_tokens_details", _PROMPT_KEYS),
    ("cache_tokens_details", _CACHE_KEYS),
    ("candidates_tokens_details", _OUTPUT_KEYS),
    ("response_tokens_details", _OUTPUT_KEYS),  # embed and live ``UsageMetadata``
    ("tool_use_prompt_tokens_details", _TOOL_USE_KEYS),
)


def _details(values: Any) -> tuple[tuple[str, int], ...] | None:
    """The non-text modalities of a ``usage_metadata`` (its fields, ``fields_of``); None: a
    details list that is not a list, so unreadable."""
    found: dict[str, int] | None = None
    for name, keys_by_modality in _DETAIL_LISTS:
        entries = values.get(name)
        if entries is None:
            continue
        if not isinstance(entries, (list, tuple)):
            return None
        for entry in entries:
            modality = field(entry, "modality")
            if not isinstance(modality, str):  # a str enum's member is its value here
                modality = enum_value(modality)
            keys = keys_by_modality.get(modality) if isinstance(modality, str) else None
            if keys is None:
                continue  # TEXT, the usual one: the totals leave it
            tokens = int_field(entry, "token_count")
            if tokens:
                if found is None:
                    found = {}
                for key in keys:  # type: ignore[union-attr]
                    found[key] = found.get(key, 0) + tokens
    return tuple(sorted(found.items())) if found else ()


def usage_of(metadata: Any) -> Usage | None:
    """``usage_metadata`` → ``Usage``: input is the prompt (cached tokens included) plus the
    tool-use prompt; output is candidates plus thoughts (thinking is billed as output)."""
    if metadata is None:
        return None
    if not is_record(metadata):
        return UNREADABLE_USAGE
    values = fields_of(metadata)
    details = _details(values)
    if details is None:
        return UNREADABLE_USAGE
    get = values.get
    thoughts = count(get("thoughts_token_count"))
    output = count(get("candidates_token_count")) or count(get("response_token_count"))
    return Usage(
        count(get("prompt_token_count")) + count(get("tool_use_prompt_token_count")),
        output + thoughts,
        count(get("cached_content_token_count")),
        0,
        0,
        thoughts,
        0,
        details,
    )


def _raw_body(response: Any) -> dict[str, Any] | None:
    """``config.should_return_http_response=True`` leaves the fields empty and the JSON body
    in ``sdk_http_response.body``."""
    body = getattr(getattr(response, "sdk_http_response", None), "body", None)
    if not isinstance(body, str) or not body:
        return None
    parsed = json.loads(body)
    return parsed if isinstance(parsed, dict) else None


def _raw_response(body: dict[str, Any], tier: str | None) -> Response:
    from google.genai import types

    metadata = body.get("usageMetadata")
    metadata = (
        types.GenerateContentResponseUsageMetadata.model_validate(metadata)
        if isinstance(metadata, dict)
        else None
    )
    reasons = tuple(
        c["finishReason"]
        for c in body.get("candidates") or ()
        if isinstance(c, dict) and c.get("finishReason")
    )
    return Response(
        usage_of(metadata),
        model=body.get("modelVersion"),
        id=body.get("responseId"),
        finish_reasons=reasons or None,
        price_context=price_context(metadata, tier),
    )


def finish_reasons(candidates: Any) -> tuple[str, ...] | None:
    if not candidates:
        return None
    if len(candidates) == 1:  # the usual case, without a generator
        reason = getattr(candidates[0], "finish_reason", None)
        return (enum_value(reason),) if reason else None
    reasons = tuple(
        enum_value(reason)
        for reason in (getattr(c, "finish_reason", None) for c in candidates)
        if reason
    )
    return reasons or None


def generate_response(response: Any, *, tier: str | None, capture_content: bool) -> Response:
    """A ``GenerateContentResponse`` (or one streamed chunk of it)."""
    metadata = response.usage_metadata
    if metadata is None and response.candidates is None:
        body = _raw_body(response)
        if body is not None:
            return _raw_response(body, tier)
    candidates = response.candidates
    attributes = None
    if capture_content and (messages := output_messages(candidates)):
        attributes = {sc.GEN_AI_OUTPUT_MESSAGES: messages}
    return Response(
        usage_of(metadata),
        model=response.model_version,
        id=response.response_id,
        finish_reasons=finish_reasons(candidates),
        price_context=price_context(metadata, tier),
        attributes=attributes,
    )


def embed_usage(response: Any) -> Usage | None:
    """``EmbedContentResponse.usage_metadata`` (3.1+), else Vertex's per-embedding
    ``statistics.token_count``; None when the response says nothing."""
    usage = usage_of(field(response, "usage_metadata"))
    if usage is not None:
        return usage
    embeddings = field(response, "embeddings")
    if not isinstance(embeddings, (list, tuple)):
        return None
    counts = [field(field(e, "statistics"), "token_count") for e in embeddings]
    if not counts or all(c is None for c in counts):
        return None
    return Usage(input_tokens=sum(_token_count(c) for c in counts))


def _token_count(value: Any) -> int:
    """Vertex reports an embedding's token count as a float (a whole number)."""
    if value.__class__ is float and value.is_integer():
        value = int(value)
    return count(value)


# -- content capture (only with capture_content=True) ---------------------------------------

_ROLES = {"model": "assistant"}


def _part(part: Any) -> dict[str, Any] | None:
    if isinstance(part, str):
        return {"type": "text", "content": part}
    text = field(part, "text")
    if isinstance(text, str):
        kind = "reasoning" if field(part, "thought") else "text"
        return {"type": kind, "content": text}
    call = field(part, "function_call")
    if call is not None:
        return {
            "type": "tool_call",
            "id": field(call, "id"),
            "name": field(call, "name"),
            "arguments": field(call, "args"),
        }
    result = field(part, "function_response")
    if result is not None:
        return {
            "type": "tool_call_response",
            "id": field(result, "id"),
            "response": field(result, "response"),
        }
    blob = field(part, "inline_data")
    if blob is not None:
        return {"type": "blob", "mime_type": field(blob, "mime_type")}
    file = field(part, "file_data")
    if file is not None:
        return {
            "type": "uri",
            "uri": field(file, "file_uri"),
            "mime_type": field(file, "mime_type"),
        }
    return None


def _message(content: Any, default_role: str) -> dict[str, Any]:
    parts = field(content, "parts")
    if parts is None:  # a bare part or string is a user turn of one part
        items = [content]
        role = default_role
    else:
        items = parts
        role = field(content, "role") or default_role
    return {
        "role": _ROLES.get(role, role),
        "parts": [p for p in map(_part, items) if p is not None],
    }


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def input_messages(contents: Any) -> str | None:
    """``contents`` (a string, a part, a ``Content``, or a list of them) as the semconv
    ``gen_ai.input.messages`` JSON."""
    if contents is None:
        return None
    items = contents if isinstance(contents, (list, tuple)) else [contents]
    return _dumps([_message(item, "user") for item in items])


def system_instructions(config: Any) -> str | None:
    instruction = config_value(config, "system_instruction", "systemInstruction")
    if instruction is None:
        return None
    return _dumps(_message(instruction, "system")["parts"])


def text_output(texts: list[str], finish_reason: str) -> str:
    """A streamed answer's text as ``gen_ai.output.messages``."""
    parts = [{"type": "text", "content": "".join(texts)}]
    return _dumps([{"role": "assistant", "parts": parts, "finish_reason": finish_reason}])


def output_messages(candidates: Any) -> str | None:
    out = []
    for candidate in candidates or ():
        message = _message(candidate.content, "model") if candidate.content else None
        reason = getattr(candidate, "finish_reason", None)
        out.append(
            {
                "role": "assistant",
                "parts": message["parts"] if message else [],
                "finish_reason": enum_value(reason) or "",
            }
        )
    return _dumps(out) if out else None
