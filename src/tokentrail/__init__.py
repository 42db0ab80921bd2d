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

import importlib
import importlib.util
import logging
import os
import threading
import time
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
from .pricing import Cost, calc_cost
from .usage import Usage
from .version import __version__

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

    from .instrumentation.anthropic import AnthropicInstrumentor
    from .instrumentation.google_genai import GoogleGenAIInstrumentor
    from .instrumentation.openai import OpenAIInstrumentor
    from .runtime import Runtime

__all__ = [
    "Alert",
    "AnthropicInstrumentor",
    "Budget",
    "BudgetExceededError",
    "BudgetStoreUnavailableError",
    "CallbackSink",
    "ConfigurationError",
    "Cost",
    "GoogleGenAIInstrumentor",
    "LogSink",
    "MemoryBudgetStore",
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

#: provider name -> (SDK module, instrumentor "module:Class", entry point name)
PROVIDERS: dict[str, tuple[str, str, str]] = {
    "openai": (
        "openai",
        "tokentrail.instrumentation.openai:OpenAIInstrumentor",
        "tokentrail_openai",
    ),
    "anthropic": (
        "anthropic",
        "tokentrail.instrumentation.anthropic:AnthropicInstrumentor",
        "tokentrail_anthropic",
    ),
    "google_genai": (
        "google.genai",
        "tokentrail.instrumentation.google_genai:GoogleGenAIInstrumentor",
        "tokentrail_google_genai",
    ),
}

_lock = threading.Lock()
_active: tuple[Runtime, list[Any]] | None = None


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
) -> None:
    """Instrument every installed supported SDK (or those named in ``providers``).

    Providers default to the global OTel ones. ``prices`` (a path, or a list of override
    entries), ``max_request_cost_usd`` and ``capture_content`` fall back to their
    ``TOKENTRAIL_*`` environment variables. A wrong setting raises ``ConfigurationError``
    here; nothing touches the network. Calling it again while instrumented does nothing.
    """
    global _active
    from .runtime import Runtime

    with _lock:
        if _active is not None:
            logger.debug("tokentrail.instrument(): already instrumented")
            return
        names = _select(providers)
        runtime = Runtime(
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            budgets=budgets,
            budget_store=budget_store,
            alert_sinks=alert_sinks,
            max_request_cost_usd=max_request_cost_usd,
            prices=prices,
            capture_content=capture_content,
        )
        instrumentors: list[Any] = []
        try:
            for name in names:
                instrumentor = _instrumentor(name, explicit=providers is not None)
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
        runtime.activate()
        _active = (runtime, instrumentors)


def uninstrument() -> None:
    """Undo everything ``instrument()`` did: restore the SDK methods, stop background work."""
    global _active
    with _lock:
        if _active is None:
            return
        runtime, instrumentors = _active
        _active = None
        for instrumentor in instrumentors:
            instrumentor.uninstrument()
        runtime.close()


def flush(timeout: float = 5.0) -> bool:
    """Wait until tokentrail's background work is done: budget spending written to a remote
    store and alerts delivered to their sinks. For tests and short scripts that exit right
    after their last call (``uninstrument()`` also flushes, for at most 2 s). Returns True if
    everything finished within ``timeout`` seconds."""
    from . import runtime as runtime_module

    with _lock:
        runtimes = [_active[0]] if _active is not None else []
    shared = runtime_module._shared
    if shared is not None:
        runtimes.append(shared)
    deadline = time.monotonic() + timeout
    return all(r.flush(max(0.0, deadline - time.monotonic())) for r in runtimes)


def _select(providers: Iterable[str] | None) -> list[str]:
    if providers is None:
        return list(PROVIDERS)
    if isinstance(providers, str):
        providers = [providers]
    names = list(dict.fromkeys(providers))
    unknown = [name for name in names if name not in PROVIDERS]
    if unknown:
        raise ConfigurationError(
            f"instrument(providers=...): unknown provider(s) {unknown}; "
            f"supported: {', '.join(PROVIDERS)}"
        )
    return names


def _disabled_entry_points() -> set[str]:
    raw = os.environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "")
    return {name.strip() for name in raw.split(",") if name.strip()}


def _instrumentor(name: str, *, explicit: bool) -> Any:
    sdk_module, target, entry_point = PROVIDERS[name]
    if entry_point in _disabled_entry_points():
        logger.info("tokentrail: %s disabled by OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", name)
        return None
    if importlib.util.find_spec(sdk_module.split(".")[0]) is None or (
        "." in sdk_module and _find_submodule(sdk_module) is None
    ):
        if explicit:
            logger.warning(
                "tokentrail: provider %r requested but %s is not installed", name, sdk_module
            )
        return None
    module, cls = target.split(":")
    instrumentor = getattr(importlib.import_module(module), cls)()
    if instrumentor.is_instrumented_by_opentelemetry:
        # instrumented on its own already (e.g. by opentelemetry-instrument): once is enough
        logger.info("tokentrail: %s is already instrumented", name)
        return None
    return instrumentor


def _find_submodule(name: str) -> Any:
    try:
        return importlib.util.find_spec(name)
    except ModuleNotFoundError:
        return None


def __getattr__(name: str) -> Any:
    # The instrumentor classes import lazily, so that `import tokentrail` stays cheap.
    if name == "OpenAIInstrumentor":
        from .instrumentation.openai import OpenAIInstrumentor

        return OpenAIInstrumentor
    if name == "AnthropicInstrumentor":
        from .instrumentation.anthropic import AnthropicInstrumentor

        return AnthropicInstrumentor
    if name == "GoogleGenAIInstrumentor":
        from .instrumentation.google_genai import GoogleGenAIInstrumentor

        return GoogleGenAIInstrumentor
    raise AttributeError(f"module 'tokentrail' has no attribute {name!r}")
