"""Pure functions from mistralai SDK objects to tokentrail's ``Request``/``Response``/``Usage``.

Nothing here touches OpenTelemetry. Arguments may be the SDK's ``UNSET`` sentinel and fields
may be absent on older SDK versions: both read as "unknown".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ... import names as sc
from ...telemetry.records import Response
from ...usage import Usage
from .._content import choice_messages
from .._sdk import ClientCache, Endpoint, address_of, field, int_field


def endpoint_of(resource: Any, server_url: Any, cache: ClientCache) -> Endpoint:
    """Where a resource (``client.chat``, ``client.fim`` ...) sends its requests: the call's
    ``server_url=`` if it has one, else its client's server, cached per client configuration
    while that server stays the same."""
    if isinstance(server_url, str) and server_url:
        return _endpoint(server_url)
    config = resource.sdk_configuration
    # the server URL, or the named server ("global", "eu" ...) when there is none
    version = config.server_url or config.server
    endpoint = cache.get(config, version)
    if endpoint is None:
        url, _ = config.get_server_details()
        endpoint = cache.put(config, config.server_url or config.server, _endpoint(url))
    return endpoint


def _endpoint(url: str) -> Endpoint:
    host, port = address_of(url)
    return Endpoint(sc.PROVIDER_MISTRAL_AI, host, port)


def plain_messages(messages: Any) -> Any:
    """Chat messages as plain dicts (the SDK also takes its own message models), so that the
    prompt can be estimated and, when asked for, recorded."""
    if not isinstance(messages, (list, tuple)) or all(isinstance(m, Mapping) for m in messages):
        return messages
    return [m.model_dump() if hasattr(m, "model_dump") else m for m in messages]


# -- usage -----------------------------------------------------------------------------------


def completion_usage(usage: Any) -> Usage | None:
    """``UsageInfo`` of a chat or FIM completion → ``Usage``. ``prompt_tokens`` includes the
    tokens served from the prompt cache (``prompt_tokens_details.cached_tokens``, which the
    SDK keeps as an extra field where its model allows extras)."""
    if usage is None:
        return None
    return Usage(
        input_tokens=int_field(usage, "prompt_tokens"),
        output_tokens=int_field(usage, "completion_tokens"),
        cache_read_tokens=int_field(field(usage, "prompt_tokens_details"), "cached_tokens"),
    )


def embeddings_usage(usage: Any) -> Usage | None:
    if usage is None:
        return None
    return Usage(input_tokens=int_field(usage, "prompt_tokens"))


def price_context(usage: Any) -> tuple[tuple[str, str], ...]:
    """The tier that served the call (``standard``, ``priority``) selects a price variant where
    the price list has one."""
    tier = field(usage, "service_tier")
    return (("service_tier", tier),) if isinstance(tier, str) else ()


def finish_reasons(choices: Any) -> tuple[str, ...] | None:
    if not choices:
        return None
    reasons = tuple(str(c.finish_reason) for c in choices if field(c, "finish_reason"))
    return reasons or None


# -- content capture (only with capture_content=True) ---------------------------------------


def content_text(content: Any) -> str:
    """A message's content: a string, or a list of chunks whose text parts are joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, (list, tuple)):
        return "".join(t for t in (field(part, "text") for part in content) if isinstance(t, str))
    return ""


def output_messages(choices: Any) -> str | None:
    return choice_messages(choices, lambda choice, message: content_text(field(message, "content")))


# -- responses -------------------------------------------------------------------------------


def completion_response(result: Any, *, capture_content: bool) -> Response:
    """``ChatCompletionResponse`` / ``FIMCompletionResponse``."""
    choices = field(result, "choices")
    usage = field(result, "usage")
    attributes = None
    if capture_content and (messages := output_messages(choices)):
        attributes = {sc.GEN_AI_OUTPUT_MESSAGES: messages}
    return Response(
        completion_usage(usage),
        model=field(result, "model"),
        id=field(result, "id"),
        finish_reasons=finish_reasons(choices),
        price_context=price_context(usage),
        attributes=attributes,
    )


def embeddings_response(result: Any) -> Response:
    return Response(
        embeddings_usage(field(result, "usage")),
        model=field(result, "model"),
        id=field(result, "id"),
    )
