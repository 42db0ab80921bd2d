"""The floor: the least an instrumentation can do and still emit what tokentrail's contract
requires — the same span (as many attributes, set the same way), the same histogram records
and the same counters, with constant values; no request or response reading, no pricing, no
attribution. What tokentrail costs above this is its own code.

The counters (``tokentrail.tokens``, ``tokentrail.cost.usd``, ``tokentrail.requests``) are
observable, fed from running totals that each call adds to under a lock: the cheapest way to
keep a counter per call that the OTel SDK offers (a synchronous ``add`` costs as much as a
histogram record), and the way tokentrail keeps them.

Used by the peer benchmark (``peers/worker.py``, peer ``floor``, run in tokentrail's
virtualenv) and by ``profile_calls.py``. Needs only wrapt and the OpenTelemetry API.
"""

from __future__ import annotations

import importlib
import threading
import time
from types import GeneratorType
from typing import Any

import wrapt
from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind

#: the methods tokentrail wraps in the peer benchmark's scenarios: (module, Class.method)
TARGETS = {
    "openai": [("openai.resources.chat.completions", "Completions.create"),
               ("openai.resources.chat.completions", "AsyncCompletions.create"),
               ("openai.resources.responses", "Responses.create")],
    "anthropic": [("anthropic.resources.messages", "Messages.create")],
    "gemini": [("google.genai.models", "Models.generate_content"),
               ("google.genai.models", "Models.generate_content_stream")],
    # every boto3 operation goes through this one method (see _bedrock_wrapper)
    "bedrock": [("botocore.client", "BaseClient._make_api_call")],
    "litellm": [("litellm", "completion")],
}  # fmt: skip
#: the Bedrock operations the floor reports; any other boto3 call goes straight through
BEDROCK_OPERATIONS = frozenset({"Converse", "ConverseStream", "InvokeModel",
                                "InvokeModelWithResponseStream"})  # fmt: skip

START = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.stream": False,
    "gen_ai.request.model": "model",
    "server.address": "api.example.com",
    "server.port": 443,
    "gen_ai.request.max_tokens": 1024,
    "tokentrail.feature": "feature",
    "tokentrail.team": "team",
}
END = {
    "gen_ai.response.model": "model-2025",
    "gen_ai.response.id": "id",
    "gen_ai.response.finish_reasons": ("stop",),
    "gen_ai.usage.input_tokens": 1200,
    "gen_ai.usage.output_tokens": 300,
    "gen_ai.usage.cache_read.input_tokens": 1024,
    "gen_ai.usage.reasoning.output_tokens": 128,
    "gen_ai.usage.cost": 0.001,
    "tokentrail.cost.status": "priced",
    "tokentrail.pricing.source": "genai-prices",
}
COMMON = {
    "gen_ai.provider.name": "openai",
    "gen_ai.operation.name": "chat",
    "gen_ai.request.model": "model",
    "gen_ai.response.model": "model-2025",
    "server.address": "api.example.com",
    "tokentrail.feature": "feature",
    "tokentrail.team": "team",
}
INPUT = {**COMMON, "gen_ai.token.type": "input"}
OUTPUT = {**COMMON, "gen_ai.token.type": "output"}
#: tokentrail.tokens' attributes, in the order of the token totals
TOKEN_TYPES = (
    INPUT,
    OUTPUT,
    *(
        {**COMMON, "gen_ai.token.type": kind}
        for kind in ("cache_read", "cache_creation", "reasoning")
    ),
)


class _Telemetry:
    def __init__(self, tracer_provider: Any, meter_provider: Any) -> None:
        self.tracer = trace.get_tracer("floor", "1", tracer_provider)
        meter = metrics.get_meter("floor", "1", meter_provider)
        self.tokens = meter.create_histogram("gen_ai.client.token.usage", unit="{token}")
        self.duration = meter.create_histogram("gen_ai.client.operation.duration", unit="s")
        self.first_chunk = meter.create_histogram(
            "gen_ai.client.operation.time_to_first_chunk", unit="s"
        )
        self._lock = threading.Lock()
        #: requests, cost, then tokens: input, output, cache read, cache write, reasoning
        self._totals = [0, 0.0, 0, 0, 0, 0, 0]
        meter.create_observable_counter(
            "tokentrail.tokens", callbacks=[self._observe_tokens], unit="{token}"
        )
        meter.create_observable_counter(
            "tokentrail.cost.usd", callbacks=[self._observe_cost], unit="{USD}"
        )
        meter.create_observable_counter(
            "tokentrail.requests", callbacks=[self._observe_requests], unit="{request}"
        )

    def _observe_tokens(self, options: Any) -> list[metrics.Observation]:
        with self._lock:
            return [metrics.Observation(count, attributes)
                    for count, attributes in zip(self._totals[2:], TOKEN_TYPES, strict=True)
                    if count]  # fmt: skip

    def _observe_cost(self, options: Any) -> list[metrics.Observation]:
        with self._lock:
            return [metrics.Observation(self._totals[1], COMMON)]

    def _observe_requests(self, options: Any) -> list[metrics.Observation]:
        with self._lock:
            return [metrics.Observation(self._totals[0], COMMON)]

    def start(self) -> tuple[Any, float]:
        return self.tracer.start_span("chat model", kind=SpanKind.CLIENT, attributes=START), (
            time.perf_counter()
        )

    def end(self, span: Any, started: float, first_chunk: float | None = None) -> None:
        span.set_attributes(END)
        span.end()
        self.tokens.record(1200, INPUT)
        self.tokens.record(300, OUTPUT)
        self.duration.record(time.perf_counter() - started, COMMON)
        if first_chunk is not None:
            self.first_chunk.record(first_chunk - started, COMMON)
        with self._lock:
            totals = self._totals
            totals[0] += 1
            totals[1] += 0.001
            totals[2] += 1200
            totals[3] += 300
            totals[4] += 1024
            totals[5] += 0  # cache writes: none here, added all the same, as tokentrail does
            totals[6] += 128


class _Stream(wrapt.ObjectProxy):
    """Per chunk: the wrapped stream's ``__next__`` (bound once) and a test."""

    def __init__(self, wrapped: Any, telemetry: _Telemetry, span: Any, started: float):
        super().__init__(wrapped)
        self._self_next = wrapped.__next__
        self._self_telemetry = telemetry
        self._self_span = span
        self._self_started = started
        self._self_first: float | None = None

    def __iter__(self) -> Any:
        return self

    def __next__(self) -> Any:
        try:
            item = self._self_next()
        except StopIteration:
            self._self_telemetry.end(self._self_span, self._self_started, self._self_first)
            raise
        if self._self_first is None:
            self._self_first = time.perf_counter()
        return item


_wrapped: list[tuple[Any, str]] = []


def instrument_floor(provider: str, tracer_provider: Any, meter_provider: Any) -> None:
    telemetry = _Telemetry(tracer_provider, meter_provider)

    def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        span, started = telemetry.start()
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            result = wrapped(*args, **kwargs)
        finally:
            otel_context.detach(token)
        if kwargs.get("stream") or isinstance(result, GeneratorType):
            return _Stream(result, telemetry, span, started)
        telemetry.end(span, started)
        return result

    async def run_async(wrapped: Any, args: tuple, kwargs: dict) -> Any:
        span, started = telemetry.start()
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            result = await wrapped(*args, **kwargs)
        finally:
            otel_context.detach(token)
        telemetry.end(span, started)  # non-streamed only: no async stream scenario
        return result

    def async_wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        return run_async(wrapped, args, kwargs)

    def bedrock_wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        # _make_api_call(operation_name, api_params): the least any Bedrock instrumentation
        # does for an S3 or SQS call is this test
        if args[0] not in BEDROCK_OPERATIONS:
            return wrapped(*args, **kwargs)
        return wrapper(wrapped, instance, args, kwargs)

    for module, target in TARGETS[provider]:
        owner_name, _, name = target.rpartition(".")
        owner = importlib.import_module(module)
        if owner_name:
            owner = getattr(owner, owner_name)
        if provider == "bedrock":
            chosen = bedrock_wrapper
        elif owner_name.startswith("Async"):
            chosen = async_wrapper
        else:
            chosen = wrapper
        wrapt.wrap_function_wrapper(owner, name, chosen)
        _wrapped.append((owner, name))


def uninstrument_floor() -> None:
    while _wrapped:
        owner, name = _wrapped.pop()
        setattr(owner, name, getattr(owner, name).__wrapped__)
