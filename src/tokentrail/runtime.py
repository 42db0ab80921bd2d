"""Everything one ``instrument()`` sets up and the patched methods share: the price book, the
emitter, budgets and alert delivery.

``tokentrail.instrument()`` builds one ``Runtime`` from its arguments (falling back to the
``TOKENTRAIL_*`` environment) and hands it to each instrumentor. Zero-code use
(``opentelemetry-instrument``) calls each instrumentor without arguments; they then share one
runtime configured from the environment and the global OTel providers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from opentelemetry import metrics, trace

from . import attribution, config, pricing
from .alerts import build_sinks
from .alerts.delivery import AlertDispatcher
from .budgets.models import load_budgets
from .budgets.stores.memory import MemoryBudgetStore
from .budgets.tracker import BudgetTracker
from .config import to_usd
from .exceptions import ConfigurationError
from .pricing import PriceBook
from .pricing.overrides import load_overrides
from .telemetry.emitter import Call, Emitter
from .telemetry.instruments import create_alerts_counter

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
        baggage = config.env_baggage()
        hash_key = config.env_str(config.ENV_ATTRIBUTION_HASH_KEY)
        if hash_key is not None and len(hash_key.encode()) > 64:
            raise ConfigurationError(f"{config.ENV_ATTRIBUTION_HASH_KEY}: at most 64 bytes")
        if not budgets:
            budgets = config.env_str(config.ENV_BUDGETS_FILE)
        self.budgets = load_budgets(budgets)
        alerting = bool(self.budgets) or self.max_request_cost_usd is not None
        sinks = build_sinks(alert_sinks) if alerting else []
        store = _budget_store(budget_store) if alerting else None

        self.emitter = Emitter(
            price_book=self.price_book,
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            capture_content=self.capture_content,
        )
        #: budgets and alerts; None when neither budgets nor max_request_cost_usd is set
        self.tracker: BudgetTracker | None = None
        self.alerts: AlertDispatcher | None = None
        self._admit = None
        if store is not None:
            self.alerts = AlertDispatcher(sinks, create_alerts_counter(self.emitter.meter))
            self.tracker = BudgetTracker(
                self.budgets,
                store=store,
                price_book=self.price_book,
                dispatcher=self.alerts,
                meter=self.emitter.meter,
                max_request_cost_usd=self.max_request_cost_usd,
            )
            self.emitter.listeners.append(self.tracker.on_call_end)
            if self.tracker.blocking_plans:
                self._admit = self.tracker.admit
        #: attribution baggage configured from the environment (undone by close())
        self._baggage = baggage
        if baggage is not None:
            attribution.configure_baggage(send=baggage[0], receive=baggage[1], hash_key=hash_key)
        self._closed = False

    def admit(self, call: Call) -> None:
        """The pre-flight check before a call is sent: blocking budgets reserve its worst
        case here or raise ``BudgetExceededError`` (a ``TokenTrailError``)."""
        if self._admit is not None:
            self._admit(call)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait (at most ``timeout`` seconds) for background work: budget writes to a remote
        store, then alert deliveries. True if everything was done."""
        deadline = time.monotonic() + timeout
        done = self.tracker.flush(deadline) if self.tracker is not None else True
        if self.alerts is not None:
            done = self.alerts.flush(max(0.0, deadline - time.monotonic())) and done
        return done

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
        if self.tracker is not None:
            # pending budget writes first (they may fire alerts), then pending alerts
            deadline = time.monotonic() + _CLOSE_TIMEOUT_S
            self.tracker.close(deadline)
            self.alerts.close(max(0.0, deadline - time.monotonic()))  # type: ignore[union-attr]
            self.emitter.listeners.remove(self.tracker.on_call_end)
        if self._baggage is not None:
            attribution.configure_baggage()
        if pricing._active_book is self.price_book:
            pricing.set_active_book(None)


#: how long ``close()`` waits for pending budget writes and alert deliveries
_CLOSE_TIMEOUT_S = 2.0


def _budget_store(store: Any) -> Any:
    """The store given, else Redis at ``TOKENTRAIL_REDIS_URL``, else memory."""
    if store is not None:
        if not all(hasattr(store, name) for name in ("reserve", "record", "read", "claim")):
            raise ConfigurationError(
                f"budget_store: {store!r} is not a budget store "
                "(MemoryBudgetStore or RedisBudgetStore)"
            )
        return store
    url = config.env_str(config.ENV_REDIS_URL)
    if url is None:
        return MemoryBudgetStore()
    from .budgets.stores.redis import RedisBudgetStore

    fail_open = config.env_bool(config.ENV_BUDGET_FAIL_OPEN, default=True)
    return RedisBudgetStore(url, fail_open=fail_open)


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
