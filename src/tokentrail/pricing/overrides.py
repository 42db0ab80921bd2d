"""User price overrides: ``prices=`` at ``instrument()`` or ``TOKENTRAIL_PRICES_FILE``.

An override wins over genai-prices for the models it names (an exact name or a glob). Prices
are USD per million tokens. A wrong entry is a ``ConfigurationError`` that names the file,
the entry and the field, raised at ``instrument()``.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ..config import read_config_file
from ..exceptions import ConfigurationError
from .rates import CompiledPrice

OVERRIDE_SOURCE = "override"

_REQUIRED = ("input_mtok", "output_mtok")
_OPTIONAL = ("cache_read_mtok", "cache_write_mtok", "cache_write_1h_mtok")
_KNOWN = {"provider", "model", *_REQUIRED, *_OPTIONAL}
_MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class PriceOverride:
    provider: str | None  # None: any provider
    model: str
    price: CompiledPrice
    _pattern: re.Pattern[str] | None = None  # None: exact name

    def matches(self, provider: str, model: str) -> bool:
        if self.provider is not None and self.provider != provider:
            return False
        name = model.lower()
        return self._pattern.fullmatch(name) is not None if self._pattern else name == self.model


def load_overrides(source: Any) -> tuple[PriceOverride, ...]:
    """Read overrides from a path, a ``{"prices": [...]}`` mapping or a list of entries."""
    if source is None:
        return ()
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        return parse_overrides(read_config_file(path, "prices"), origin=str(path))
    return parse_overrides(source, origin="prices=")


def parse_overrides(data: Any, *, origin: str) -> tuple[PriceOverride, ...]:
    entries = data.get("prices") if isinstance(data, Mapping) else data
    if isinstance(data, Mapping) and set(data) - {"prices"}:
        extra = sorted(set(data) - {"prices"})
        raise ConfigurationError(f"{origin}: unknown top-level key(s) {extra}; expected 'prices'")
    if not isinstance(entries, Iterable) or isinstance(entries, (str, bytes, Mapping)):
        raise ConfigurationError(f"{origin}: 'prices' must be a list of entries")
    overrides = [_parse_entry(entry, f"{origin}: prices[{i}]") for i, entry in enumerate(entries)]
    # exact names win over globs, then file order
    return tuple(sorted(overrides, key=lambda o: o._pattern is not None))


def _parse_entry(entry: Any, where: str) -> PriceOverride:
    if not isinstance(entry, Mapping):
        raise ConfigurationError(f"{where}: must be a mapping, got {type(entry).__name__}")
    model = entry.get("model")
    if not isinstance(model, str) or not model.strip():
        raise ConfigurationError(f"{where}: field 'model' is required (a model name or glob)")
    where = f"{where} (model {model!r})"
    unknown = sorted(set(entry) - _KNOWN)
    if unknown:
        raise ConfigurationError(
            f"{where}: unknown field {unknown[0]!r}; allowed: {', '.join(sorted(_KNOWN))}"
        )
    provider = entry.get("provider")
    if provider is not None and (not isinstance(provider, str) or not provider.strip()):
        raise ConfigurationError(f"{where}: field 'provider' must be a provider name")
    rates: dict[str, Decimal] = {}
    for field in (*_REQUIRED, *_OPTIONAL):
        if field not in entry:
            if field in _REQUIRED:
                raise ConfigurationError(
                    f"{where}: field {field!r} is required (USD per 1M tokens)"
                )
            continue
        rates[field] = _price(entry[field], where, field)
    unit_rates = {
        "input_tokens": rates["input_mtok"] / _MILLION,
        "output_tokens": rates["output_mtok"] / _MILLION,
    }
    for field, key in (
        ("cache_read_mtok", "cache_read_tokens"),
        ("cache_write_mtok", "cache_write_tokens"),
        ("cache_write_1h_mtok", "cache_write_1h_tokens"),
    ):
        if field in rates:
            unit_rates[key] = rates[field] / _MILLION
    name = model.strip().lower()
    is_glob = any(c in name for c in "*?[")
    return PriceOverride(
        provider=provider.strip() if provider else None,
        model=name,
        price=CompiledPrice.from_unit_rates(unit_rates, OVERRIDE_SOURCE),
        _pattern=re.compile(fnmatch.translate(name)) if is_glob else None,
    )


def _price(value: Any, where: str, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise ConfigurationError(f"{where}: field {field!r} must be a number, got {value!r}")
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        raise ConfigurationError(
            f"{where}: field {field!r} must be a number, got {value!r}"
        ) from None
    if not price.is_finite() or price < 0:
        raise ConfigurationError(f"{where}: field {field!r} must be >= 0, got {value!r}")
    return price
