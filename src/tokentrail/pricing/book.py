"""Where a call's price is looked up: user overrides first, then genai-prices; cached."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence

from ..usage import Usage
from .catalog import find_provider, resolve
from .cost import ESTIMATED, PRICED, UNPRICED_COST, Cost
from .overrides import PriceOverride

logger = logging.getLogger("tokentrail")

#: how long a price that changes over time (dated or time-of-day prices) is reused
_VARYING_TTL_S = 60.0
_MAX_ENTRIES = 4096
#: the provider of a model priced by an override that names none (it matches any provider)
ANY_PROVIDER = "*"
#: providers whose request model is what is billed: Bedrock's model id (or inference
#: profile, e.g. ``global.anthropic...``) sets the price; its Anthropic answers name the bare
#: model (``claude-haiku-4-5-20251001``), which would be priced at the regional rate
_REQUEST_MODEL_FIRST = frozenset({"aws.bedrock"})


class PriceBook:
    """Prices calls. A (provider, model, price context) is resolved once and then cached, so
    pricing a call costs a dict lookup and a few ``Decimal`` multiplications."""

    def __init__(self, overrides: Sequence[PriceOverride] = ()) -> None:
        self.overrides = tuple(overrides)
        # key -> (pricer or None, monotonic expiry or None, compiled rates or None)
        self._cache: dict[tuple, tuple[object | None, float | None, object | None]] = {}
        self._warned: set[tuple[str, str]] = set()

    def cost(
        self,
        usage: Usage,
        provider: str,
        model: str | None,
        request_model: str | None = None,
        price_context: tuple[tuple[str, str], ...] = (),
    ) -> Cost:
        """Price ``usage``. ``model`` is the response model (what really ran); when it is
        unknown to the price list, ``request_model`` is tried."""
        key = (provider, model, request_model, price_context)
        entry = self._cache.get(key)
        if entry is None or (entry[1] is not None and entry[1] < time.monotonic()):
            entry = self._resolve(key)
        pricer = entry[0]
        if pricer is None:
            return UNPRICED_COST
        compiled = entry[2]
        if compiled is not None and not usage.details:  # the usual case, one call less
            amount = compiled.cost(usage)
        else:
            amount = pricer.cost(usage)  # type: ignore[attr-defined]
        return Cost(amount, ESTIMATED if usage.estimated else PRICED, pricer.source)  # type: ignore[attr-defined]

    def find_provider(self, model: str) -> str | None:
        """The provider whose prices have ``model``: an override's (``ANY_PROVIDER`` when it
        names none), else the ``gen_ai.provider.name`` of the genai-prices provider that
        lists it; None when nobody prices it."""
        for override in self.overrides:
            if override.matches(override.provider or ANY_PROVIDER, model):
                return override.provider or ANY_PROVIDER
        return find_provider(model)

    def _resolve(self, key: tuple) -> tuple[object | None, float | None, object | None]:
        provider, model, request_model, price_context = key
        tried = (
            (request_model, model) if provider in _REQUEST_MODEL_FIRST else (model, request_model)
        )
        names = list(dict.fromkeys(m for m in tried if m))
        # an override for either name wins over genai-prices for both: a user who prices
        # "gpt-4o" means the calls that ask for it, whatever snapshot answers
        pricer, varies = self._override(provider, names), False
        if pricer is None:
            for name in names:
                pricer, varies = self._find(provider, name, dict(price_context))
                if pricer is not None:
                    break
        if pricer is None:
            self._warn_unpriced(provider, model or request_model or "")
        # (pricer, monotonic expiry or None, its compiled rates when it has them)
        entry = (
            pricer,
            time.monotonic() + _VARYING_TTL_S if varies else None,
            getattr(pricer, "compiled", None),
        )
        if len(self._cache) >= _MAX_ENTRIES:
            self._cache.clear()
        self._cache[key] = entry
        return entry

    def _override(self, provider: str, names: list[str]):
        for name in names:
            for override in self.overrides:
                if override.matches(provider, name):
                    return override.price
        return None

    def _find(self, provider: str, model: str, context: dict[str, str]):
        resolved = resolve(provider, model, context)
        if resolved is None:
            return None, False
        return resolved, resolved.varies_over_time

    def _warn_unpriced(self, provider: str, model: str) -> None:
        if (provider, model) in self._warned:
            return
        self._warned.add((provider, model))
        logger.warning(
            "tokentrail has no price for model %r of provider %r: its calls are counted as "
            "unpriced (never $0). To price them, add this entry under 'prices:' in "
            "TOKENTRAIL_PRICES_FILE (or pass it in instrument(prices=[...])) with your rates "
            "in USD per million tokens: %s",
            model,
            provider,
            price_entry(provider, model),
        )


def price_entry(provider: str, model: str) -> str:
    """The prices-file entry that prices ``model`` of ``provider``, as one line of YAML with
    the rates left for the user to fill in (unfilled, the file is rejected, never read as $0)."""
    return (
        f"- {{provider: {json.dumps(provider)}, model: {json.dumps(model)}, "
        "input_mtok: <USD per 1M input tokens>, output_mtok: <USD per 1M output tokens>}"
    )
