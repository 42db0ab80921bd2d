"""A model's prices compiled once into per-unit rates, so that pricing a call is a few
multiplications.

The arithmetic is genai-prices' own: every priced unit is charged for its *leaf* count, its
usage minus what more specific priced units already charged (cache reads are charged at the
cache-read rate and the rest of the input at the input rate; 1-hour cache writes at their own
rate and the other writes at the cache-write rate). Tiers are "cliff" tiers on the total input.
``tests/unit/pricing`` checks this module against ``genai_prices.calc_price`` on every model of
the major providers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from ..usage import UnreadableUsage, Usage

# Usage attribute for each genai-prices usage key we report. Order: most specific first, so
# that each unit's leaf count can subtract the leaves of its priced descendants.
USAGE_KEYS: dict[str, str] = {
    "cache_write_1h_tokens": "cache_write_1h_tokens",
    "cache_write_tokens": "cache_write_tokens",
    "cache_read_tokens": "cache_read_tokens",
    "input_tokens": "input_tokens",
    "output_reasoning_tokens": "reasoning_tokens",
    "output_tokens": "output_tokens",
    "web_searches": "web_search_requests",
}

# Which of the keys above each key contains (the dimension-subset relation of genai-prices'
# unit registry, restricted to what we report).
DESCENDANTS: dict[str, tuple[str, ...]] = {
    "cache_write_1h_tokens": (),
    "cache_write_tokens": ("cache_write_1h_tokens",),
    "cache_read_tokens": (),
    "input_tokens": ("cache_read_tokens", "cache_write_tokens", "cache_write_1h_tokens"),
    "output_reasoning_tokens": (),
    "output_tokens": ("output_reasoning_tokens",),
    "web_searches": (),
}


@dataclass(frozen=True, slots=True)
class Tiered:
    """A per-unit rate that switches, for all units, once total input passes a threshold."""

    base: Decimal
    #: (threshold in input tokens, rate), ascending
    tiers: tuple[tuple[int, Decimal], ...]

    def at(self, input_tokens: int) -> Decimal:
        for start, rate in reversed(self.tiers):
            if input_tokens > start:
                return rate
        return self.base


Rate = Decimal | Tiered


@dataclass(frozen=True, slots=True)
class CompiledPrice:
    """Per-unit rates (USD per token, per search, per request) of one model at one time."""

    #: (usage attribute, rate, usage attributes of priced descendants), most specific first
    units: tuple[tuple[str, Rate, tuple[str, ...]], ...]
    #: USD charged once per request
    per_request: Decimal
    #: ``"genai-prices <version>"`` or ``"override"``
    source: str
    has_tiers: bool = False

    @classmethod
    def from_unit_rates(cls, rates: Mapping[str, Rate], source: str, per_request=Decimal(0)):
        """Build from rates keyed by genai-prices usage key (only keys of ``USAGE_KEYS``)."""
        units = tuple(
            (
                USAGE_KEYS[key],
                rates[key],
                tuple(USAGE_KEYS[d] for d in DESCENDANTS[key] if d in rates),
            )
            for key in USAGE_KEYS
            if key in rates
        )
        has_tiers = any(isinstance(rate, Tiered) for rate in rates.values())
        return cls(units, per_request, source, has_tiers)

    def cost(self, usage: Usage) -> Decimal:
        input_tokens = usage.input_tokens
        leaves: dict[str, int] = {}
        total = self.per_request
        for attr, rate, descendants in self.units:
            count = getattr(usage, attr)
            for d in descendants:
                count -= leaves[d]
            if count < 0:
                raise UnreadableUsage(f"usage is inconsistent: {attr} is smaller than its parts")
            leaves[attr] = count
            if count:
                if rate.__class__ is Tiered:
                    rate = rate.at(input_tokens)
                total += rate * count
        return total
