"""Pure functions from LiteLLM's arguments and objects to tokentrail's ``Request``/
``Response``/``Usage``.

LiteLLM answers every provider in OpenAI's shapes (``ModelResponse``, ``EmbeddingResponse``,
``Usage`` with ``prompt_tokens_details`` ...), so one mapping serves all of them. Nothing here
touches OpenTelemetry; every field may be missing or None.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ... import names as sc
from ...telemetry.records import Response
from ...usage import Usage
from .._content import choice_messages
from .._sdk import address_of, field, given_str, int_field

# -- the provider a call goes to ---------------------------------------------------------------

#: LiteLLM's provider names -> ``gen_ai.provider.name`` (others keep LiteLLM's name)
_PROVIDER_NAMES = {
    "openai": sc.PROVIDER_OPENAI,
    "text-completion-openai": sc.PROVIDER_OPENAI,
    "azure": sc.PROVIDER_AZURE_OPENAI,
    "azure_text": sc.PROVIDER_AZURE_OPENAI,
    "azure_ai": "azure.ai.inference",
    "anthropic": sc.PROVIDER_ANTHROPIC,
    "anthropic_text": sc.PROVIDER_ANTHROPIC,
    "bedrock": sc.PROVIDER_AWS_BEDROCK,
    "gemini": sc.PROVIDER_GCP_GEMINI,
    "vertex_ai": sc.PROVIDER_GCP_VERTEX_AI,
    "vertex_ai_beta": sc.PROVIDER_GCP_VERTEX_AI,
    "mistral": sc.PROVIDER_MISTRAL_AI,
    "codestral": sc.PROVIDER_MISTRAL_AI,
    "text-completion-codestral": sc.PROVIDER_MISTRAL_AI,
    "cohere": "cohere",
    "cohere_chat": "cohere",
    "groq": sc.PROVIDER_GROQ,
    "deepseek": sc.PROVIDER_DEEPSEEK,
    "xai": sc.PROVIDER_X_AI,
    "perplexity": sc.PROVIDER_PERPLEXITY,
    "watsonx": "ibm.watsonx.ai",
    "watsonx_text": "ibm.watsonx.ai",
}
#: where a provider's requests go when the call names no ``api_base`` (LiteLLM's defaults)
_DEFAULT_HOSTS = {
    "openai": "api.openai.com",
    "text-completion-openai": "api.openai.com",
    "anthropic": "api.anthropic.com",
    "gemini": "generativelanguage.googleapis.com",
    "mistral": "api.mistral.ai",
    "codestral": "codestral.mistral.ai",
    "cohere": "api.cohere.com",
    "cohere_chat": "api.cohere.com",
    "deepseek": "api.deepseek.com",
    "xai": "api.x.ai",
    "perplexity": "api.perplexity.ai",
}
#: environment variables LiteLLM reads for a provider's base URL besides ``<PROVIDER>_API_BASE``
_BASE_URL_VARIABLES = {"openai": ("OPENAI_BASE_URL",), "anthropic": ("ANTHROPIC_BASE_URL",)}
#: Bedrock route selectors LiteLLM takes in front of the model id (not part of it)
_BEDROCK_ROUTES = ("converse/", "invoke/")
#: the provider of a call LiteLLM cannot route (it raises before sending anything)
UNKNOWN_PROVIDER = "litellm"


def provider_name(litellm_provider: str) -> str:
    """``gen_ai.provider.name`` for a LiteLLM provider (``gemini`` -> ``gcp.gemini``)."""
    return _PROVIDER_NAMES.get(litellm_provider, litellm_provider)


class Route:
    """Where LiteLLM sends a call: the provider, the model as the provider knows it (without
    LiteLLM's ``provider/`` prefix, so that budgets and prices see the same names as for the
    provider's own SDK), that prefix, and the server."""

    __slots__ = ("address", "litellm_provider", "model", "port", "prefix", "provider")

    def __init__(
        self,
        litellm_provider: str,
        model: str,
        prefix: str,
        address: str | None,
        port: int | None,
    ) -> None:
        self.litellm_provider = litellm_provider
        self.provider = provider_name(litellm_provider)
        self.model = model
        self.prefix = prefix
        self.address = address
        self.port = port


_MAX_ROUTES = 1024


class Routes:
    """``litellm.get_llm_provider`` for each distinct (model, provider, base URL), once: it
    costs from ~20 µs to ~0.7 ms (with an ``api_base``), a dict lookup is ~0.1 µs."""

    __slots__ = ("_routes",)

    def __init__(self) -> None:
        self._routes: dict[tuple, Route] = {}

    def of(self, kwargs: Mapping[str, Any]) -> Route:
        model = kwargs.get("model")
        api_base = given_str(kwargs.get("api_base")) or given_str(kwargs.get("base_url"))
        client = kwargs.get("client")
        # a client the caller made (an ``openai.OpenAI`` for the openai and azure routes)
        client_base = getattr(client, "_base_url", None) if client is not None else None
        key = (model, kwargs.get("custom_llm_provider"), api_base, client_base)
        route = self._routes.get(key)
        if route is None:
            route = _route(model, kwargs.get("custom_llm_provider"), api_base, client)
            if len(self._routes) >= _MAX_ROUTES:
                self._routes.clear()
            self._routes[key] = route
        return route


def _route(model: Any, custom_provider: Any, api_base: str | None, client: Any) -> Route:
    import litellm

    if not isinstance(model, str) or not model:
        return Route(UNKNOWN_PROVIDER, "", "", None, None)
    try:
        bare, litellm_provider, _, dynamic_base = litellm.get_llm_provider(
            model=model, custom_llm_provider=given_str(custom_provider), api_base=api_base
        )
    except Exception:  # LiteLLM cannot route it either: the call raises before it is sent
        return Route(UNKNOWN_PROVIDER, model, "", None, None)
    if litellm_provider == "bedrock" and bare.startswith(_BEDROCK_ROUTES):
        bare = bare.split("/", 1)[1]
    prefix = model[: -len(bare)] if bare and model.endswith(bare) else ""
    base = (
        api_base
        or (str(getattr(client, "base_url", "")) if client is not None else None)
        or dynamic_base
        or given_str(getattr(litellm, "api_base", None))
        or _base_from_environment(litellm_provider)
    )
    if base:
        address, port = address_of(base)
    else:
        address = _DEFAULT_HOSTS.get(litellm_provider)
        port = 443 if address else None
    return Route(litellm_provider, bare, prefix, address, port)


def _base_from_environment(litellm_provider: str) -> str | None:
    names = (f"{litellm_provider.upper()}_API_BASE", *_BASE_URL_VARIABLES.get(litellm_provider, ()))
    return next((value for name in names if (value := os.environ.get(name))), None)


# -- usage ---------------------------------------------------------------------------------------


def usage_of(usage: Any) -> Usage | None:
    """LiteLLM's ``Usage`` (OpenAI's shape for every provider) -> ``Usage``.

    ``prompt_tokens`` includes cache reads and writes (LiteLLM adds Anthropic's cache counts
    to it), ``completion_tokens`` includes reasoning (Gemini's thoughts too)."""
    if usage is None:
        return None
    prompt = field(usage, "prompt_tokens_details")
    completion = field(usage, "completion_tokens_details")
    cache_write = (
        int_field(usage, "cache_creation_input_tokens")
        or int_field(prompt, "cache_creation_tokens")
        or int_field(prompt, "cache_write_tokens")
    )
    creation = field(prompt, "cache_creation_token_details")
    details = []
    if audio_in := int_field(prompt, "audio_tokens"):
        details.append(("input_audio_tokens", audio_in))
    if audio_out := int_field(completion, "audio_tokens"):
        details.append(("output_audio_tokens", audio_out))
    return Usage(
        input_tokens=int_field(usage, "prompt_tokens"),
        output_tokens=int_field(usage, "completion_tokens"),
        cache_read_tokens=int_field(prompt, "cached_tokens")
        or int_field(usage, "cache_read_input_tokens"),
        cache_write_tokens=cache_write,
        cache_write_1h_tokens=int_field(creation, "ephemeral_1h_input_tokens"),
        reasoning_tokens=int_field(completion, "reasoning_tokens"),
        web_search_requests=int_field(field(usage, "server_tool_use"), "web_search_requests"),
        details=tuple(details),
    )


def price_context(result: Any, usage: Any) -> tuple[tuple[str, str], ...]:
    """The price variants the answer selects, in genai-prices' terms, as the provider SDKs'
    instrumentations read them: OpenAI's service tier (``flex``, ``priority``) on the
    response; Anthropic's batch tier and fast mode on the usage."""
    context = []
    tier = field(result, "service_tier")
    if isinstance(tier, str):
        context.append(("service_tier", tier))
    if usage is not None:
        if field(usage, "service_tier") == "batch":
            context.append(("processing", "batch"))
        if field(usage, "speed") == "fast":
            context.append(("speed", "fast"))
    return tuple(context)


# -- responses -------------------------------------------------------------------------------------


#: what a call answered from LiteLLM's response cache consumed: nothing was billed
NOTHING_BILLED = Usage()


def answered_from_cache(result: Any) -> bool:
    """LiteLLM's response cache (``litellm.cache``) answered, not the provider: LiteLLM marks
    the result's ``_hidden_params`` (and names a cached stream's provider ``cached_response``,
    see ``streams``)."""
    hidden = getattr(result, "_hidden_params", None)
    return isinstance(hidden, Mapping) and hidden.get("cache_hit") is True


def response_model(result: Any, litellm_provider: str) -> str | None:
    """The model that answered: the provider's own answer where LiteLLM kept it, else the
    response's ``model`` without LiteLLM's ``provider/`` prefix."""
    hidden = getattr(result, "_hidden_params", None)
    if isinstance(hidden, Mapping):
        answered = given_str(hidden.get("provider_response_model"))
        if answered:
            return answered
    model = given_str(field(result, "model"))
    if model and model.startswith(litellm_provider + "/"):
        return model[len(litellm_provider) + 1 :]
    return model


def finish_reasons(choices: Any) -> tuple[str, ...] | None:
    if not choices:
        return None
    reasons = tuple(r for c in choices if (r := field(c, "finish_reason")))
    return reasons or None


def output_messages(choices: Any) -> str | None:
    return choice_messages(choices, lambda choice, message: field(message, "content"))


def completion_response(result: Any, litellm_provider: str, *, capture_content: bool) -> Response:
    """A ``ModelResponse`` (an answer from LiteLLM's cache carries the cached usage: it cost
    nothing now)."""
    choices = field(result, "choices")
    usage = field(result, "usage")
    attributes = None
    if capture_content and (messages := output_messages(choices)):
        attributes = {sc.GEN_AI_OUTPUT_MESSAGES: messages}
    return Response(
        NOTHING_BILLED if answered_from_cache(result) else usage_of(usage),
        model=response_model(result, litellm_provider),
        id=given_str(field(result, "id")),
        finish_reasons=finish_reasons(choices),
        price_context=price_context(result, usage),
        attributes=attributes,
    )


def embedding_response(result: Any, litellm_provider: str) -> Response:
    """An ``EmbeddingResponse``: input tokens only."""
    usage = field(result, "usage")
    return Response(
        Usage(input_tokens=int_field(usage, "prompt_tokens")) if usage is not None else None,
        model=response_model(result, litellm_provider),
    )
