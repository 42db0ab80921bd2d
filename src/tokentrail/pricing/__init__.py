"""Exact prices for LLM calls: genai-prices data, user overrides, ``Decimal`` arithmetic.

``PriceBook`` prices a call (overrides first, then genai-prices; each model resolved once and
cached). Which book is in force is the runtime's business (``runtime.calc_cost``).
"""

from __future__ import annotations

from .book import ANY_PROVIDER, PriceBook
from .cost import ESTIMATED, PRICED, UNPRICED, Cost

__all__ = ["ANY_PROVIDER", "ESTIMATED", "PRICED", "UNPRICED", "Cost", "PriceBook"]
