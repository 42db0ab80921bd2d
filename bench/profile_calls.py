"""Where tokentrail's per-call microseconds go, for the hot-path work (docs/architecture.md,
"The hot path").

    python bench/profile_calls.py                      # openai chat and chat stream
    python bench/profile_calls.py --cprofile 3000      # plus a cProfile by package

Component breakdown: the same calls, in interleaved rounds (CPU time), bare and instrumented
with the real OTel SDK providers, with a no-op tracer provider (no spans), with a no-op meter
provider (no metrics) and with both no-op (tokentrail's own code, wrapt and pricing). Uses the
peer benchmark's fakes (``bench/peers/fakes.py``); needs tokentrail and the OTel SDK.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NoOpTracerProvider

import tokentrail

sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))
import fakes

MESSAGES = [{"role": "user", "content": "Summarize the quarterly report in three bullets."}]


def calls() -> dict[str, Callable[[], Any]]:
    client = fakes.FakeOpenAI(chunks=50).client()

    def chat() -> Any:
        return client.chat.completions.create(
            model=fakes.OPENAI_MODEL, messages=MESSAGES, max_completion_tokens=1024
        )

    def stream() -> None:
        for _ in client.chat.completions.create(
            model=fakes.OPENAI_MODEL,
            messages=MESSAGES,
            max_completion_tokens=1024,
            stream=True,
            stream_options={"include_usage": True},
        ):
            pass

    return {"openai chat": chat, "openai chat stream (50 chunks)": stream}


def providers(spans: bool, metrics: bool) -> tuple[Any, Any, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracer_provider: Any = NoOpTracerProvider()
    if spans:
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider: Any = NoOpMeterProvider()
    if metrics:
        meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    return tracer_provider, meter_provider, exporter


CONFIGS = {  # name -> (spans, metrics); None: bare
    "bare": None,
    "tokentrail": (True, True),
    "no spans": (False, True),
    "no metrics": (True, False),
    "neither": (False, False),
}


def _cpu_us(call: Callable[[], Any], n: int) -> float:
    gc.collect()
    start = time.process_time()
    for _ in range(n):
        call()
    return (time.process_time() - start) / n * 1e6


def breakdown(call: Callable[[], Any], rounds: int, seconds: float) -> dict[str, float]:
    for _ in range(20):
        call()
    start = time.process_time()
    call()
    n = max(5, round(seconds / (time.process_time() - start)))
    samples: dict[str, list[float]] = defaultdict(list)
    built = {name: providers(*config) for name, config in CONFIGS.items() if config}
    for _ in range(rounds):
        for name, config in CONFIGS.items():
            if config is None:
                samples[name].append(_cpu_us(call, n))
                continue
            tracer_provider, meter_provider, exporter = built[name]
            tokentrail.instrument(
                tracer_provider=tracer_provider, meter_provider=meter_provider, providers=["openai"]
            )
            call()
            samples[name].append(_cpu_us(call, n))
            tokentrail.uninstrument()
            exporter.clear()
    return {name: statistics.median(values) for name, values in samples.items()}


def what_a_call_records(call: Callable[[], Any]) -> dict[str, Any]:
    """Span attribute count and synchronous metric recordings of one instrumented call."""
    from opentelemetry.sdk.metrics._internal import instrument as sdk_instrument

    tracer_provider, meter_provider, exporter = providers(True, True)
    tokentrail.instrument(
        tracer_provider=tracer_provider, meter_provider=meter_provider, providers=["openai"]
    )
    counts: dict[str, int] = defaultdict(int)
    patched = {sdk_instrument._Histogram: "record", sdk_instrument._Counter: "add"}
    originals = {cls: getattr(cls, method) for cls, method in patched.items()}

    def counting(original: Callable[..., Any]) -> Callable[..., Any]:
        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            counts[self.name] += 1
            return original(self, *args, **kwargs)

        return method

    try:
        for cls, method in patched.items():
            setattr(cls, method, counting(originals[cls]))
        call()
    finally:
        for cls, method in patched.items():
            setattr(cls, method, originals[cls])
        tokentrail.uninstrument()
    span = exporter.get_finished_spans()[-1]
    return {"span attributes": len(span.attributes), "metric recordings": dict(counts)}


def per_chunk_us(n: int = 2000) -> float:
    """tokentrail's per-chunk path alone: ``StreamProxy`` + the chat accumulator over SDK
    chunks parsed beforehand, minus iterating the same chunks bare (µs per chunk, CPU)."""
    from tokentrail.attribution import EMPTY
    from tokentrail.instrumentation.openai.streams import CompletionStreamAccumulator
    from tokentrail.pricing import PriceBook
    from tokentrail.telemetry.emitter import Emitter
    from tokentrail.telemetry.records import Request
    from tokentrail.telemetry.stream import StreamProxy

    client = fakes.FakeOpenAI(chunks=50).client()
    chunks = (
        list(
            client.chat.completions.create(
                model=fakes.OPENAI_MODEL,
                messages=MESSAGES,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        * 20
    )
    tracer_provider, meter_provider, _ = providers(False, False)
    emitter = Emitter(
        price_book=PriceBook(), tracer_provider=tracer_provider, meter_provider=meter_provider
    )
    request = Request("chat", "openai", fakes.OPENAI_MODEL, stream=True)

    def proxied() -> None:
        call = emitter.start(request, EMPTY, with_span=False)
        accumulator = CompletionStreamAccumulator(prompt=None, capture_content=False)
        for _ in StreamProxy(iter(chunks), call, accumulator):
            pass

    def bare() -> None:
        for _ in iter(chunks):
            pass

    rounds = [(_cpu_us(proxied, n // 100), _cpu_us(bare, n // 100)) for _ in range(9)]
    return statistics.median(p - b for p, b in rounds) / len(chunks)


def by_package(call: Callable[[], Any], n: int, instrumented: bool) -> dict[str, float]:
    """cProfile's own time (tottime) per top-level package, µs per call."""
    tracer_provider, meter_provider, exporter = providers(True, True)
    if instrumented:
        tokentrail.instrument(
            tracer_provider=tracer_provider, meter_provider=meter_provider, providers=["openai"]
        )
    call()
    profile = cProfile.Profile()
    profile.enable()
    for i in range(n):
        call()
        if i % 500 == 499:
            exporter.clear()
    profile.disable()
    if instrumented:
        tokentrail.uninstrument()
    totals: dict[str, float] = defaultdict(float)
    for (filename, _, _), (_, _, tottime, _, _) in pstats.Stats(profile).stats.items():
        totals[_package(filename)] += tottime / n * 1e6
    return dict(totals)


def _package(filename: str) -> str:
    path = filename.replace("\\", "/")
    for marker in ("site-packages/", "/src/", "/lib/python3"):
        if marker in path:
            rest = path.split(marker, 1)[1]
            if marker == "/lib/python3":
                return "stdlib"
            parts = rest.split("/")
            if parts[0] == "opentelemetry" and len(parts) > 1:
                return "opentelemetry." + ("sdk" if parts[1] == "sdk" else parts[1])
            return parts[0].removesuffix(".py")
    return "builtins" if filename.startswith("~") else filename


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--round-seconds", type=float, default=0.2)
    parser.add_argument("--cprofile", type=int, default=0, metavar="CALLS")
    options = parser.parse_args()
    print(f"per-chunk path (StreamProxy + accumulator, no SDK): {per_chunk_us():.2f} µs/chunk")
    for name, call in calls().items():
        t = breakdown(call, options.rounds, options.round_seconds)
        added = t["tokentrail"] - t["bare"]
        spans = t["tokentrail"] - t["no spans"]
        metrics = t["tokentrail"] - t["no metrics"]
        own = t["neither"] - t["bare"]
        print(f"\n{name}: bare {t['bare']:.0f} µs, tokentrail +{added:.0f} µs (CPU, medians)")
        print(f"  spans (SDK span + processor + exporter) {spans:+.0f} µs")
        print(f"  metrics (synchronous recordings)         {metrics:+.0f} µs")
        print(f"  tokentrail's own code, wrapt, pricing    {own:+.0f} µs  (no-op providers)")
        print(f"  rest (not additive)                      {added - spans - metrics - own:+.0f} µs")
        print(f"  one call records: {what_a_call_records(call)}")
        if options.cprofile:
            n = options.cprofile // (10 if "stream" in name else 1)
            bare = by_package(call, n, instrumented=False)
            ours = by_package(call, n, instrumented=True)
            print(f"  cProfile own time by package, instrumented - bare, µs/call (n={n}):")
            for package, value in sorted(ours.items(), key=lambda kv: bare.get(kv[0], 0) - kv[1]):
                delta = value - bare.get(package, 0.0)
                if abs(delta) >= 1:
                    print(f"    {package:32} {delta:+7.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
