"""What attributing calls to their web request's route costs, measured.

1. Per call, what a call reads when it starts (``Runtime.attribution()``: the ``attribute()``
   blocks plus the request's route and its feature) against the blocks alone (what a call read
   before routes existed), in each situation: no web request (no web instrumentation in use),
   in a request's server span, in a child span two levels below it, and with an explicit
   endpoint and feature (the route is then not read).
2. Per span the application starts, what the span processor adds (``on_start``), for a
   request's server span and for any other span.
3. A whole openai chat call (fake provider, ``SimpleSpanProcessor`` → in-memory exporter)
   inside a request's server span, with route attribution and with the blocks alone,
   interleaved rounds.

CPU time (``time.thread_time``), so that other work on a shared machine counts less.

    python bench/routes.py            # ~1 minute; --quick for a smoke run
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tokentrail
from tokentrail.attribution import current
from tokentrail.fakes.openai import FakeOpenAI
from tokentrail.runtime import Runtime, state

MESSAGES = [{"role": "user", "content": "Summarize the quarterly report in three bullets."}]
ROUTE = "/users/{user_id}/summary"
FEATURES = {"/api/*": "api", "/users/*": "summaries"}


def per_call_us(fn: Callable[[], object], n: int, rounds: int, pick=min) -> float:
    """The CPU time of one call in µs: the mean over ``n`` calls, the best of ``rounds``
    (other processes on the machine only ever add time)."""
    times = []
    for _ in range(rounds):
        gc.collect()
        start = time.thread_time()
        for _ in range(n):
            fn()
        times.append((time.thread_time() - start) / n * 1e6)
    return pick(times)


@contextmanager
def in_request(tracer: trace.Tracer, depth: int = 0) -> Iterator[None]:
    """Inside a request's server span (as a web instrumentation opens it), ``depth`` child
    spans down."""
    with tracer.start_as_current_span(
        "GET", kind=trace.SpanKind.SERVER, attributes={"http.route": ROUTE}
    ):
        if not depth:
            yield
            return
        with in_child(tracer, depth):
            yield


@contextmanager
def in_child(tracer: trace.Tracer, depth: int) -> Iterator[None]:
    with tracer.start_as_current_span(f"child {depth}"):
        if depth == 1:
            yield
        else:
            with in_child(tracer, depth - 1):
                yield


def attribution_costs(tracer: trace.Tracer, runtime: Runtime, n: int, rounds: int) -> list:
    """(situation, blocks alone µs, with routes µs) for what a call reads when it starts."""
    rows = []

    def compare(situation: str) -> None:
        runtime.attribution()  # warm the memo
        rows.append(
            (
                situation,
                per_call_us(current, n, rounds),
                per_call_us(runtime.attribution, n, rounds),
            )
        )

    compare("no web request")
    with in_request(tracer):
        compare("in a request's server span")
    with in_request(tracer, depth=2):
        compare("two child spans below it")
    with in_request(tracer), tokentrail.attribute(endpoint="e", feature="f"):
        compare("explicit endpoint and feature")
    return rows


def span_start_costs(n: int, rounds: int) -> list:
    """(span, without the processor µs, with it µs) per span start and end, best of
    interleaved rounds."""
    bare, hooked = TracerProvider(), TracerProvider()
    tokentrail.instrument(tracer_provider=hooked, providers=[])
    rows = []
    for kind, label in ((trace.SpanKind.SERVER, "server span"), (trace.SpanKind.INTERNAL, "other")):
        attributes = {"http.route": ROUTE} if kind is trace.SpanKind.SERVER else None
        starts = [
            _span_start(provider.get_tracer("app"), kind, attributes) for provider in (bare, hooked)
        ]
        times: list[list[float]] = [[], []]
        for _ in range(rounds):
            for i, start in enumerate(starts):
                times[i].append(per_call_us(start, n, 1))
        rows.append((label, min(times[0]), min(times[1])))
    tokentrail.uninstrument()
    return rows


def _span_start(tracer: trace.Tracer, kind: trace.SpanKind, attributes: dict | None):
    return lambda: tracer.start_span("s", kind=kind, attributes=attributes).end()


def whole_call_costs(calls: int, rounds: int) -> tuple[float, float]:
    """(blocks alone, with routes): CPU µs per openai chat call inside a request's server
    span, best of interleaved rounds."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    tokentrail.instrument(
        tracer_provider=provider, meter_provider=meter_provider, features=FEATURES
    )
    client = FakeOpenAI().client()
    tracer = provider.get_tracer("web")
    routed = Runtime.attribution

    def blocks_alone(self: Runtime) -> object:
        return current()

    def call() -> None:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    without, with_routes = [], []
    with in_request(tracer):
        for _ in range(calls // 4):
            call()
        for _ in range(rounds):
            Runtime.attribution = blocks_alone  # type: ignore[method-assign]
            without.append(per_call_us(call, calls, 1))
            Runtime.attribution = routed  # type: ignore[method-assign]
            with_routes.append(per_call_us(call, calls, 1))
            exporter.clear()
    Runtime.attribution = routed  # type: ignore[method-assign]
    tokentrail.uninstrument()
    return min(without), min(with_routes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls and rounds")
    args = parser.parse_args()
    n, rounds, calls = (20_000, 3, 200) if args.quick else (200_000, 9, 500)

    provider = TracerProvider()
    tokentrail.instrument(tracer_provider=provider, providers=[], features=FEATURES)
    runtime = state().installed[0]
    rows = attribution_costs(provider.get_tracer("web"), runtime, n, rounds)
    tokentrail.uninstrument()
    spans = span_start_costs(n // 10, rounds)
    without, with_routes = whole_call_costs(calls, rounds)

    print("\n| what a call reads at its start | blocks alone µs | with routes µs | added µs |")
    print("|---|---:|---:|---:|")
    for situation, alone, routed in rows:
        print(f"| {situation} | {alone:.2f} | {routed:.2f} | {routed - alone:+.2f} |")
    print("\n| span start + end | without the processor µs | with it µs | added µs |")
    print("|---|---:|---:|---:|")
    for label, bare, hooked in spans:
        print(f"| {label} | {bare:.2f} | {hooked:.2f} | {hooked - bare:+.2f} |")
    print(
        f"\nopenai chat call in a request's server span: {without:.0f} µs with the blocks "
        f"alone, {with_routes:.0f} µs with routes ({with_routes - without:+.1f} µs; the "
        "call's own spread on a shared machine is larger than the difference)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
