"""Everything one ``instrument()`` sets up and the patched methods share: the price book, the
emitter, budgets and alert delivery.

``tokentrail.instrument()`` builds one ``Runtime`` from its arguments (falling back to the
``TOKENTRAIL_*`` environment) and hands it to each instrumentor. Zero-code use
(``opentelemetry-instrument``) calls each instrumentor without arguments; they then share one
runtime configured from the environment and the global OTel providers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from opentelemetry import metrics, trace

from . import config, pricing
from .config import to_usd
from .pricing import PriceBook
from .pricing.overrides import load_overrides
from .telemetry.emitter import Call, Emitter

__all__ = ["Runtime"]

#: ``instrument()`` keywords that configure a runtime
RUNTIME_OPTIONS = (
    "tracer_provider",
    "meter_provider",
    "budgets",
    "budget_store",
    "alert_sinks",
    "max_request_cost_usd",
    "prices",
    "capture_content",
    "stream_usage_hosts",
)


class Runtime:
    """The state shared by the patched methods of one instrumentation."""

    def __init__(
        self,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        budgets: Iterable[Any] = (),
        budget_store: Any = None,
        alert_sinks: Sequence[Any] = (),
        max_request_cost_usd: Decimal | float | str | None = None,
        prices: Any = None,
        capture_content: bool | None = None,
        stream_usage_hosts: Iterable[str] | None = None,
    ) -> None:
        # Validate everything before creating anything: a configuration error leaves no state.
        if prices is None:
            prices = config.env_str(config.ENV_PRICES_FILE)
        self.price_book = PriceBook(load_overrides(prices))
        if capture_content is None:
            capture_content = config.env_bool(config.ENV_CAPTURE_CONTENT)
        self.capture_content = bool(capture_content)
        if max_request_cost_usd is None:
            self.max_request_cost_usd = config.env_decimal(config.ENV_MAX_REQUEST_COST)
        else:
            self.max_request_cost_usd = to_usd(max_request_cost_usd, "max_request_cost_usd")
        if stream_usage_hosts is None:
            raw = config.env_str(config.ENV_STREAM_USAGE_HOSTS)
            stream_usage_hosts = raw.split(",") if raw else ()
        #: extra hosts that accept ``stream_options.include_usage`` (``*``: any host)
        self.stream_usage_hosts = frozenset(
            h.strip().lower() for h in stream_usage_hosts if h.strip()
        )

        self.emitter = Emitter(
            price_book=self.price_book,
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            capture_content=self.capture_content,
        )
        self._closed = False

    def admit(self, call: Call) -> None:
        """The pre-flight check before a call is sent. Budgets hook in here."""

    def activate(self) -> None:
        """Make this runtime's prices the ones ``calc_cost()`` uses."""
        pricing.set_active_book(self.price_book)

    @property
    def closed(self) -> bool:
        """Closed by ``uninstrument()``: wrappers that outlive it no longer report here."""
        return self._closed

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if pricing._active_book is self.price_book:
            pricing.set_active_book(None)


_shared: Runtime | None = None
_shared_users = 0
_shared_lock = threading.Lock()


def acquire_shared() -> Runtime:
    """The runtime that instrumentors configured only by the environment share."""
    global _shared, _shared_users
    with _shared_lock:
        if _shared is None:
            _shared = Runtime()
            _shared.activate()
        _shared_users += 1
        return _shared


def release_shared(runtime: Runtime) -> None:
    global _shared, _shared_users
    with _shared_lock:
        if runtime is not _shared:
            return
        _shared_users -= 1
        if _shared_users <= 0:
            _shared.close()
            _shared, _shared_users = None, 0
