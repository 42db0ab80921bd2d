"""What tokentrail adds to an SDK call, measured.

Each scenario makes real SDK calls through the built-in fake provider (a mock transport, so the
network is out of the picture) with the SDK bare and then instrumented (OTel SDK,
``SimpleSpanProcessor`` → in-memory exporter, in-memory metric reader), interleaving rounds so
that drift affects both alike, and reports the median per-call time of each and the difference.

    python bench/overhead.py                 # all scenarios, Markdown table
    python bench/overhead.py --quick         # fewer rounds, for a smoke check
    python bench/overhead.py --json out.json

Targets (issue 3, 2-core machine): ≤ +50 µs per non-streamed call, ≤ +3 µs per streamed
chunk, cached price lookup < 5 µs, ``import tokentrail`` + ``instrument()`` < 150 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tokentrail
from tokentrail.fakes.google_genai import FakeGemini
from tokentrail.fakes.openai import FakeOpenAI
from tokentrail.usage import Usage

MESSAGES = [{"role": "user", "content": "Summarize the quarterly report in three bullets."}]
USAGE = {
    "prompt_tokens": 1200,
    "completion_tokens": 300,
    "total_tokens": 1500,
    "prompt_tokens_details": {"cached_tokens": 1024},
    "completion_tokens_details": {"reasoning_tokens": 128},
}
GEMINI_USAGE = {
    "promptTokenCount": 1200,
    "cachedContentTokenCount": 1024,
    "candidatesTokenCount": 300,
    "thoughtsTokenCount": 128,
    "totalTokenCount": 1628,
    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 1200}],
}


@dataclass
class Result:
    scenario: str
    bare_us: float
    instrumented_us: float
    per: str = "call"

    @property
    def added_us(self) -> float:
        return self.instrumented_us - self.bare_us


def _scenarios(chunks: int) -> dict[str, Callable[[], Callable[[], object]]]:
    """name -> factory of a zero-argument callable that makes one call (clients built once)."""

    def chat():
        client = FakeOpenAI(usage=USAGE).client()
        return lambda: client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    def chat_stream(n: int):
        def factory():
            client = FakeOpenAI(usage=USAGE, stream_chunks=n).client()

            def call():
                for _ in client.chat.completions.create(
                    model="gpt-4o", messages=MESSAGES, stream=True
                ):
                    pass

            return call

        return factory

    def responses():
        client = FakeOpenAI(usage=USAGE).client()
        return lambda: client.responses.create(model="gpt-4o", input="Summarize the report.")

    def async_chat():
        client = FakeOpenAI(usage=USAGE).async_client()
        loop = asyncio.new_event_loop()

        async def batch():
            for _ in range(10):
                await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

        return lambda: loop.run_until_complete(batch())

    def gemini():
        client = FakeGemini(usage=GEMINI_USAGE).client()
        return lambda: client.models.generate_content(
            model="gemini-2.5-flash", contents="Summarize the report."
        )

    def gemini_stream():
        client = FakeGemini(usage=GEMINI_USAGE, stream_chunks=chunks).client()

        def call():
            for _ in client.models.generate_content_stream(
                model="gemini-2.5-flash", contents="Summarize the report."
            ):
                pass

        return call

    return {
        "openai chat.completions.create": chat,
        f"openai chat stream ({chunks} chunks)": chat_stream(chunks),
        "openai chat stream (5 chunks)": chat_stream(5),
        "openai responses.create": responses,
        "openai async chat (per call)": async_chat,
        "gemini generate_content": gemini,
        f"gemini generate_content_stream ({chunks} chunks)": gemini_stream,
    }


def _time_calls(call: Callable[[], object], n: int) -> float:
    gc.collect()
    start = time.perf_counter()
    for _ in range(n):
        call()
    return (time.perf_counter() - start) / n * 1e6


def measure(name: str, factory, *, calls: int, rounds: int, per_call_divisor: int = 1) -> Result:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    call = factory()
    for _ in range(calls // 4):  # warm-up: imports, caches, price lookups
        call()
    bare, instrumented = [], []
    for _ in range(rounds):
        bare.append(_time_calls(call, calls))
        tokentrail.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
        call()  # warm the instrumented path
        instrumented.append(_time_calls(call, calls))
        tokentrail.uninstrument()
        exporter.clear()
    tracer_provider.shutdown()
    meter_provider.shutdown()
    return Result(
        name,
        statistics.median(bare) / per_call_divisor,
        statistics.median(instrumented) / per_call_divisor,
    )


def price_lookup_us(n: int = 50_000) -> float:
    from tokentrail.pricing import PriceBook

    book = PriceBook()
    usage = Usage(
        input_tokens=1200, output_tokens=300, cache_read_tokens=1024, reasoning_tokens=128
    )
    book.cost(usage, "openai", "gpt-4o-2024-08-06", "gpt-4o")
    start = time.perf_counter()
    for _ in range(n):
        book.cost(usage, "openai", "gpt-4o-2024-08-06", "gpt-4o")
    return (time.perf_counter() - start) / n * 1e6


_IMPORT_PROBE = """
import time
t0 = time.perf_counter()
import openai
t1 = time.perf_counter()
import tokentrail
tokentrail.instrument()
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def import_and_instrument_ms(repeats: int = 5) -> tuple[float, float]:
    """(import openai, import tokentrail + instrument()) in fresh interpreters, median ms."""
    sdk, ours = [], []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", _IMPORT_PROBE],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": ""},
        ).stdout.split()
        sdk.append(float(out[0]) * 1e3)
        ours.append(float(out[1]) * 1e3)
    return statistics.median(sdk), statistics.median(ours)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls and rounds")
    parser.add_argument("--chunks", type=int, default=50, help="chunks of the long stream")
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON")
    args = parser.parse_args()
    calls, rounds = (200, 3) if args.quick else (1000, 7)

    results = []
    for name, factory in _scenarios(args.chunks).items():
        divisor = 10 if "async" in name else 1
        n = calls // divisor if "async" in name else calls
        results.append(measure(name, factory, calls=n, rounds=rounds, per_call_divisor=divisor))
        print(f"  measured {name}", file=sys.stderr)

    by_name = {r.scenario: r for r in results}
    long_stream = by_name[f"openai chat stream ({args.chunks} chunks)"]
    short_stream = by_name["openai chat stream (5 chunks)"]
    per_chunk = (long_stream.added_us - short_stream.added_us) / (args.chunks - 5)
    lookup = price_lookup_us()
    sdk_ms, ours_ms = import_and_instrument_ms(3 if args.quick else 5)

    print("\n| scenario | bare µs/call | instrumented µs/call | added µs |")
    print("|---|---:|---:|---:|")
    for r in results:
        print(f"| {r.scenario} | {r.bare_us:.1f} | {r.instrumented_us:.1f} | {r.added_us:+.1f} |")
    print(f"\n- added per streamed chunk: {per_chunk:+.2f} µs")
    print(f"- cached price lookup (PriceBook.cost): {lookup:.2f} µs")
    print(f"- import openai: {sdk_ms:.0f} ms; import tokentrail + instrument(): {ours_ms:.0f} ms")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(
                {
                    "results": [asdict(r) | {"added_us": r.added_us} for r in results],
                    "per_chunk_us": per_chunk,
                    "price_lookup_us": lookup,
                    "import_openai_ms": sdk_ms,
                    "import_and_instrument_ms": ours_ms,
                    "python": sys.version.split()[0],
                },
                f,
                indent=2,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
