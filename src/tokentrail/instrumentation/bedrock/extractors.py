"""Pure functions from boto3 ``bedrock-runtime`` requests and answers to tokentrail's
``Request``/``Response``/``Usage``.

boto3 answers with plain dicts. Converse reports usage in ``usage``; ``InvokeModel`` answers
in each model family's own body, and Bedrock also sends the counts of every ``InvokeModel``
answer in ``X-Amzn-Bedrock-*-Token-Count`` headers (and in
``amazon-bedrock-invocationMetrics`` on the last chunk of a stream), which need no body read.

Bedrock's counts exclude the prompt cache: ``inputTokens`` (Converse), the input header and
``inputTokenCount`` are the uncached input; cache reads and writes are reported beside it.
tokentrail's ``input_tokens`` includes them (``usage.py``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ... import names as sc
from ...telemetry.records import Response
from ...usage import UNREADABLE_USAGE, Usage
from .._content import input_messages
from .._sdk import ClientCache, Endpoint, address_of, count, given_float, given_int, is_mapping
from ..anthropic.extractors import message_usage

# -- identity --------------------------------------------------------------------------------

#: cross-region inference profiles prefix the model id with a geography
_GEOGRAPHIES = ("us.", "eu.", "apac.", "us-gov.", "jp.", "au.", "ca.", "in.", "global.")

_endpoints = ClientCache()


def endpoint_of(client: Any) -> Endpoint:
    """The endpoint of a ``bedrock-runtime`` client, cached per client and endpoint URL."""
    url = client.meta.endpoint_url
    endpoint = _endpoints.get(client, url)
    if endpoint is None:
        host, port = address_of(url)
        endpoint = _endpoints.put(client, url, Endpoint(sc.PROVIDER_AWS_BEDROCK, host, port))
    return endpoint


def model_of(model_id: str) -> str:
    """The model (or inference profile) id an ARN names: its last path segment
    (``arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-...`` →
    ``anthropic.claude-...``); other ids unchanged."""
    if model_id.startswith("arn:"):
        return model_id.rsplit("/", 1)[-1]
    return model_id


def family_of(model_id: str) -> str:
    """The model family, which decides the ``InvokeModel`` body's shape: ``anthropic``,
    ``meta``, ``mistral``, ``cohere`` ..., and for Amazon's models ``nova`` or ``titan``."""
    model = model_of(model_id)
    for prefix in _GEOGRAPHIES:
        if model.startswith(prefix):
            model = model[len(prefix) :]
            break
    family = model.split(".", 1)[0]
    if family == "amazon":
        return "titan" if ".titan-" in model else "nova"
    return family


def operation_of(model_id: str) -> str:
    """``gen_ai.operation.name`` of an ``InvokeModel`` call: ``embeddings`` for embedding
    models, ``text_completion`` for Titan Text (a prompt in, text out), else ``chat``."""
    if "embed" in model_id:
        return sc.OP_EMBEDDINGS
    if ".titan-text" in model_id or ".titan-tg1" in model_id:
        return sc.OP_TEXT_COMPLETION
    return sc.OP_CHAT


# -- InvokeModel request bodies ---------------------------------------------------------------


def parse_body(body: Any, limit: int | None = None) -> dict[str, Any] | None:
    """A JSON object given as ``bytes``/``str`` (an ``InvokeModel`` body, a stream chunk), or
    None: a file object (never read here), no JSON object, or longer than ``limit``."""
    if not isinstance(body, (bytes, bytearray, str)) or (limit is not None and len(body) > limit):
        return None
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def encode_body(original: Any, parsed: dict[str, Any]) -> Any:
    """``parsed`` as a body of the original's type (``str`` or ``bytes``)."""
    text = json.dumps(parsed, ensure_ascii=False)
    return text if isinstance(original, str) else text.encode()


#: where each family takes its output cap (a path into the body), the usual one first
_CAP_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "anthropic": (("max_tokens",), ("max_tokens_to_sample",)),
    "meta": (("max_gen_len",),),
    "nova": (("inferenceConfig", "max_new_tokens"), ("inferenceConfig", "maxTokens")),
    "titan": (("textGenerationConfig", "maxTokenCount"),),
    "openai": (("max_completion_tokens",), ("max_tokens",)),
}
_DEFAULT_CAP_PATHS: tuple[tuple[str, ...], ...] = (("max_tokens",),)
#: where each family takes its temperature
_TEMPERATURE_PATHS: dict[str, tuple[str, ...]] = {
    "nova": ("inferenceConfig", "temperature"),
    "titan": ("textGenerationConfig", "temperature"),
}


def _at(body: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = body
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _cap_paths(family: str, model_id: str) -> tuple[tuple[str, ...], ...]:
    paths = _CAP_PATHS.get(family, _DEFAULT_CAP_PATHS)
    if family == "nova" and "nova-2" in model_id:  # Nova 2 documents maxTokens
        paths = paths[::-1]
    return paths


def native_max_tokens(family: str, model_id: str, body: Mapping[str, Any]) -> int | None:
    for path in _cap_paths(family, model_id):
        value = given_int(_at(body, path))
        if value is not None:
            return value
    return None


def native_temperature(family: str, body: Mapping[str, Any]) -> float | None:
    return given_float(_at(body, _TEMPERATURE_PATHS.get(family, ("temperature",))))


def with_native_cap(
    family: str, model_id: str, body: Mapping[str, Any], cap: int
) -> dict[str, Any]:
    """A copy of ``body`` whose output cap is ``cap``: in the field the caller used, else in
    the family's usual one."""
    paths = _cap_paths(family, model_id)
    path = next((p for p in paths if given_int(_at(body, p)) is not None), paths[0])
    changed = dict(body)
    parent = changed
    for key in path[:-1]:
        inner = parent.get(key)
        parent[key] = dict(inner) if isinstance(inner, Mapping) else {}
        parent = parent[key]
    parent[path[-1]] = cap
    return changed


def native_prompt(body: Mapping[str, Any]) -> list[Any]:
    """The parts of a native body that hold the prompt (for the budgets' estimates)."""
    return [
        body.get(key)
        for key in ("system", "messages", "prompt", "inputText", "message", "texts")
        if body.get(key) is not None
    ]


# -- usage -----------------------------------------------------------------------------------


def _usage(
    uncached: int, output: int, cache_read: int, cache_write: int, cache_write_1h: int = 0
) -> Usage:
    return Usage(
        uncached + cache_read + cache_write, output, cache_read, cache_write, cache_write_1h
    )


def converse_usage(usage: Any) -> Usage | None:
    """Converse's ``usage`` (also in ConverseStream's ``metadata`` event). The 1-hour cache
    writes are the ``1h`` entry of ``cacheDetails``."""
    if usage is None:
        return None
    if not is_mapping(usage):
        return UNREADABLE_USAGE
    cache_write = count(usage.get("cacheWriteInputTokens"))
    write_1h = 0
    details = usage.get("cacheDetails")
    if details is not None:
        if not isinstance(details, list):
            return UNREADABLE_USAGE
        for detail in details:
            if not is_mapping(detail):
                return UNREADABLE_USAGE
            if detail.get("ttl") == "1h":
                write_1h += count(detail.get("inputTokens"))
    return _usage(
        count(usage.get("inputTokens")),
        count(usage.get("outputTokens")),
        count(usage.get("cacheReadInputTokens")),
        cache_write,
        min(write_1h, cache_write),
    )


_HEADER = "x-amzn-bedrock-"


def _header_count(headers: Mapping[str, Any], name: str) -> int | None:
    value = headers.get(f"{_HEADER}{name}-token-count")
    return int(value) if isinstance(value, str) and value.isdigit() else None


def header_usage(headers: Any) -> Usage | None:
    """The ``X-Amzn-Bedrock-*-Token-Count`` headers of an ``InvokeModel`` answer (botocore
    lower-cases them), or None when the answer has none."""
    if not isinstance(headers, Mapping):
        return None
    uncached = _header_count(headers, "input")
    output = _header_count(headers, "output")
    if uncached is None and output is None:
        return None
    return _usage(
        uncached or 0,
        output or 0,
        _header_count(headers, "cache-read-input") or 0,
        _header_count(headers, "cache-write-input") or 0,
    )


#: the key of the last chunk of every ``InvokeModelWithResponseStream`` answer
INVOCATION_METRICS = "amazon-bedrock-invocationMetrics"


def invocation_metrics_usage(metrics: Any) -> Usage | None:
    if not isinstance(metrics, Mapping):
        return None
    return _usage(
        count(metrics.get("inputTokenCount")),
        count(metrics.get("outputTokenCount")),
        count(metrics.get("cacheReadInputTokenCount")),
        count(metrics.get("cacheWriteInputTokenCount")),
    )


def native_usage(family: str, body: Mapping[str, Any]) -> Usage | None:
    """The usage a family's own ``InvokeModel`` answer reports (used when the answer has no
    token-count headers). Mistral 7B/Mixtral and Cohere answers report none."""
    usage = body.get("usage")
    if family == "anthropic":
        return message_usage(usage)  # the same mapping as for AnthropicBedrock
    if family == "nova" and isinstance(usage, Mapping):
        return _usage(
            count(usage.get("inputTokens")),
            count(usage.get("outputTokens")),
            count(usage.get("cacheReadInputTokenCount")),
            count(usage.get("cacheWriteInputTokenCount")),
        )
    if family == "meta" and "prompt_token_count" in body:
        return _usage(
            count(body.get("prompt_token_count")), count(body.get("generation_token_count")), 0, 0
        )
    if family == "titan" and "inputTextTokenCount" in body:
        results = body.get("results") or ()
        output = sum(count(r.get("tokenCount")) for r in results if isinstance(r, Mapping))
        return _usage(count(body.get("inputTextTokenCount")), output, 0, 0)
    if isinstance(usage, Mapping) and "prompt_tokens" in usage:  # OpenAI-style bodies
        prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
        return _usage(count(prompt), count(completion), 0, 0)
    return None


# -- answers ---------------------------------------------------------------------------------


def request_id(result: Any) -> str | None:
    """The AWS request id of an answer (``x-amzn-RequestId``): Bedrock's only id of an
    invocation, the key of its model-invocation logs."""
    metadata = result.get("ResponseMetadata") if is_mapping(result) else None
    value = metadata.get("RequestId") if is_mapping(metadata) else None
    return value if isinstance(value, str) and value else None


def response_headers(result: Any) -> Any:
    metadata = result.get("ResponseMetadata") if isinstance(result, Mapping) else None
    return metadata.get("HTTPHeaders") if isinstance(metadata, Mapping) else None


def _finish(reason: Any) -> tuple[str, ...] | None:
    return (reason,) if isinstance(reason, str) and reason else None


def converse_response(result: Any, *, capture_content: bool) -> Response:
    """A Converse answer. It names no model: the model is the request's ``modelId``."""
    stop_reason = result.get("stopReason")
    attributes = None
    if capture_content:
        message = _at(result, ("output", "message"))
        text = _text_of(message.get("content")) if isinstance(message, Mapping) else None
        if text is not None:
            attributes = {sc.GEN_AI_OUTPUT_MESSAGES: output_messages(text, stop_reason)}
    return Response(
        converse_usage(result.get("usage")),
        id=request_id(result),
        finish_reasons=_finish(stop_reason),
        attributes=attributes,
    )


def native_finish_reason(family: str, body: Mapping[str, Any]) -> str | None:
    """The finish reason in a family's ``InvokeModel`` answer (or a stream chunk)."""
    if family == "anthropic":
        reason = body.get("stop_reason") or _at(body, ("delta", "stop_reason"))
    elif family == "nova":
        reason = body.get("stopReason") or _at(body, ("messageStop", "stopReason"))
    elif family == "titan":
        results = body.get("results")
        reason = results[0].get("completionReason") if results else body.get("completionReason")
    else:
        reason = body.get("stop_reason") or body.get("finish_reason")
        for key in ("choices", "outputs", "generations"):
            items = body.get(key)
            if items and isinstance(items[0], Mapping) and reason is None:
                reason = items[0].get("finish_reason") or items[0].get("stop_reason")
    return reason if isinstance(reason, str) and reason else None


def native_text(family: str, body: Mapping[str, Any]) -> str | None:
    """The text of a family's ``InvokeModel`` answer, or of one stream chunk (content
    capture only)."""
    if family == "anthropic":
        content = body.get("content")
        if content is None:  # a stream event: content_block_delta
            text = _at(body, ("delta", "text"))
            return text if isinstance(text, str) else None
        return _text_of(content)
    if family == "nova":
        return _text_of(_at(body, ("output", "message", "content"))) or _text_of(
            [_at(body, ("contentBlockDelta", "delta")) or {}]
        )
    if family == "meta":
        text = body.get("generation")
        return text if isinstance(text, str) else None
    if family == "titan":
        results = body.get("results") or ()
        return "".join(r.get("outputText") or "" for r in results if isinstance(r, Mapping))
    for key in ("choices", "outputs", "generations"):
        items = body.get(key)
        if items and isinstance(items[0], Mapping):
            item = items[0]
            text = _at(item, ("message", "content")) or _at(item, ("delta", "content"))
            text = text or item.get("text")
            return text if isinstance(text, str) else None
    return None


def _text_of(content: Any) -> str | None:
    """The text of Converse/Anthropic content blocks (``{"text": ...}`` parts)."""
    if not isinstance(content, (list, tuple)):
        return None
    texts = [block.get("text") for block in content if isinstance(block, Mapping)]
    texts = [text for text in texts if isinstance(text, str)]
    return "".join(texts) if texts else None


# -- content capture (only with capture_content=True) ---------------------------------------


def input_attributes(system: Any, messages: Any) -> dict[str, str] | None:
    """Converse's ``messages`` (or a native body's ``messages``/``prompt``) and ``system``
    as ``gen_ai.input.messages`` / ``gen_ai.system_instructions``."""
    attributes = {}
    if (captured := input_messages(messages)) is not None:
        attributes[sc.GEN_AI_INPUT_MESSAGES] = captured
    if isinstance(system, str):
        system = [{"text": system}]
    if isinstance(system, (list, tuple)) and (text := _text_of(system)) is not None:
        parts = [{"type": "text", "content": text}]
        attributes[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = json.dumps(parts, ensure_ascii=False)
    return attributes or None


def output_messages(text: str, finish_reason: Any) -> str:
    message = {
        "role": "assistant",
        "parts": [{"type": "text", "content": text}],
        "finish_reason": finish_reason if isinstance(finish_reason, str) else "",
    }
    return json.dumps([message], ensure_ascii=False)
