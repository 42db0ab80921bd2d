"""tokentrail: see, attribute and control what your LLM calls cost, with OpenTelemetry.

>>> import tokentrail
>>> tokentrail.instrument()                      # every installed SDK, global OTel providers
>>> with tokentrail.attribute(feature="search", team="core", user_id="u-42"):
...     client.chat.completions.create(...)      # span + tokens + cost, attributed

Zero-code: ``opentelemetry-instrument python app.py`` (entry points ``tokentrail_openai``,
``tokentrail_anthropic``, ``tokentrail_google_genai``), configured by ``TOKENTRAIL_*``
environment variables.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .alerts import Alert, CallbackSink, LogSink, PagerDutySink, SlackSink, WebhookSink
from .attribution import attribute
from .budgets import Budget, MemoryBudgetStore, RedisBudgetStore
from .exceptions import (
    BudgetExceededError,
    BudgetStoreUnavailableError,
    ConfigurationError,
    TokenTrailError,
)
from .pricing import Cost
from .usage import Usage
from .version import __version__

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

    from .instrumentation.anthropic import AnthropicInstrumentor
    from .instrumentation.bedrock import BedrockInstrumentor
    from .instrumentation.google_genai import GoogleGenAIInstrumentor
    from .instrumentation.litellm import LiteLLMInstrumentor
    from .instrumentation.mistralai import MistralInstrumentor
    from .instrumentation.openai import OpenAIInstrumentor
    from .instrumentation.providers import Provider
    from .runtime import calc_cost

__all__ = [
    "Alert",
    "AnthropicInstrumentor",
    "BedrockInstrumentor",
    "Budget",
    "BudgetExceededError",
    "BudgetStoreUnavailableError",
    "CallbackSink",
    "ConfigurationError",
    "Cost",
    "GoogleGenAIInstrumentor",
    "LiteLLMInstrumentor",
    "LogSink",
    "MemoryBudgetStore",
    "MistralInstrumentor",
    "OpenAIInstrumentor",
    "PagerDutySink",
    "RedisBudgetStore",
    "SlackSink",
    "TokenTrailError",
    "Usage",
    "WebhookSink",
    "__version__",
    "attribute",
    "calc_cost",
    "flush",
    "instrument",
    "uninstrument",
]

logger = logging.getLogger("tokentrail")


def instrument(
    *,
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
    providers: Iterable[str] | None = None,
    budgets: Iterable[Any] = (),
    budget_store: Any = None,
    alert_sinks: Sequence[Any] = (),
    max_request_cost_usd: Decimal | float | str | None = None,
    prices: Any = None,
    capture_content: bool | None = None,
    features: Any = None,
) -> None:
    """Instrument every installed supported SDK (or those named in ``providers``).

    Providers default to the global OTel ones. ``prices`` (a path, or a list of override
    entries), ``max_request_cost_usd``, ``capture_content`` and ``features`` (web route globs
    to features, for calls made in a traced request: a path, a mapping or a list of
    ``{"route", "feature"}`` entries; the first match wins) fall back to their
    ``TOKENTRAIL_*`` environment variables. A wrong setting raises ``ConfigurationError``
    here; nothing touches the network. Calling it again while instrumented does nothing.
    """
    from .runtime import Runtime, state

    current = state()
    with current.lock:
        if current.installed is not None:
            logger.debug("tokentrail.instrument(): already instrumented")
            return
        selected = _select(providers)
        runtime = Runtime(
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            budgets=budgets,
            budget_store=budget_store,
            alert_sinks=alert_sinks,
            max_request_cost_usd=max_request_cost_usd,
            prices=prices,
            capture_content=capture_content,
            features=features,
        )
        current.add(runtime)
        instrumentors: list[Any] = []
        try:
            for provider in selected:
                instrumentor = _instrumentor(provider, explicit=providers is not None)
                if instrumentor is None:
                    continue
                instrumentor.instrument(runtime=runtime)
                if instrumentor.is_instrumented_by_opentelemetry:
                    instrumentors.append(instrumentor)
        except BaseException:
            for instrumentor in instrumentors:
                instrumentor.uninstrument()
            runtime.close()
            raise
        current.installed = (runtime, instrumentors)


def uninstrument() -> None:
    """Undo everything ``instrument()`` did: restore the SDK methods, stop background work."""
    from .runtime import state

    current = state()
    with current.lock:
        if current.installed is None:
            return
        runtime, instrumentors = current.installed
        current.installed = None
        for instrumentor in instrumentors:
            instrumentor.uninstrument()
        runtime.close()


def flush(timeout: float = 5.0) -> bool:
    """Wait until tokentrail's background work is done: streams dropped unfinished reported,
    budget spending written to a remote store and alerts delivered to their sinks. Returns
    True if everything finished within ``timeout`` seconds. A process that ends normally does
    this by itself (within ``TOKENTRAIL_EXIT_TIMEOUT``, 2 s by default)."""
    from .runtime import state

    return state().flush(timeout)


def _select(providers: Iterable[str] | None) -> list[Provider]:
    from .instrumentation.providers import BY_NAME, PROVIDERS

    if providers is None:
        return list(PROVIDERS)
    if isinstance(providers, str):
        providers = [providers]
    names = list(dict.fromkeys(providers))
    unknown = [name for name in names if name not in BY_NAME]
    if unknown:
        raise ConfigurationError(
            f"instrument(providers=...): unknown provider(s) {unknown}; "
            f"supported: {', '.join(BY_NAME)}"
        )
    return [BY_NAME[name] for name in names]


def _disabled_entry_points() -> set[str]:
    raw = os.environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "")
    return {name.strip() for name in raw.split(",") if name.strip()}


def _instrumentor(provider: Provider, *, explicit: bool) -> Any:
    if provider.entry_point in _disabled_entry_points():
        logger.info(
            "tokentrail: %s disabled by OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", provider.name
        )
        return None
    if not provider.installed():
        if explicit:
            logger.warning(
                "tokentrail: provider %r requested but %s is not installed",
                provider.name,
                provider.module,
            )
        return None
    instrumentor = provider.instrumentor()()
    if instrumentor.is_instrumented_by_opentelemetry:
        # instrumented on its own already (e.g. by opentelemetry-instrument): once is enough
        logger.info("tokentrail: %s is already instrumented", provider.name)
        return None
    return instrumentor


def __getattr__(name: str) -> Any:
    # The instrumentor classes and calc_cost (which needs the runtime) import lazily, so that
    # `import tokentrail` stays cheap.
    if name == "calc_cost":
        from .runtime import calc_cost

        return calc_cost
    from .instrumentation.providers import PROVIDERS

    for provider in PROVIDERS:
        if provider.instrumentor_class == name:
            return provider.instrumentor()
    raise AttributeError(f"module 'tokentrail' has no attribute {name!r}")
