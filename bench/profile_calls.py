"""Where tokentrail's per-call and per-chunk microseconds go, against the floor (``floor.py``:
the same span and histograms with constant values, nothing else), for the hot-path work
(docs/architecture.md, "The hot path").

    python bench/profile_calls.py                      # everything, ~3 minutes
    python bench/profile_calls.py --cprofile 3000      # plus a cProfile by package

* **In isolation**: tokentrail and the floor around stub SDK methods that return a response
  (or chunks) parsed beforehand, so that nothing but the instrumentation runs; with the real
  OTel SDK providers and with no-op ones (tokentrail's own code alone). Per chunk: a stream of
  pre-parsed chunks through the proxy and the accumulator a call gets.
* **In situ**: real SDK calls through the peer benchmark's fakes (``peers/fakes.py``), bare,
  floor and tokentrail in interleaved rounds; per chunk, (added on a 50-chunk stream - added
  on a 5-chunk stream) / 45. What the SDK does between two chunks evicts the
  instrumentation's code and data from the CPU caches, so a chunk costs more here.
* The openai chat call split into spans, metrics and tokentrail's own code (no-op providers).

Times are CPU time, medians of interleaved rounds.
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "peers"))
sys.path.insert(0, str(HERE))
import fakes  # noqa: E402
import floor  # noqa: E402

MESSAGES = [{"role": "user", "content": "Summarize the quarterly report in three bullets."}]
CHAT = {"model": fakes.OPENAI_MODEL, "messages": MESSAGES, "max_completion_tokens": 1024}
CALLER_USAGE = {"stream": True, "stream_options": {"include_usage": True}}
#: floor provider -> tokentrail's
PROVIDERS = {"openai": "openai", "gemini": "google_genai", "bedrock": "bedrock"}


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


def _cpu_us(call: Callable[[], Any], n: int) -> float:
    gc.collect()
    start = time.process_time()
    for _ in range(n):
        call()
    return (time.process_time() - start) / n * 1e6


class Modes:
    """bare / floor / tokentrail for one provider, switched on and off between rounds."""

    def __init__(self, provider: str, real_otel: bool = True) -> None:
        self.provider = provider
        self.tracer_provider, self.meter_provider, self.exporter = providers(real_otel, real_otel)

    def on(self, mode: str) -> None:
        if mode == "floor":
            floor.instrument_floor(self.provider, self.tracer_provider, self.meter_provider)
        elif mode == "tokentrail":
            tokentrail.instrument(
                tracer_provider=self.tracer_provider,
                meter_provider=self.meter_provider,
                providers=[PROVIDERS[self.provider]],
            )

    def off(self, mode: str) -> None:
        if mode == "floor":
            floor.uninstrument_floor()
        elif mode == "tokentrail":
            tokentrail.uninstrument()
        self.exporter.clear()

    def rounds(
        self, calls: dict[str, Callable[[], Any]], rounds: int, seconds: float
    ) -> dict[str, dict[str, list[float]]]:
        """CPU µs per call of each of ``calls`` in each mode, rounds interleaved."""
        out: dict[str, dict[str, list[float]]] = {name: defaultdict(list) for name in calls}
        sizes = {}
        for name, call in calls.items():
            self.on("tokentrail")
            for _ in range(20):
                call()
            start = time.process_time()
            call()
            sizes[name] = max(5, round(seconds / max(time.process_time() - start, 1e-7)))
            self.off("tokentrail")
        for r in range(rounds):
            modes = ("bare", "floor", "tokentrail") if r % 2 else ("tokentrail", "floor", "bare")
            for mode in modes:
                self.on(mode)
                for name, call in calls.items():
                    call()
                    out[name][mode].append(_cpu_us(call, sizes[name]))
                    self.exporter.clear()
                self.off(mode)
        return out


def added(samples: dict[str, list[float]], mode: str) -> float:
    """Median over rounds of (``mode`` - bare)."""
    return statistics.median(m - b for m, b in zip(samples[mode], samples["bare"], strict=True))


# -- stub SDK methods (isolation) -------------------------------------------------------------


def _stub_openai() -> dict[str, Callable[[], Any]]:
    from openai.resources.chat import completions

    client = fakes.FakeOpenAI(chunks=50).client()
    response = client.chat.completions.create(**CHAT)
    chunks = list(client.chat.completions.create(**CHAT, **CALLER_USAGE))

    def create(self: Any, **kwargs: Any) -> Any:
        return iter(chunks) if kwargs.get("stream") else response

    completions.Completions.create = create  # type: ignore[method-assign]

    def stream() -> None:
        for _ in client.chat.completions.create(**CHAT, **CALLER_USAGE):
            pass

    stream.chunks = len(chunks)  # type: ignore[attr-defined]
    return {"openai chat": lambda: client.chat.completions.create(**CHAT), "stream": stream}


def _stub_gemini() -> dict[str, Callable[[], Any]]:
    from google.genai import models

    client = fakes.FakeGemini(thinking=False).client()
    response = client.models.generate_content(model=fakes.GEMINI_MODEL, contents="x")

    def private(self: Any, *, model: str, contents: Any, config: Any = None) -> Any:
        return response

    def public(self: Any, *, model: str, contents: Any, config: Any = None) -> Any:
        # the SDK's public method calls the private one once per model request
        return self._generate_content(model=model, contents=contents, config=config)

    models.Models._generate_content = private  # type: ignore[method-assign]
    models.Models.generate_content = public  # type: ignore[method-assign]
    contents = "Summarize the quarterly report."
    return {
        "gemini generate_content": lambda: client.models.generate_content(
            model=fakes.GEMINI_MODEL, contents=contents
        )
    }


def _stub_bedrock() -> dict[str, Callable[[], Any]]:
    from botocore.client import BaseClient

    client = fakes.FakeBedrock().client()
    kwargs = {
        "modelId": fakes.BEDROCK_MODEL,
        "messages": [{"role": "user", "content": [{"text": MESSAGES[0]["content"]}]}],
        "inferenceConfig": {"maxTokens": 1024},
    }
    response = client.converse(**kwargs)
    BaseClient._make_api_call = lambda self, operation, params: response  # type: ignore[method-assign]
    return {"bedrock converse": lambda: client.converse(**kwargs)}


STUBS = {"openai": _stub_openai, "gemini": _stub_gemini, "bedrock": _stub_bedrock}


def isolation(rounds: int) -> None:
    print("In isolation (stub SDK methods, pre-parsed responses), µs per call added:")
    print("| call | floor | tokentrail | tokentrail / floor | tokentrail, no-op OTel providers |")
    print("|---|---:|---:|---:|---:|")
    for provider, stub in STUBS.items():
        calls = stub()
        real = Modes(provider).rounds(calls, rounds, 0.05)
        noop = Modes(provider, real_otel=False).rounds(calls, rounds, 0.05)
        per_chunk = None
        for name in calls:
            f, t = added(real[name], "floor"), added(real[name], "tokentrail")
            own = added(noop[name], "tokentrail")
            if name == "stream":  # the per-chunk figure, from the stream less the plain call
                chunks = calls[name].chunks  # type: ignore[attr-defined]
                base = real["openai chat"]
                per_chunk = (
                    (f - added(base, "floor")) / chunks,
                    (t - added(base, "tokentrail")) / chunks,
                )
                name = "openai chat stream, 50 chunks, the caller's include_usage"
            print(f"| {name} | {f:+.1f} | {t:+.1f} | {t / f:.2f} | {own:+.1f} |")
        if per_chunk:
            print(
                f"| per chunk, (stream - call) / {chunks} | {per_chunk[0]:+.2f} "
                f"| {per_chunk[1]:+.2f} | {per_chunk[1] / per_chunk[0]:.2f} | |"
            )


def in_situ(rounds: int) -> None:
    print("\nIn situ (real SDK calls over the mock transport), µs added per call:")
    print("| call | bare | floor | tokentrail | tokentrail / floor |")
    print("|---|---:|---:|---:|---:|")
    openai_50 = fakes.FakeOpenAI(chunks=50).client()
    openai_5 = fakes.FakeOpenAI(chunks=5).client()

    def stream(client: Any) -> Callable[[], None]:
        def call() -> None:
            for _ in client.chat.completions.create(**CHAT, **CALLER_USAGE):
                pass

        return call

    calls = {
        "openai chat": lambda: openai_50.chat.completions.create(**CHAT),
        "openai chat stream, 50 chunks": stream(openai_50),
        "openai chat stream, 5 chunks": stream(openai_5),
    }
    found = Modes("openai").rounds(calls, rounds, 0.2)
    for name, samples in found.items():
        f, t = added(samples, "floor"), added(samples, "tokentrail")
        print(
            f"| {name} | {statistics.median(samples['bare']):.0f} | {f:+.0f} | {t:+.0f} "
            f"| {t / f:.2f} |"
        )
    long, short = found["openai chat stream, 50 chunks"], found["openai chat stream, 5 chunks"]
    f = (added(long, "floor") - added(short, "floor")) / 45
    t = (added(long, "tokentrail") - added(short, "tokentrail")) / 45
    print(f"| per chunk, (50 chunks - 5 chunks) / 45 | | {f:+.2f} | {t:+.2f} | |")


def breakdown(rounds: int, seconds: float) -> None:
    """The openai chat call: spans, metrics and tokentrail's own code."""
    client = fakes.FakeOpenAI().client()

    def call() -> Any:
        return client.chat.completions.create(**CHAT)

    configs = {"tokentrail": (True, True), "no spans": (False, True),
               "no metrics": (True, False), "neither": (False, False)}  # fmt: skip
    for _ in range(20):
        call()
    start = time.process_time()
    call()
    n = max(5, round(seconds / (time.process_time() - start)))
    samples: dict[str, list[float]] = defaultdict(list)
    built = {name: providers(*config) for name, config in configs.items()}
    for _ in range(rounds):
        samples["bare"].append(_cpu_us(call, n))
        for name in configs:
            tracer_provider, meter_provider, exporter = built[name]
            tokentrail.instrument(
                tracer_provider=tracer_provider, meter_provider=meter_provider, providers=["openai"]
            )
            call()
            samples[name].append(_cpu_us(call, n))
            tokentrail.uninstrument()
            exporter.clear()
    t = {name: statistics.median(values) for name, values in samples.items()}
    ours = t["tokentrail"] - t["bare"]
    print(f"\nopenai chat in situ: bare {t['bare']:.0f} µs, tokentrail {ours:+.0f} µs")
    print(f"  spans (SDK span + processor + exporter) {t['tokentrail'] - t['no spans']:+.0f} µs")
    print(f"  metrics (synchronous recordings)         {t['tokentrail'] - t['no metrics']:+.0f} µs")
    print(f"  tokentrail's own code (no-op providers)  {t['neither'] - t['bare']:+.0f} µs")


def by_package(n: int) -> None:
    """cProfile's own time (tottime) per top-level package, µs per openai chat call."""
    client = fakes.FakeOpenAI().client()

    def profile(instrumented: bool) -> dict[str, float]:
        tracer_provider, meter_provider, exporter = providers(True, True)
        if instrumented:
            tokentrail.instrument(
                tracer_provider=tracer_provider, meter_provider=meter_provider, providers=["openai"]
            )
        client.chat.completions.create(**CHAT)
        profiler = cProfile.Profile()
        profiler.enable()
        for i in range(n):
            client.chat.completions.create(**CHAT)
            if i % 500 == 499:
                exporter.clear()
        profiler.disable()
        if instrumented:
            tokentrail.uninstrument()
        totals: dict[str, float] = defaultdict(float)
        for (filename, _, _), (_, _, tottime, _, _) in pstats.Stats(profiler).stats.items():
            totals[_package(filename)] += tottime / n * 1e6
        return totals

    bare, ours = profile(False), profile(True)
    print(f"\ncProfile own time by package, instrumented - bare, µs per call (n={n}):")
    for package, value in sorted(ours.items(), key=lambda kv: bare.get(kv[0], 0) - kv[1]):
        delta = value - bare.get(package, 0.0)
        if abs(delta) >= 1:
            print(f"  {package:32} {delta:+7.1f}")


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
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--cprofile", type=int, default=0, metavar="CALLS")
    options = parser.parse_args()
    # in situ first: isolation replaces SDK methods with stubs for the rest of the process
    in_situ(options.rounds)
    breakdown(options.rounds, 0.2)
    if options.cprofile:
        by_package(options.cprofile)
    print()
    isolation(options.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
