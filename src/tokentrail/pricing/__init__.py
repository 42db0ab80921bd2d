"""Exact prices for LLM calls: genai-prices data, user overrides, ``Decimal`` arithmetic."""

from __future__ import annotations

from collections.abc import Mapping

from ..usage import Usage
from .book import PriceBook
from .cost import ESTIMATED, PRICED, UNPRICED, Cost

__all__ = ["ESTIMATED", "PRICED", "UNPRICED", "Cost", "PriceBook", "calc_cost"]

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
