"""Soak: does tokentrail's memory stay flat over a long run? (docs/reliability.md)

Mixed calls through the built-in fakes — openai, anthropic and google-genai, plain and
streamed, a few streams dropped half-read (ended by the finaliser thread), a few failing —
with attribution (a few features and users), budgets (an alert-only one, one per user, a
blocking one), an alert sink, and the OpenTelemetry SDK exporting spans (to a counter) and
collecting metrics (as a scrape would) every 1,000 calls. After the warm-up, the process's RSS
and Python's allocations (``tracemalloc``) are measured, then again at the end (the fakes
forget their recorded requests first, and tracemalloc's own memory is left out of the RSS);
what grew is reported, the ten largest growths by line first.

    python bench/soak.py                    # 200,000 calls, with tracemalloc (an hour or more)
    python bench/soak.py --no-tracemalloc   # RSS and money only (~4.5 minutes on 2 cores)
    python bench/soak.py --calls 20000      # shorter
    python bench/soak.py --json out.json

Target: flat, less than 1 MB of growth after the warm-up. tests/reliability/test_soak.py runs
a short version (without tracemalloc) in the default test run.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

import tokentrail
from tokentrail.fakes.anthropic import FakeAnthropic
from tokentrail.fakes.google_genai import FakeGemini
from tokentrail.fakes.openai import FakeOpenAI

PROMPTS = [f"Summarise ticket {n} of the support queue in two sentences." for n in range(8)]
FEATURES = ["search", "support", "digest"]
USERS = [f"user-{n}" for n in range(20)]
#: fakes forget their requests every so many calls (they record each one)
RESET_EVERY = 500
SCRAPE_EVERY = 1000


class CountingExporter(SpanExporter):
    """Exports spans by counting them and adding up their cost, exactly (an in-memory
    exporter would keep them all)."""

    def __init__(self) -> None:
        self.spans = 0
        self.cost = Decimal(0)
        self._lock = threading.Lock()

    def export(self, spans: Any) -> SpanExportResult:
        # spans end on the application's thread and on tokentrail's finaliser thread (dropped
        # streams) at once: without the lock, two exports can lose one's addition
        with self._lock:
            self.spans += len(spans)
            for span in spans:
                cost = span.attributes.get("gen_ai.usage.cost")
                if cost is not None:
                    self.cost += Decimal(repr(cost))
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


@dataclass
class Figures:
    calls: int
    warmup: int
    seconds: float
    rss_after_warmup_mb: float
    rss_at_end_mb: float
    rss_growth_mb: float
    #: Python allocations traced from the end of the warm-up to the end (None: not traced)
    traced_growth_mb: float | None
    top_growth: list[str] = field(default_factory=list)
    spans: int = 0
    alerts: int = 0
    failed_calls: int = 0
    #: the spans' costs, and what the "everything" budget counted (its gauge): the same
    spans_cost_usd: str = "0"
    budget_spent_usd: str = "0"


def rss_mb() -> float:
    """The process's resident memory now (Linux ``/proc``)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class Workload:
    """The calls, in a fixed rotation; ``step(n)`` makes call ``n``."""

    def __init__(self) -> None:
        self.openai = FakeOpenAI(stream_chunks=6)
        self.anthropic = FakeAnthropic(stream_chunks=6)
        self.gemini = FakeGemini(stream_chunks=4)
        self.fakes = (self.openai, self.anthropic, self.gemini)
        self.openai_client = self.openai.client()
        self.anthropic_client = self.anthropic.client()
        self.gemini_models = self.gemini.client().models
        self.failed = 0
        steps: list[Callable[[str], Any]] = [
            self.openai_chat,
            self.openai_stream,
            self.anthropic_message,
            self.gemini_generate,
            self.openai_embed,
            self.anthropic_stream,
            self.gemini_stream,
            self.openai_chat,
            self.dropped_stream,
            self.failing,
        ]
        self.steps = steps

    def step(self, n: int) -> None:
        if n % RESET_EVERY == 0:
            for fake in self.fakes:
                fake.reset()
        prompt = PROMPTS[n % len(PROMPTS)]
        with tokentrail.attribute(feature=FEATURES[n % 3], user_id=USERS[n % len(USERS)]):
            self.steps[n % len(self.steps)](prompt)

    def openai_chat(self, prompt: str) -> None:
        self.openai_client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}], max_tokens=200
        )

    def openai_stream(self, prompt: str) -> None:
        stream = self.openai_client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}], stream=True
        )
        for _ in stream:
            pass

    def openai_embed(self, prompt: str) -> None:
        self.openai_client.embeddings.create(model="text-embedding-3-small", input=prompt)

    def anthropic_message(self, prompt: str) -> None:
        self.anthropic_client.messages.create(
            model="claude-haiku-4-5", max_tokens=256, messages=[{"role": "user", "content": prompt}]
        )

    def anthropic_stream(self, prompt: str) -> None:
        with self.anthropic_client.messages.stream(
            model="claude-haiku-4-5", max_tokens=256, messages=[{"role": "user", "content": prompt}]
        ) as stream:
            stream.get_final_message()

    def gemini_generate(self, prompt: str) -> None:
        self.gemini_models.generate_content(model="gemini-2.5-flash", contents=prompt)

    def gemini_stream(self, prompt: str) -> None:
        for _ in self.gemini_models.generate_content_stream(
            model="gemini-2.5-flash", contents=prompt
        ):
            pass

    def dropped_stream(self, prompt: str) -> None:
        """Two chunks read, then the stream is dropped (its call ends on the finaliser
        thread when it is collected)."""
        stream = self.openai_client.chat.completions.create(
            model="gpt-4.1-nano", messages=[{"role": "user", "content": prompt}], stream=True
        )
        next(stream)
        next(stream)

    def failing(self, prompt: str) -> None:
        """An error response every tenth call."""
        self.anthropic.fail_next(529)
        try:
            self.anthropic_message(prompt)
        except Exception:
            self.failed += 1


class Session:
    """The workload, instrumented as described above; ``run(n)`` makes ``n`` more calls,
    ``settle()`` waits for background work and collects garbage (then the fakes hold no
    requests, so what remains is the process's own)."""

    def __init__(self) -> None:
        self.exporter = CountingExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.alerts: list[str] = []
        self.made = 0

    def __enter__(self) -> Session:
        tokentrail.instrument(
            tracer_provider=self.tracer_provider,
            meter_provider=self.meter_provider,
            budgets=[
                tokentrail.Budget("everything", 10_000, "day", warn_at=(0.5, 0.8)),
                tokentrail.Budget("per-user", 1_000, "hour", per="user_id"),
                tokentrail.Budget("cap", 10_000, "day", action="block"),
            ],
            alert_sinks=[self.alert],
            max_request_cost_usd=Decimal("0.0001"),
        )
        self.workload = Workload()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        tokentrail.uninstrument()
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()

    def alert(self, alert: Any) -> None:
        if len(self.alerts) < 100:
            self.alerts.append(alert.kind)

    def run(self, n: int) -> None:
        for call in range(self.made, self.made + n):
            self.workload.step(call)
            if call % SCRAPE_EVERY == SCRAPE_EVERY - 1:
                self.reader.get_metrics_data()
        self.made += n

    def budget_spent(self) -> Decimal:
        """What the budget every call counts in holds (its gauge, read as a scrape would)."""
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == "tokentrail.budget.spent.usd":
                        for point in metric.data.data_points:
                            if point.attributes.get("tokentrail.budget.name") == "everything":
                                return Decimal(repr(point.value))
        return Decimal(0)

    def settle(self) -> None:
        # the streams dropped since the last collection end on the finaliser thread once
        # collected: collected first, so that the flush waits for their calls too
        gc.collect()
        tokentrail.flush(timeout=10)
        for fake in self.workload.fakes:
            fake.reset()
        gc.collect()


def soak(total: int, warmup: int, *, trace: bool = True, top: int = 10) -> Figures:
    """Make ``total`` calls; measure what grew after the first ``warmup``."""
    started = time.perf_counter()
    with Session() as session:
        session.run(warmup)
        session.settle()
        rss_before = rss_mb()
        if trace:
            tracemalloc.start(5)
            before = tracemalloc.take_snapshot()
        session.run(total - warmup)
        session.settle()
        rss_after = rss_mb()
        traced, lines = None, []
        if trace:
            after = tracemalloc.take_snapshot()
            # what tracemalloc itself holds (its traces) is not the workload's
            rss_after -= tracemalloc.get_tracemalloc_memory() / 2**20
            tracemalloc.stop()
            stats = after.compare_to(before, "lineno")
            traced = sum(s.size_diff for s in stats) / 2**20
            lines = [str(s) for s in stats[:top]]
        spent = session.budget_spent()
    return Figures(
        calls=total,
        warmup=warmup,
        seconds=round(time.perf_counter() - started, 1),
        rss_after_warmup_mb=round(rss_before, 2),
        rss_at_end_mb=round(rss_after, 2),
        rss_growth_mb=round(rss_after - rss_before, 3),
        traced_growth_mb=None if traced is None else round(traced, 3),
        top_growth=lines,
        spans=session.exporter.spans,
        alerts=len(session.alerts),
        failed_calls=session.workload.failed,
        spans_cost_usd=str(session.exporter.cost),
        budget_spent_usd=str(spent),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--warmup", type=int, default=20_000)
    parser.add_argument("--no-tracemalloc", action="store_true")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()
    figures = soak(args.calls, args.warmup, trace=not args.no_tracemalloc)
    print(f"{figures.calls:,} calls ({figures.warmup:,} warm-up) in {figures.seconds} s; "
          f"{figures.spans:,} spans, {figures.failed_calls:,} failed calls, "
          f"{figures.alerts} alerts")  # fmt: skip
    print(f"spans' cost ${figures.spans_cost_usd}, counted by the budget "
          f"${figures.budget_spent_usd}")  # fmt: skip
    print(f"RSS after warm-up {figures.rss_after_warmup_mb} MB, at the end "
          f"{figures.rss_at_end_mb} MB: growth {figures.rss_growth_mb} MB")  # fmt: skip
    if figures.traced_growth_mb is not None:
        print(f"tracemalloc: {figures.traced_growth_mb} MB allocated and kept after warm-up")
        for line in figures.top_growth:
            print(f"  {line}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(asdict(figures), f, indent=2)
    sys.exit(0 if figures.rss_growth_mb < 1 else 1)


if __name__ == "__main__":
    main()
