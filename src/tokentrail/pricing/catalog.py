"""Prices from genai-prices: resolve a (provider, model) once and compile it.

genai-prices' own ``calc_price`` walks its unit registry on every call (~100 µs); we resolve
the model's ``ModelPrice`` once, compile it to per-unit rates (``rates.CompiledPrice``) and
only fall back to genai-prices' arithmetic for models priced on units we do not report.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from decimal import Decimal
from importlib.metadata import version
from typing import Any

from ..usage import UnreadableUsage, Usage
from .rates import USAGE_KEYS, CompiledPrice, Tiered

GENAI_PRICES_SOURCE = f"genai-prices {version('genai-prices')}"

#: ``gen_ai.provider.name`` -> genai-prices provider id (other names are tried as they are)
PROVIDER_IDS: dict[str, str] = {
    "openai": "openai",
    "azure.ai.openai": "azure",
    "anthropic": "anthropic",
    "aws.bedrock": "aws",
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "x_ai": "x-ai",
    "mistral_ai": "mistral",
    "groq": "groq",
    "deepseek": "deepseek",
    "perplexity": "perplexity",
    "together_ai": "together",
    "fireworks_ai": "fireworks",
    "openrouter": "openrouter",
    "cohere": "cohere",
}

#: genai-prices provider id -> the ``gen_ai.provider.name`` that reports it (first one wins)
_PROVIDER_NAMES: dict[str, str] = {}
for _name, _id in PROVIDER_IDS.items():
    _PROVIDER_NAMES.setdefault(_id, _name)

# Units that a model may price but whose usage we never report without ``Usage.details``
# (audio/image/video tokens, other tool calls, characters, pages ...): their count is 0, so
# they add nothing and change no other unit's leaf count.
_TEXT_MODALITY = "text"


class Resolved:
    """A model's price as resolved from genai-prices at one time."""

    __slots__ = ("compiled", "delegate", "varies_over_time")
    source = GENAI_PRICES_SOURCE

    def __init__(self, compiled: CompiledPrice | None, delegate: Any, varies_over_time: bool):
        #: the fast path; ``None`` when the model prices units we cannot compile
        self.compiled = compiled
        #: genai-prices ``ModelPrice`` for the slow path (``Usage.details`` or exotic units)
        self.delegate = delegate
        #: conditional (dated / time-of-day) prices: resolve again after a while
        self.varies_over_time = varies_over_time

    def cost(self, usage: Usage) -> Decimal:
        if self.compiled is not None and not usage.details:
            return self.compiled.cost(usage)
        try:
            return self.delegate.calc_price(_genai_usage(usage))["total_price"]
        except ValueError as exc:  # genai-prices: a part exceeds its whole
            raise UnreadableUsage(str(exc)) from exc


def resolve(
    provider: str, model: str, price_context: Mapping[str, str] | None = None
) -> Resolved | None:
    """The price of ``model`` at ``provider`` now, or ``None`` when genai-prices has none."""
    from genai_prices import data_snapshot

    snapshot = data_snapshot.get_snapshot()
    provider_id = PROVIDER_IDS.get(provider, provider)
    if provider_id == "aws" and model.startswith("arn:"):
        # a Bedrock ARN (foundation model, inference profile) names its model id last
        model = model.rsplit("/", 1)[-1]
    try:
        found_provider, model_info = snapshot.find_provider_model(model, None, provider_id, None)
    except LookupError:
        return None
    now = datetime.now(tz=timezone.utc)
    # genai-prices applies request variants (service tier, batch) only to the provider's own
    # models, not to models it found through another provider; do the same.
    own_model = any(model_info is m for m in found_provider.models)
    model_price = model_info.get_prices(
        now, dict(price_context) if price_context and own_model else None
    )
    varies = not hasattr(model_info.prices, "calc_price") or any(
        v.constraint is not None for v in (model_info.price_variants or ())
    )
    return Resolved(_compile(model_price), model_price, varies)


def find_provider(model: str) -> str | None:
    """The ``gen_ai.provider.name`` whose price list has ``model`` (genai-prices matches model
    names across providers), or None."""
    from genai_prices import data_snapshot

    snapshot = data_snapshot.get_snapshot()
    try:
        provider, _ = snapshot.find_provider_model(model, None, None, None)
    except LookupError:
        # a model that no provider claims by its name pattern (embeddings, say): look through
        # the price lists, the providers tokentrail instruments first
        first = {provider_id: i for i, provider_id in enumerate(_PROVIDER_NAMES)}
        ranked = sorted(snapshot.providers, key=lambda p: first.get(p.id, len(first)))
        provider = next((p for p in ranked if p.find_model(model.lower()) is not None), None)
        if provider is None:
            return None
    return _PROVIDER_NAMES.get(provider.id, provider.id)


def _compile(model_price: Any) -> CompiledPrice | None:
    from genai_prices.units import _get_registry

    registry = _get_registry()
    rates: dict[str, Decimal | Tiered] = {}
    per_request = Decimal(0)
    for price_key, value in model_price.__dict__.items():
        if value is None or price_key.startswith("_"):
            continue
        try:
            unit = registry.unit_for_price_key(price_key)
        except KeyError:
            return None  # a price key this genai-prices version does not know: delegate
        per = Decimal(unit.per)
        if unit.usage_key == "requests":
            if isinstance(value, Decimal):
                per_request += value / per
                continue
            return None
        if unit.usage_key in USAGE_KEYS:
            rates[unit.usage_key] = _rate(value, per)
        elif unit.dimensions.get("modality") == _TEXT_MODALITY:
            # text-specific prices interact with the totals we report; let genai-prices decide
            return None
        # else: a unit whose usage we never report (audio, image, other tools ...): count 0
    return CompiledPrice.from_unit_rates(rates, GENAI_PRICES_SOURCE, per_request)


def _rate(value: Any, per: Decimal) -> Decimal | Tiered:
    if isinstance(value, Decimal):
        return value / per
    return Tiered(value.base / per, tuple((t.start, t.price / per) for t in value.tiers))


def _genai_usage(usage: Usage) -> Any:
    from genai_prices import Usage as GenAIUsage

    values: dict[str, int] = {key: getattr(usage, attr) for key, attr in USAGE_KEYS.items()}
    values = {key: value for key, value in values.items() if value}
    values.update(usage.details)
    return GenAIUsage(**values)
