"""Exact prices for LLM calls: genai-prices data, user overrides, ``Decimal`` arithmetic."""

from __future__ import annotations

from collections.abc import Mapping

from ..usage import Usage
from .book import PriceBook
from .catalog import find_provider as _find_catalog_provider
from .cost import ESTIMATED, PRICED, UNPRICED, Cost

__all__ = [
    "ANY_PROVIDER",
    "ESTIMATED",
    "PRICED",
    "UNPRICED",
    "Cost",
    "PriceBook",
    "calc_cost",
    "find_provider",
]

_default_book: PriceBook | None = None
_active_book: PriceBook | None = None


def set_active_book(book: PriceBook | None) -> None:
    """The runtime installs its book (with the user's overrides) here for ``calc_cost``."""
    global _active_book
    _active_book = book


def _book() -> PriceBook:
    global _default_book
    if _active_book is not None:
        return _active_book
    if _default_book is None:
        from ..config import ENV_PRICES_FILE, env_str
        from .overrides import load_overrides

        _default_book = PriceBook(load_overrides(env_str(ENV_PRICES_FILE)))
    return _default_book


#: the provider of a model priced by an override that names none (it matches any provider)
ANY_PROVIDER = "*"


def find_provider(model: str) -> str | None:
    """The provider whose prices have ``model``: a price override's (``ANY_PROVIDER`` when it
    names none), else the ``gen_ai.provider.name`` of the genai-prices provider that lists it;
    None when nobody prices it."""
    for override in _book().overrides:
        if override.matches(override.provider or ANY_PROVIDER, model):
            return override.provider or ANY_PROVIDER
    return _find_catalog_provider(model)


def calc_cost(
    usage: Usage,
    model: str,
    provider: str,
    *,
    price_context: Mapping[str, str] | None = None,
) -> Cost:
    """Price one ``Usage`` of ``model`` at ``provider``.

    ``provider`` is a ``gen_ai.provider.name`` (``"openai"``, ``"anthropic"``, ``"gcp.gemini"``
    ...) or a genai-prices provider id. ``price_context`` selects price variants such as
    ``{"service_tier": "priority"}``. The overrides of the running ``instrument()`` (or of
    ``TOKENTRAIL_PRICES_FILE``) apply. An unknown model gives ``Cost(None, "unpriced")``.
    """
    context = tuple(sorted(price_context.items())) if price_context else ()
    return _book().cost(usage, provider, model, price_context=context)
