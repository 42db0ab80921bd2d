"""Everything one ``instrument()`` sets up and the patched methods share (``Runtime``: the
price book, the emitter, budgets and alert delivery, the route → feature map), and the one
object that knows which runtimes this process has (``state()``).

``tokentrail.instrument()`` builds one ``Runtime`` from its arguments (falling back to the
``TOKENTRAIL_*`` environment) and hands it to each instrumentor. Zero-code use
(``opentelemetry-instrument``) calls each instrumentor without arguments; they then share one
runtime configured from the environment and the global OTel providers. An instrumentor given
its own options (``OpenAIInstrumentor().instrument(tracer_provider=...)``) owns a runtime.

At interpreter exit, every open runtime writes what it still has queued — budget spending
bound for Redis, alerts bound for their sinks — within ``TOKENTRAIL_EXIT_TIMEOUT`` seconds (2
by default), so a short-lived process that never calls ``flush()`` loses nothing; what cannot
be written in time is logged with its amount.
"""

from __future__ import annotations

import atexit
import logging
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from opentelemetry import metrics, trace

from . import _background, _guard, attribution, config
from .alerts import build_sinks
from .alerts.delivery import AlertDispatcher
from .attribution import Attribution
from .attribution import current as current_attribution
from .budgets.admission import Admission
from .budgets.models import load_budgets
from .budgets.stores.memory import MemoryBudgetStore
from .budgets.tracker import BudgetTracker
from .config import to_usd
from .exceptions import ConfigurationError
from .pricing import Cost, PriceBook
from .pricing.overrides import load_overrides
from .telemetry.emitter import Emitter
from .telemetry.instruments import create_alerts_counter
from .telemetry.records import Request
from .usage import Usage
from .web import routes
from .web.features import FeatureMap, load_features

logger = logging.getLogger("tokentrail")

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
    "features",
)

_ADMIT = _guard.site("admit", "tokentrail.budgets.tracker:BudgetTracker.admit")
_ROUTE = _guard.site("route", "tokentrail.web.routes:request_route")

#: how long ``close()`` waits for pending budget writes and alert deliveries
CLOSE_TIMEOUT_S = 2.0


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
        features: Any = None,
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
        if features is None:
            features = config.env_str(config.ENV_FEATURES_FILE)
        #: web route -> feature, for calls made in a traced request (None: no mapping)
        self.features: FeatureMap | None = load_features(features)
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
        self._admits = False
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
            self._admits = self.tracker.admits
        #: attribution baggage configured from the environment (undone by close())
        self._baggage = baggage
        if baggage is not None:
            attribution.configure_baggage(send=baggage[0], receive=baggage[1], hash_key=hash_key)
        routes.track(tracer_provider)
        #: closed by ``uninstrument()``: wrappers that outlive it no longer report here (an
        #: attribute, not a property: every call reads it)
        self.closed = False

    def attribution(self) -> Attribution:
        """The attribution of a call starting here: the ``attribute()`` blocks in effect, with
        the route of the web request the call is made in as the endpoint, and the feature the
        route maps to, where the blocks set none."""
        blocks = current_attribution()
        if blocks.endpoint is not None and (blocks.feature is not None or self.features is None):
            return blocks  # nothing the route could add
        try:
            route = routes.request_route()
            if route is None:
                return blocks
            feature = self.features.feature(route) if self.features is not None else None
            return blocks.with_defaults(route, feature)
        except Exception as exc:
            _guard.report(_ROUTE, exc)
            return blocks

    def admit(self, request: Request, attribution: Attribution) -> Admission | None:
        """The pre-flight check before a call is sent: what its blocking budgets decide
        (a reservation, or the refusal to raise). None when no budget has a say."""
        if not self._admits:
            return None
        try:
            return self.tracker.admit(request, attribution)  # type: ignore[union-attr]
        except Exception as exc:
            _guard.report(_ADMIT, exc)
            return None

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait (at most ``timeout`` seconds) for background work: budget writes to a remote
        store, then alert deliveries. True if everything was done."""
        deadline = time.monotonic() + timeout
        done = self.tracker.flush(deadline) if self.tracker is not None else True
        if self.alerts is not None:
            done = self.alerts.flush(max(0.0, deadline - time.monotonic())) and done
        return done

    def close(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """Write what is queued (at most ``timeout`` seconds), stop the background threads,
        and forget this runtime."""
        if self.closed:
            return
        self.closed = True
        if self.tracker is not None:
            # pending budget writes first (they may fire alerts), then pending alerts
            deadline = time.monotonic() + timeout
            self.tracker.close(deadline)
            self.alerts.close(max(0.0, deadline - time.monotonic()))  # type: ignore[union-attr]
            self.emitter.listeners.remove(self.tracker.on_call_end)
        if self._baggage is not None:
            attribution.configure_baggage()
        routes.untrack()
        _STATE.remove(self)


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


class State:
    """What this process has set up: the runtime ``tokentrail.instrument()`` installed (with
    its instrumentors), the one zero-code instrumentors share, and every open runtime (the
    newest one's prices are what ``calc_cost`` uses). One object, reached through
    ``state()``; its lock serialises instrumenting and uninstrumenting."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        #: (runtime, instrumentors) of ``tokentrail.instrument()``
        self.installed: tuple[Runtime, list[Any]] | None = None
        self._shared: Runtime | None = None
        self._shared_users = 0
        self._runtimes: list[Runtime] = []
        self._default_book: tuple[str | None, PriceBook] | None = None
        self._exit_hook = False

    # -- runtimes ----------------------------------------------------------------------------

    def add(self, runtime: Runtime) -> None:
        """``runtime`` is in use: its prices are now the ones ``calc_cost`` uses, and it is
        flushed at exit."""
        with self.lock:
            self._runtimes.append(runtime)
            if not self._exit_hook:
                self._exit_hook = True
                atexit.register(self.at_exit)

    def remove(self, runtime: Runtime) -> None:
        with self.lock:
            if runtime in self._runtimes:
                self._runtimes.remove(runtime)

    def runtimes(self) -> list[Runtime]:
        with self.lock:
            return list(self._runtimes)

    def acquire_shared(self) -> Runtime:
        """The runtime that instrumentors configured only by the environment share."""
        with self.lock:
            if self._shared is None:
                self._shared = Runtime()
                self.add(self._shared)
            self._shared_users += 1
            return self._shared

    def release_shared(self, runtime: Runtime) -> None:
        with self.lock:
            if runtime is not self._shared:
                return
            self._shared_users -= 1
            if self._shared_users <= 0:
                shared, self._shared, self._shared_users = self._shared, None, 0
                shared.close()

    # -- prices ------------------------------------------------------------------------------

    @property
    def price_book(self) -> PriceBook:
        """The newest open runtime's prices, else the ones ``TOKENTRAIL_PRICES_FILE`` gives."""
        with self.lock:
            if self._runtimes:
                return self._runtimes[-1].price_book
            path = config.env_str(config.ENV_PRICES_FILE)
            if self._default_book is None or self._default_book[0] != path:
                self._default_book = (path, PriceBook(load_overrides(path)))
            return self._default_book[1]

    # -- background work ---------------------------------------------------------------------

    def flush(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` seconds) until the calls dropped unfinished are reported
        and every runtime has written its budget spending and delivered its alerts."""
        deadline = time.monotonic() + timeout
        done = _background.deferred.wait_idle(deadline)
        for runtime in self.runtimes():
            done = runtime.flush(max(0.0, deadline - time.monotonic())) and done
        return done

    def at_exit(self) -> None:
        """Registered with ``atexit`` when the first runtime is added: write what is queued,
        within the exit timeout, and log what could not be written."""
        try:
            timeout = config.env_seconds(config.ENV_EXIT_TIMEOUT, CLOSE_TIMEOUT_S)
        except ConfigurationError:
            timeout = CLOSE_TIMEOUT_S
        deadline = time.monotonic() + timeout
        if not _background.deferred.wait_idle(deadline):
            logger.warning("tokentrail: calls dropped unfinished were not all reported at exit")
        # what ends the process, if an exception does (a Ctrl-C): the calls it interrupted
        # end with it (3.12 has sys.last_exc; earlier versions sys.last_value)
        error = getattr(sys, "last_exc", None) or getattr(sys, "last_value", None)
        for runtime in self.runtimes():
            runtime.emitter.end_unfinished(error)
        for runtime in reversed(self.runtimes()):
            runtime.close(max(0.0, deadline - time.monotonic()))


_STATE = State()


def state() -> State:
    """The process's instrumentation state (the only accessor; see ``State``)."""
    return _STATE


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
    return _STATE.price_book.cost(usage, provider, model, price_context=context)
