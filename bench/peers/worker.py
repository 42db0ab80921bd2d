"""One measurement inside one peer's virtualenv; ``run.py`` starts it and reads its JSON.

    python worker.py PEER SCENARIO... [--mode interleaved|bare|instrumented] [--rounds N]
                     [--round-seconds S] [--openlit-pricing PATH]   # overhead + correctness
    python worker.py PEER SCENARIO... --memory N                # memory growth over N calls
    python worker.py PEER --import-time N                       # import + instrument(), N runs
    python worker.py tokentrail --reference-costs               # genai-prices' cost per provider

OpenTelemetry is set up as an application would: an SDK ``TracerProvider`` with a
``SimpleSpanProcessor`` into an ``InMemorySpanExporter`` and a ``MeterProvider`` with an
``InMemoryMetricReader``, passed explicitly where the peer accepts them and also installed as
the global providers (OpenLIT and the anthropic SDK's own tracing only use the globals).
Only the standard library, the SDKs, the OpenTelemetry SDK, the peer and ``fakes.py`` are
imported: the peers' virtualenvs do not have tokentrail.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import importlib.metadata
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# LiteLLM fetches its model cost map from GitHub at import unless told to use its own copy
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import fakes
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

MESSAGES = [{"role": "user", "content": "Summarize the quarterly report in three bullets."}]
#: calls whose telemetry the correctness check reads
CHECK_CALLS = 4


class Unavailable(Exception):
    """The peer cannot instrument this SDK here; the message says why (shown as n/a)."""


class Telemetry:
    """In-memory OpenTelemetry SDK providers, also installed as the globals."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        trace.set_tracer_provider(self.tracer_provider)
        metrics.set_meter_provider(self.meter_provider)

    def metric_sums(self) -> dict[str, float]:
        """Cumulative sums per ``metric name[token type]`` (histograms and counters)."""
        sums: dict[str, float] = {}
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    for point in metric.data.data_points:
                        value = getattr(point, "sum", None)
                        if value is None:
                            value = getattr(point, "value", 0)
                        kind = (point.attributes or {}).get("gen_ai.token.type")
                        key = f"{metric.name}[{kind}]" if kind else metric.name
                        sums[key] = sums.get(key, 0.0) + float(value)
        return sums


# -- scenarios --------------------------------------------------------------------------------


class Scenario:
    """One kind of SDK call: ``build(native_tracing)`` returns a zero-argument callable that
    makes ``calls_per_invocation`` calls (clients built once, outside the timing).

    ``usage``: the key of ``fakes.EXPECTED`` (the provider's, unless the scenario's fake
    reports another usage). ``client_per_side``: the instrumented side gets a client built
    while the peer is instrumented (some Bedrock instrumentations wrap each boto3 client when
    it is created, not the class)."""

    def __init__(
        self,
        provider: str,
        build: Callable[[bool], Callable[[], Any]],
        *,
        chunks: int = 0,
        calls_per_invocation: int = 1,
        native_tracing: bool | None = None,
        usage: str | None = None,
        client_per_side: bool = False,
    ) -> None:
        self.provider = provider
        self.build = build
        self.chunks = chunks
        self.calls_per_invocation = calls_per_invocation
        self.native_tracing = native_tracing
        self.usage = usage or provider
        self.client_per_side = client_per_side


def _openai_chat(_: bool) -> Callable[[], Any]:
    client = fakes.FakeOpenAI().client()
    return lambda: client.chat.completions.create(
        model=fakes.OPENAI_MODEL, messages=MESSAGES, max_completion_tokens=1024
    )


def _openai_chat_stream(ask_for_usage: bool) -> Callable[[bool], Callable[[], Any]]:
    """The caller asks for ``include_usage`` (every peer can see the usage) or, as most
    code does, does not (then only an instrumentation that asks for it can)."""
    options = {"stream_options": {"include_usage": True}} if ask_for_usage else {}

    def build(_: bool) -> Callable[[], Any]:
        client = fakes.FakeOpenAI(chunks=50).client()

        def call() -> None:
            stream = client.chat.completions.create(
                model=fakes.OPENAI_MODEL,
                messages=MESSAGES,
                max_completion_tokens=1024,
                stream=True,
                **options,
            )
            for _ in stream:
                pass

        return call

    return build


def _openai_responses(_: bool) -> Callable[[], Any]:
    client = fakes.FakeOpenAI().client()
    return lambda: client.responses.create(
        model=fakes.OPENAI_MODEL, input="Summarize the quarterly report.", max_output_tokens=1024
    )


def _openai_async_chat(_: bool) -> Callable[[], Any]:
    client = fakes.FakeOpenAI().async_client()
    loop = asyncio.new_event_loop()

    async def ten_calls() -> None:
        for _ in range(10):
            await client.chat.completions.create(
                model=fakes.OPENAI_MODEL, messages=MESSAGES, max_completion_tokens=1024
            )

    return lambda: loop.run_until_complete(ten_calls())


def _anthropic_messages(native_tracing: bool) -> Callable[[], Any]:
    client = fakes.FakeAnthropic().client(native_tracing=native_tracing)
    return lambda: client.messages.create(
        model=fakes.ANTHROPIC_MODEL, max_tokens=1024, messages=MESSAGES
    )


def _anthropic_stream(native_tracing: bool) -> Callable[[], Any]:
    client = fakes.FakeAnthropic(chunks=50).client(native_tracing=native_tracing)

    def call() -> None:
        stream = client.messages.create(
            model=fakes.ANTHROPIC_MODEL, max_tokens=1024, messages=MESSAGES, stream=True
        )
        for _ in stream:
            pass

    return call


def _gemini_generate(thinking: bool) -> Callable[[bool], Callable[[], Any]]:
    def build(_: bool) -> Callable[[], Any]:
        client = fakes.FakeGemini(thinking=thinking).client()
        return lambda: client.models.generate_content(
            model=fakes.GEMINI_MODEL, contents="Summarize the quarterly report."
        )

    return build


def _gemini_stream(_: bool) -> Callable[[], Any]:
    client = fakes.FakeGemini(chunks=50).client()

    def call() -> None:
        for _ in client.models.generate_content_stream(
            model=fakes.GEMINI_MODEL, contents="Summarize the quarterly report."
        ):
            pass

    return call


def _bedrock_converse(_: bool) -> Callable[[], Any]:
    client = fakes.FakeBedrock().client()
    messages = [{"role": "user", "content": [{"text": MESSAGES[0]["content"]}]}]
    return lambda: client.converse(
        modelId=fakes.BEDROCK_MODEL, messages=messages, inferenceConfig={"maxTokens": 1024}
    )


def _litellm_completion(_: bool) -> Callable[[], Any]:
    """``litellm.completion`` routed to the openai SDK, given the fake OpenAI client; read as
    ``litellm.completion`` at each call, as applications do (instrumentations patch the
    module's function)."""
    import litellm

    client = fakes.FakeOpenAI().client()
    return lambda: litellm.completion(
        model=fakes.LITELLM_MODEL, messages=MESSAGES, max_completion_tokens=1024, client=client
    )


SCENARIOS: dict[str, Scenario] = {
    "openai-chat": Scenario("openai", _openai_chat),
    "openai-chat-stream-caller-usage": Scenario("openai", _openai_chat_stream(True), chunks=50),
    "openai-chat-stream-no-usage": Scenario("openai", _openai_chat_stream(False), chunks=50),
    "openai-responses": Scenario("openai", _openai_responses),
    "openai-async-chat": Scenario("openai", _openai_async_chat, calls_per_invocation=10),
    "anthropic-messages": Scenario("anthropic", _anthropic_messages, native_tracing=False),
    "anthropic-messages-sdk-tracing": Scenario(
        "anthropic", _anthropic_messages, native_tracing=True
    ),
    "anthropic-stream": Scenario("anthropic", _anthropic_stream, chunks=50, native_tracing=False),
    "anthropic-stream-sdk-tracing": Scenario(
        "anthropic", _anthropic_stream, chunks=50, native_tracing=True
    ),
    "gemini-generate": Scenario("gemini", _gemini_generate(True)),
    "gemini-generate-no-thinking": Scenario(
        "gemini", _gemini_generate(False), usage="gemini-no-thinking"
    ),
    "gemini-stream": Scenario("gemini", _gemini_stream, chunks=50),
    "bedrock-converse": Scenario("bedrock", _bedrock_converse, client_per_side=True),
    "litellm-completion": Scenario("litellm", _litellm_completion),
}


#: the providers a peer may instrument (``instrument_all``) and their SDKs' distributions
PROVIDERS = ("openai", "anthropic", "gemini", "bedrock", "litellm")
SDK_DISTRIBUTIONS = ("openai", "anthropic", "google-genai", "boto3", "litellm")

# -- peers ------------------------------------------------------------------------------------


class Peer:
    """How one peer instruments one provider's SDK; ``uninstrument()`` must restore it."""

    can_uninstrument = True
    #: the distributions whose versions the report shows
    distributions: tuple[str, ...] = ()
    #: module and class of the instrumentor, per provider
    instrumentors: dict[str, tuple[str, str]] = {}

    def __init__(self, telemetry: Telemetry, options: argparse.Namespace) -> None:
        self.telemetry = telemetry
        self.options = options
        self.active: list[Any] = []
        #: interleaved, or bare/instrumented for a peer measured in two processes
        self.mode = options.mode or ("interleaved" if self.can_uninstrument else "instrumented")
        #: providers instrumented for the rest of the process (instrumented mode) -> note
        self.attached: dict[str, str | None] = {}

    def attach(self, provider: str) -> str | None:
        if provider not in self.attached:
            self.attached[provider] = self.instrument(provider)
        return self.attached[provider]

    def instrument(self, provider: str) -> str | None:
        """Instrument ``provider``'s SDK; returns a note for the report, if any. LiteLLM
        reaches OpenAI models through the openai SDK: an application that instruments
        everything has the peer's LiteLLM instrumentation (if it has one) and its openai one
        on, so both are."""
        if provider != "litellm":
            return self._instrument_provider(provider)
        if not {"litellm", "openai"} & self.instrumentors.keys():
            raise Unavailable("no litellm or openai instrumentation")
        notes = [self._instrument_provider("openai")]
        if "litellm" in self.instrumentors:
            notes.append(self._instrument_provider("litellm"))
        else:
            notes.append("no LiteLLM instrumentation: seen through its openai one")
        return "; ".join(filter(None, notes)) or None

    def _instrument_provider(self, provider: str) -> str | None:
        try:
            module, name = self.instrumentors[provider]
        except KeyError:
            raise Unavailable(f"no {provider} instrumentation") from None
        try:
            instrumentor = getattr(importlib.import_module(module), name)()
        except ImportError as exc:
            raise Unavailable(f"{module} does not import: {exc}") from exc
        return self._instrument(instrumentor)

    def _instrument(self, instrumentor: Any, **kwargs: Any) -> str | None:
        """BaseInstrumentor's ``instrument()``; if it declines because the installed SDK is
        outside the range the peer declares, force it and say so."""
        kwargs = {
            "tracer_provider": self.telemetry.tracer_provider,
            "meter_provider": self.telemetry.meter_provider,
            **kwargs,
        }
        instrumentor.instrument(**kwargs)
        note = None
        if not instrumentor.is_instrumented_by_opentelemetry:
            from opentelemetry.instrumentation.dependencies import get_dependency_conflicts

            conflict = get_dependency_conflicts(instrumentor.instrumentation_dependencies())
            if conflict is None:
                raise Unavailable("instrument() did nothing")
            instrumentor.instrument(skip_dep_check=True, **kwargs)
            note = f"forced with skip_dep_check: declares {conflict.required}"
        self.active.append(instrumentor)
        return note

    def instrument_all(self) -> None:
        for provider in PROVIDERS:
            try:
                self.instrument(provider)
            except Unavailable:
                pass

    def uninstrument(self) -> None:
        for instrumentor in self.active:
            instrumentor.uninstrument()
        self.active.clear()


class Bare(Peer):
    """No instrumentation: the SDK alone (memory and import baselines)."""

    def instrument(self, provider: str) -> str | None:
        return None

    def uninstrument(self) -> None:
        pass


class AnthropicSdkTracing(Bare):
    """The anthropic SDK's own OpenTelemetry tracing: 'instrumented' is the same call on a
    client with ``open_telemetry`` left at its default (on, global provider)."""

    distributions = ("anthropic",)

    def instrument(self, provider: str) -> str | None:
        if provider != "anthropic":
            raise Unavailable("only the anthropic SDK has its own tracing")
        return None


class TokenTrail(Peer):
    distributions = ("tokentrail",)
    names = {
        "openai": ["openai"],
        "anthropic": ["anthropic"],
        "gemini": ["google_genai"],
        "bedrock": ["bedrock"],
        "litellm": ["litellm", "openai"],
    }

    def instrument(self, provider: str) -> str | None:
        """An instrumentor that is not there yet (unknown provider, or it does not import)
        makes the cell n/a, so that a later run fills it in."""
        import tokentrail

        try:
            tokentrail.instrument(
                tracer_provider=self.telemetry.tracer_provider,
                meter_provider=self.telemetry.meter_provider,
                providers=self.names[provider],
            )
        except (tokentrail.ConfigurationError, ImportError) as exc:
            raise Unavailable(f"no {self.names[provider][0]} instrumentor yet ({exc})") from exc
        self.active.append(tokentrail)
        return None

    def instrument_all(self) -> None:
        import tokentrail

        tokentrail.instrument(
            tracer_provider=self.telemetry.tracer_provider,
            meter_provider=self.telemetry.meter_provider,
        )


class Floor(Peer):
    """``bench/floor.py``: the span, histograms and counters tokentrail's contract requires, with
    constant values and nothing else (run in tokentrail's virtualenv)."""

    distributions = ()

    def instrument(self, provider: str) -> str | None:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        import floor

        floor.instrument_floor(
            provider, self.telemetry.tracer_provider, self.telemetry.meter_provider
        )
        self.active.append(floor)
        return None

    def uninstrument(self) -> None:
        for floor in self.active:
            floor.uninstrument_floor()
        self.active.clear()


class OpenLLMetry(Peer):
    distributions = (
        "opentelemetry-instrumentation-openai",
        "opentelemetry-instrumentation-anthropic",
        "opentelemetry-instrumentation-google-generativeai",
        "opentelemetry-instrumentation-bedrock",
        "opentelemetry-instrumentation-litellm",
    )
    instrumentors = {
        "openai": ("opentelemetry.instrumentation.openai", "OpenAIInstrumentor"),
        "anthropic": ("opentelemetry.instrumentation.anthropic", "AnthropicInstrumentor"),
        # misnamed: it wraps google.genai (google-genai), not google.generativeai
        "gemini": (
            "opentelemetry.instrumentation.google_generativeai",
            "GoogleGenerativeAiInstrumentor",
        ),
        "bedrock": ("opentelemetry.instrumentation.bedrock", "BedrockInstrumentor"),
        "litellm": ("opentelemetry.instrumentation.litellm", "LiteLLMInstrumentor"),
    }


class OtelGenAI(Peer):
    distributions = (
        "opentelemetry-instrumentation-genai-openai",
        "opentelemetry-instrumentation-genai-anthropic",
        "opentelemetry-instrumentation-google-genai",
        "opentelemetry-util-genai",
        "opentelemetry-instrumentation-botocore",
    )
    instrumentors = {
        "openai": ("opentelemetry.instrumentation.genai.openai", "OpenAIInstrumentor"),
        "anthropic": ("opentelemetry.instrumentation.genai.anthropic", "AnthropicInstrumentor"),
        "gemini": ("opentelemetry.instrumentation.google_genai", "GoogleGenAiSdkInstrumentor"),
        # botocore's instrumentation: a span for every AWS call, GenAI attributes for Bedrock
        "bedrock": ("opentelemetry.instrumentation.botocore", "BotocoreInstrumentor"),
    }


class OpenLIT(Peer):
    """OpenLIT's instrumentors, set up the way ``openlit.init()`` sets them up, minus what
    ``init()`` does besides: it would build exporters (it reuses SDK providers that are
    already global, as here), instrument ~50 libraries and fetch prices from GitHub with a
    20 s timeout. Prices come from ``--openlit-pricing`` (OpenLIT's own ``pricing.json``)
    or are empty, which is what ``init()`` ends up with offline. ``uninstrument()`` is a
    no-op in OpenLIT, so bare and instrumented run in separate processes."""

    can_uninstrument = False
    distributions = ("openlit",)
    instrumentors = {
        "openai": ("openlit.instrumentation.openai", "OpenAIInstrumentor"),
        "anthropic": ("openlit.instrumentation.anthropic", "AnthropicInstrumentor"),
        "gemini": ("openlit.instrumentation.google_ai_studio", "GoogleAIStudioInstrumentor"),
        "bedrock": ("openlit.instrumentation.bedrock", "BedrockInstrumentor"),
        "litellm": ("openlit.instrumentation.litellm", "LiteLLMInstrumentor"),
    }
    _configured: dict[str, Any] | None = None

    def _settings(self) -> dict[str, Any]:
        if OpenLIT._configured is None:
            from openlit._config import OpenlitConfig
            from openlit.otel.metrics import setup_meter

            pricing: dict[str, Any] = {}
            if self.options.openlit_pricing:
                with open(self.options.openlit_pricing, encoding="utf-8") as f:
                    pricing = json.load(f)
            metrics_dict, error = setup_meter("bench", "bench", None, None, None)
            if error:
                raise Unavailable(f"openlit setup_meter failed: {error}")
            # init()'s defaults: content captured, metrics and events on
            OpenlitConfig.update_config(
                "default", "bench", None, None, True, True, metrics_dict, False, pricing
            )
            OpenLIT._configured = {
                "environment": "default",
                "application_name": "bench",
                "pricing_info": pricing,
                "capture_message_content": True,
                "disable_metrics": False,
                "disable_events": False,
            }
        return OpenLIT._configured

    def _instrument(self, instrumentor: Any, **kwargs: Any) -> str | None:
        note = super()._instrument(instrumentor, **self._settings())
        if not self._configured or not self._configured["pricing_info"]:
            note = "no prices (init() fetches them from GitHub; offline here)"
        return note


class OpenInference(Peer):
    """Arize's OpenInference instrumentors (their own ``llm.*`` span attributes, no
    metrics), with explicit providers; defaults (content captured)."""

    distributions = (
        "openinference-instrumentation-openai",
        "openinference-instrumentation-anthropic",
        "openinference-instrumentation-google-genai",
        "openinference-instrumentation-bedrock",
        "openinference-instrumentation-litellm",
    )
    instrumentors = {
        "openai": ("openinference.instrumentation.openai", "OpenAIInstrumentor"),
        "anthropic": ("openinference.instrumentation.anthropic", "AnthropicInstrumentor"),
        "gemini": ("openinference.instrumentation.google_genai", "GoogleGenAIInstrumentor"),
        "bedrock": ("openinference.instrumentation.bedrock", "BedrockInstrumentor"),
        "litellm": ("openinference.instrumentation.litellm", "LiteLLMInstrumentor"),
    }


PEERS: dict[str, type[Peer]] = {
    "bare": Bare,
    "anthropic-sdk-tracing": AnthropicSdkTracing,
    "tokentrail": TokenTrail,
    "floor": Floor,
    "openllmetry": OpenLLMetry,
    "openlit": OpenLIT,
    "otel-genai": OtelGenAI,
    "openinference": OpenInference,
}


# -- correctness ------------------------------------------------------------------------------

#: semconv quantity -> span attribute names seen in the wild (first present wins; the
#: ``llm.*`` ones are OpenInference's)
USAGE_ATTRIBUTES = {
    "input": (
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.prompt_tokens",
        "llm.token_count.prompt",
    ),
    "output": (
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.completion_tokens",
        "llm.token_count.completion",
    ),
    "cache_read": (
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.cache_read_input_tokens",
        "llm.token_count.prompt_details.cache_read",
    ),
    "cache_creation": (
        "gen_ai.usage.cache_creation.input_tokens",
        "gen_ai.usage.cache_write.input_tokens",
        "gen_ai.usage.cache_creation_input_tokens",
        "llm.token_count.prompt_details.cache_write",
    ),
    "reasoning": (
        "gen_ai.usage.reasoning.output_tokens",
        "gen_ai.usage.reasoning_tokens",
        "llm.token_count.completion_details.reasoning",
    ),
    "cost": ("gen_ai.usage.cost", "gen_ai.usage.cost.amount", "llm.cost.total"),
}
NATIVE_SCOPE = "com.anthropic.sdk"


def _usage_of(attributes: Any) -> dict[str, Any]:
    found = {}
    for quantity, names in USAGE_ATTRIBUTES.items():
        for name in names:
            if name in attributes:
                found[quantity] = {"attribute": name, "value": attributes[name]}
                break
    return found


def check(
    telemetry: Telemetry, call: Callable[[], Any], scenario: Scenario, own_native: bool
) -> dict[str, Any]:
    """What the telemetry of ``CHECK_CALLS`` invocations says, against the fake's usage."""
    telemetry.exporter.clear()
    before = telemetry.metric_sums()
    for _ in range(CHECK_CALLS):
        call()
    spans = telemetry.exporter.get_finished_spans()
    after = telemetry.metric_sums()
    telemetry.exporter.clear()
    calls = CHECK_CALLS * scenario.calls_per_invocation
    expected = fakes.EXPECTED[scenario.usage]

    def own(span: Any) -> bool:
        native = span.instrumentation_scope.name.startswith(NATIVE_SCOPE)
        return native == own_native

    usage_spans = [s for s in spans if {"input", "output"} & _usage_of(s.attributes).keys()]
    # the peer's own span; else the SDK's, which a peer may enrich instead of adding one
    own_usage = [s for s in usage_spans if own(s)] or usage_spans
    result: dict[str, Any] = {
        "spans_per_call": len(spans) / calls,
        "usage_spans_per_call": len(usage_spans) / calls,
        "span_names": sorted({f"{s.instrumentation_scope.name}: {s.name}" for s in spans}),
        "metrics": {k: (after[k] - before.get(k, 0.0)) / calls for k in sorted(after)},
        "usage": scenario.usage,
        "expected": expected,
    }
    if own_usage:
        usage = _usage_of(own_usage[-1].attributes)
        result["reported"] = {k: v["value"] for k, v in usage.items()}
        result["attributes"] = {k: v["attribute"] for k, v in usage.items()}
    for kind in ("input", "output"):
        key = f"gen_ai.client.token.usage[{kind}]"
        if key in result["metrics"]:
            result.setdefault("metric_tokens", {})[kind] = result["metrics"][key]
    return result


# -- measurement ------------------------------------------------------------------------------


def _rss_kb() -> float:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024


def _timed(call: Callable[[], Any], n: int, per: int) -> tuple[float, float]:
    """CPU and wall-clock µs per SDK call over ``n`` invocations. CPU time (the process's,
    all threads) leaves out the time spent waiting for a core on a shared machine."""
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(n):
        call()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return cpu / (n * per) * 1e6, wall / (n * per) * 1e6


def versions(peer: type[Peer]) -> dict[str, str]:
    names = (*SDK_DISTRIBUTIONS, "opentelemetry-sdk", *peer.distributions)
    found = {}
    for name in names:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


_OPENAI_CLASSES = (
    ("openai.resources.chat.completions", "Completions"),
    ("openai.resources.chat.completions", "AsyncCompletions"),
    ("openai.resources.responses", "Responses"),
)
#: provider -> the SDK classes (or modules: name None) whose functions the peers patch
_SDK_CLASSES: dict[str, tuple[tuple[str, str | None], ...]] = {
    "openai": _OPENAI_CLASSES,
    "anthropic": (("anthropic.resources.messages", "Messages"),),
    "gemini": (("google.genai.models", "Models"),),
    # botocore's one method behind every operation, and the client factories some wrap
    "bedrock": (
        ("botocore.client", "BaseClient"),
        ("botocore.client", "ClientCreator"),
        ("botocore.session", "Session"),
    ),
    "litellm": (("litellm", None), ("litellm.main", None), *_OPENAI_CLASSES),
}


def _sdk_methods(provider: str) -> dict[tuple[str, str], int]:
    """Identity of every attribute of the patched SDK classes: equal after an
    ``uninstrument()`` that restored them."""
    found = {}
    for module, name in _SDK_CLASSES[provider]:
        owner = importlib.import_module(module)
        if name is not None:
            owner = getattr(owner, name)
        found.update({(module, name, attr): id(value) for attr, value in vars(owner).items()})
    return found


def _warm(call: Callable[[], Any], seconds: float) -> float:
    """Run ``call`` for about ``seconds`` (imports, caches, first-call work), then return
    the seconds one invocation takes."""
    n, start = 0, time.perf_counter()
    while n < 3 or time.perf_counter() - start < seconds:
        call()
        n += 1
    start = time.process_time()
    for _ in range(3):
        call()
    return (time.process_time() - start) / 3


def overhead(
    telemetry: Telemetry, peer: Peer, scenario: Scenario, options: argparse.Namespace
) -> dict[str, Any]:
    """Rounds of ``n`` invocations, about ``--round-seconds`` each: bare and instrumented
    alternately (``interleaved``), or one of them (``bare``/``instrumented``, for a peer that
    cannot uninstrument). The correctness check runs once, after the instrumented warm-up."""
    switches_client = isinstance(peer, AnthropicSdkTracing)
    if switches_client and scenario.native_tracing is not False:
        raise Unavailable("measured on the scenario with the SDK's own tracing off")
    # instrument first, so that an unavailable peer costs nothing more
    note = None
    if peer.mode == "instrumented":
        note = peer.attach(scenario.provider)
    elif peer.mode == "interleaved":
        before = _sdk_methods(scenario.provider)
        note = peer.instrument(scenario.provider)
        peer.uninstrument()
        if _sdk_methods(scenario.provider) != before:
            # its wrappers stay (and would stack up): measure it in two processes instead
            note = "; ".join(filter(None, (note, "uninstrument() leaves its wrappers in place")))
            peer.attached[scenario.provider] = note
            peer.mode = "instrumented"
    mode = peer.mode
    per = scenario.calls_per_invocation
    bare_call = scenario.build(bool(scenario.native_tracing))
    instrumented_call = scenario.build(True) if switches_client else bare_call
    if scenario.client_per_side and mode == "interleaved":
        peer.instrument(scenario.provider)
        instrumented_call = scenario.build(False)
        peer.uninstrument()
    # streams: longer rounds, their calls are few and long
    seconds = options.round_seconds * (2 if scenario.chunks else 1)
    n = max(3, round(seconds / _warm(bare_call, options.round_seconds)))
    out: dict[str, Any] = {
        "mode": mode,
        "note": note,
        "invocations_per_round": n,
        "calls_per_invocation": per,
        "bare_us": [],
        "instrumented_us": [],
        "bare_wall_us": [],
        "instrumented_wall_us": [],
    }

    def measure(side: str, call: Callable[[], Any]) -> None:
        cpu, wall = _timed(call, n, per)
        out[f"{side}_us"].append(cpu)
        out[f"{side}_wall_us"].append(wall)

    if mode != "bare":
        if mode == "interleaved":
            peer.instrument(scenario.provider)
        _warm(instrumented_call, options.round_seconds)
        out["correctness"] = check(telemetry, instrumented_call, scenario, switches_client)
        if mode == "interleaved":
            peer.uninstrument()

    for r in range(options.rounds):
        if mode == "bare":
            measure("bare", bare_call)
        elif mode == "instrumented":
            measure("instrumented", instrumented_call)
            telemetry.exporter.clear()
        else:
            # alternate which goes first, so that drift within a round cancels out
            for instrumented in (False, True) if r % 2 == 0 else (True, False):
                if instrumented:
                    peer.instrument(scenario.provider)
                    instrumented_call()  # first-call work after (re-)instrumenting
                    measure("instrumented", instrumented_call)
                    peer.uninstrument()
                    telemetry.exporter.clear()
                else:
                    measure("bare", bare_call)
    return out


def memory(
    telemetry: Telemetry, peer: Peer, scenario: Scenario, options: argparse.Namespace
) -> dict[str, Any]:
    """Growth of RSS and of live objects over ``--memory`` calls, after a warm-up; the span
    exporter is emptied every 1000 calls (the spans it keeps are not the peer's)."""
    call = scenario.build(bool(scenario.native_tracing))
    note = peer.attach(scenario.provider)
    for i in range(min(2000, max(500, options.memory // 10))):
        call()
        if i % 1000 == 999:
            telemetry.exporter.clear()
    telemetry.exporter.clear()
    gc.collect()
    rss, objects = _rss_kb(), len(gc.get_objects())
    start = time.process_time()
    for i in range(options.memory):
        call()
        if i % 1000 == 999:
            telemetry.exporter.clear()
    elapsed = time.process_time() - start
    telemetry.exporter.clear()
    gc.collect()
    calls = options.memory * scenario.calls_per_invocation
    return {
        "note": note,
        "calls": calls,
        "rss_kb_per_1k_calls": (_rss_kb() - rss) / calls * 1000,
        "objects_per_1k_calls": (len(gc.get_objects()) - objects) / calls * 1000,
        "us_per_call": elapsed / calls * 1e6,
    }


_IMPORT_PROBE = """
import sys, time
sys.path.insert(0, {here!r})
t0 = time.perf_counter()
import openai, anthropic, google.genai, boto3, litellm
t1 = time.perf_counter()
import argparse, worker
telemetry = worker.Telemetry()
peer = worker.PEERS[{peer!r}](telemetry, argparse.Namespace(mode=None, openlit_pricing={pricing!r}))
t2 = time.perf_counter()
peer.instrument_all()
t3 = time.perf_counter()
print(t1 - t0, t3 - t2)
"""


def import_time(options: argparse.Namespace) -> dict[str, Any]:
    """Fresh interpreters: import the SDKs, then (timed apart) the peer's imports and
    instrumenting all of them. Medians in ms."""
    probe = _IMPORT_PROBE.format(
        here=os.path.dirname(os.path.abspath(__file__)),
        peer=options.peer,
        pricing=options.openlit_pricing,
    )
    sdks, ours = [], []
    for _ in range(options.import_time):
        out = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True
        ).stdout.split()
        sdks.append(float(out[-2]) * 1e3)
        ours.append(float(out[-1]) * 1e3)
    return {
        "import_sdks_ms": statistics.median(sdks),
        "import_and_instrument_ms": statistics.median(ours),
        "import_and_instrument_ms_all": ours,
    }


def reference_costs() -> dict[str, float]:
    """What genai-prices (tokentrail's price source, used here directly) charges for each
    fake's usage: the yardstick for the peers' cost attributes."""
    from genai_prices import Usage, calc_price

    #: scenario family -> (the model it answers with, genai-prices' provider id)
    models = {
        "openai": (fakes.OPENAI_RESPONSE_MODEL, "openai"),
        "anthropic": (fakes.ANTHROPIC_RESPONSE_MODEL, "anthropic"),
        "gemini": (fakes.GEMINI_MODEL, "google"),
        "gemini-no-thinking": (fakes.GEMINI_MODEL, "google"),
        "bedrock": (fakes.BEDROCK_MODEL, "aws"),
        "litellm": (fakes.OPENAI_RESPONSE_MODEL, "openai"),
    }
    usages = {}
    for family, (model, provider_id) in models.items():
        expected = fakes.EXPECTED[family]
        usage = Usage(
            input_tokens=expected["input"],
            cache_read_tokens=expected["cache_read"],
            cache_write_tokens=expected.get("cache_creation"),  # only where the fake writes
            output_tokens=expected["output"],
        )
        usages[family] = (usage, model, provider_id)
    return {
        provider: float(calc_price(usage, model, provider_id=pid).total_price)
        for provider, (usage, model, pid) in usages.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("peer", choices=PEERS)
    parser.add_argument("scenarios", nargs="*", help=", ".join(SCENARIOS))
    parser.add_argument("--mode", choices=("interleaved", "bare", "instrumented"))
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--round-seconds", type=float, default=0.1)
    parser.add_argument("--memory", type=int, metavar="CALLS")
    parser.add_argument("--import-time", type=int, metavar="RUNS")
    parser.add_argument("--reference-costs", action="store_true")
    parser.add_argument("--openlit-pricing", metavar="PATH")
    options = parser.parse_args()
    unknown = set(options.scenarios) - SCENARIOS.keys()
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    peer_cls = PEERS[options.peer]
    result: dict[str, Any] = {"peer": options.peer, "versions": versions(peer_cls)}
    if options.reference_costs:
        result["reference_costs"] = reference_costs()
    elif options.import_time:
        result.update(_attempt(import_time, options))
    else:
        measure = memory if options.memory else overhead
        telemetry = Telemetry()
        peer = peer_cls(telemetry, options)
        result["scenarios"] = {
            name: _attempt(measure, telemetry, peer, SCENARIOS[name], options)
            for name in options.scenarios
        }
    print(json.dumps(result))
    return 0


def _attempt(measure: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    try:
        return {"status": "ok", **measure(*args)}
    except Unavailable as exc:
        return {"status": "n/a", "reason": str(exc)}


if __name__ == "__main__":
    raise SystemExit(main())
