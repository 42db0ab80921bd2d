"""Settings from ``instrument()`` arguments and ``TOKENTRAIL_*`` environment variables.

Arguments win over the environment, which wins over defaults. Everything is validated here,
at ``instrument()``: a bad value is a ``ConfigurationError`` then, never a surprise later.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from .exceptions import ConfigurationError

ENV_CAPTURE_CONTENT = "TOKENTRAIL_CAPTURE_CONTENT"
ENV_MAX_REQUEST_COST = "TOKENTRAIL_MAX_REQUEST_COST_USD"
ENV_PRICES_FILE = "TOKENTRAIL_PRICES_FILE"
ENV_BUDGETS_FILE = "TOKENTRAIL_BUDGETS_FILE"
#: web route (glob) -> feature, for calls made in a traced web request
ENV_FEATURES_FILE = "TOKENTRAIL_FEATURES_FILE"
ENV_REDIS_URL = "TOKENTRAIL_REDIS_URL"
ENV_ALERT_WEBHOOK_URL = "TOKENTRAIL_ALERT_WEBHOOK_URL"
ENV_SLACK_WEBHOOK_URL = "TOKENTRAIL_SLACK_WEBHOOK_URL"
ENV_PAGERDUTY_ROUTING_KEY = "TOKENTRAIL_PAGERDUTY_ROUTING_KEY"
#: link template for alerts, e.g. ``https://jaeger.example.com/trace/{trace_id}``
ENV_TRACE_URL = "TOKENTRAIL_TRACE_URL"
#: ``false``: a blocking budget refuses calls while its Redis store is unreachable
ENV_BUDGET_FAIL_OPEN = "TOKENTRAIL_BUDGET_FAIL_OPEN"
#: attribution in OTel baggage: ``off`` (default), ``send``, ``receive`` or ``both``
ENV_BAGGAGE = "TOKENTRAIL_ATTRIBUTION_BAGGAGE"
#: the key of the hash that user ids become in baggage (the same in every service)
ENV_ATTRIBUTION_HASH_KEY = "TOKENTRAIL_ATTRIBUTION_HASH_KEY"
#: hosts (comma separated, ``*`` for any) that accept ``stream_options.include_usage``
ENV_STREAM_USAGE_HOSTS = "TOKENTRAIL_STREAM_USAGE_HOSTS"
#: seconds the process may spend at exit writing budget spending and delivering alerts
ENV_EXIT_TIMEOUT = "TOKENTRAIL_EXIT_TIMEOUT"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    value = (os.environ if environ is None else environ).get(name, "").strip()
    return value or None


def env_bool(name: str, default: bool = False, environ: Mapping[str, str] | None = None) -> bool:
    raw = (os.environ if environ is None else environ).get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigurationError(f"{name}={raw!r}: expected true or false")


def env_decimal(name: str, environ: Mapping[str, str] | None = None) -> Decimal | None:
    raw = env_str(name, environ)
    if raw is None:
        return None
    return to_usd(raw, name)


def env_seconds(name: str, default: float, environ: Mapping[str, str] | None = None) -> float:
    """A duration in seconds (>= 0) from the environment, ``default`` when unset."""
    raw = env_str(name, environ)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r}: expected a number of seconds") from None
    if not 0 <= value < float("inf"):
        raise ConfigurationError(f"{name}={raw!r}: expected a number of seconds >= 0")
    return value


_BAGGAGE_MODES = {
    "off": (False, False),
    "send": (True, False),
    "receive": (False, True),
    "both": (True, True),
}


def env_baggage(environ: Mapping[str, str] | None = None) -> tuple[bool, bool] | None:
    """``(send, receive)`` from ``TOKENTRAIL_ATTRIBUTION_BAGGAGE``, None when unset."""
    raw = env_str(ENV_BAGGAGE, environ)
    if raw is None:
        return None
    mode = raw.lower()
    if mode in _TRUE:
        mode = "both"
    elif mode in _FALSE:
        mode = "off"
    if mode not in _BAGGAGE_MODES:
        raise ConfigurationError(f"{ENV_BAGGAGE}={raw!r}: expected off, send, receive or both")
    return _BAGGAGE_MODES[mode]


def to_usd(value: Any, what: str) -> Decimal:
    """A non-negative USD amount from a number or numeric string."""
    if isinstance(value, bool):
        raise ConfigurationError(f"{what}: expected an amount in USD, got {value!r}")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ConfigurationError(f"{what}: expected an amount in USD, got {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise ConfigurationError(f"{what}: expected an amount >= 0 USD, got {value!r}")
    return amount


def read_config_file(path: Path, what: str) -> Any:
    """Parse a YAML (or ``.json``) file, turning every failure into a ConfigurationError."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read the {what} file: {exc.strerror}") from None
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        import yaml

        return yaml.safe_load(text)
    except Exception as exc:  # JSONDecodeError, yaml.YAMLError
        raise ConfigurationError(f"{path}: the {what} file is not valid YAML/JSON: {exc}") from None
