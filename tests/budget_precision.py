"""The nano-dollar precision check shared by the memory and Redis tests: 100,000 cheap calls
of several models, each a few tokens, through the real emitter, pricing and budget tracker;
the budget's gauge must equal the sum of the spans' ``gen_ai.usage.cost`` to 1e-9 USD."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider

from tokentrail.attribution import Attribution
from tokentrail.budgets import Budget
from tokentrail.runtime import Runtime
from tokentrail.telemetry.records import Request, Response
from tokentrail.testing import Telemetry
from tokentrail.usage import Usage

CALLS = 100_000
#: cheap models: a few tokens cost a few hundred nano-dollars, and a cached token of
#: gemini-1.5-flash-8b 18.75 (a fraction of a nano-dollar that per-call rounding would lose)
MODELS = [
    ("gcp.gemini", "generate_content", "gemini-1.5-flash-8b"),
    ("openai", "embeddings", "text-embedding-3-small"),
    ("openai", "chat", "gpt-4.1-nano"),
    ("openai", "chat", "gpt-4o-mini"),
    ("gcp.gemini", "generate_content", "gemini-2.0-flash-lite"),
    ("anthropic", "chat", "claude-3-haiku-20240307"),
]


class CostSum(SpanProcessor):
    """Adds up the spans' ``gen_ai.usage.cost`` exactly (the float's shortest repr)."""

    def __init__(self) -> None:
        self.total = Decimal(0)
        self.spans = 0

    def on_end(self, span: ReadableSpan) -> None:
        cost = span.attributes.get("gen_ai.usage.cost")
        if cost is not None:
            self.total += Decimal(repr(cost))
            self.spans += 1


def spend_cheaply(store: Any, flush: Any) -> tuple[Decimal, float, int]:
    """Make the calls; return (the spans' total, the budget gauge, spans priced)."""
    telemetry = Telemetry()  # its metric reader; the spans go to CostSum only (not kept)
    spans = CostSum()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(spans)
    runtime = Runtime(
        tracer_provider=tracer_provider,
        meter_provider=telemetry.meter_provider,
        budgets=[
            Budget("cheap-traffic", 1000, "day"),
            Budget("guarded", 1000, "day", action="block"),
        ],
        budget_store=store,
    )
    attribution = Attribution({"feature": "indexing"})
    rng = random.Random(7)
    try:
        for _ in range(CALLS):
            provider, operation, model = MODELS[rng.randrange(len(MODELS))]
            request = Request(operation, provider, model, max_tokens=16, prompt="x" * 12)
            call = runtime.emitter.start(
                request, attribution, admission=runtime.admit(request, attribution)
            )
            inputs = rng.randint(1, 40)
            cached = rng.randint(0, inputs) if operation != "embeddings" else 0
            outputs = 0 if operation == "embeddings" else rng.randint(1, 16)
            usage = Usage(input_tokens=inputs, output_tokens=outputs, cache_read_tokens=cached)
            call.end(Response(usage, model=model))
        assert flush(runtime)
        gauge = {
            p.attributes["tokentrail.budget.name"]: p.value
            for p in telemetry.points("tokentrail.budget.spent.usd")
        }
        if store.inline is False:  # a remote store is read after the collection that asked
            assert flush(runtime)
            gauge = {
                p.attributes["tokentrail.budget.name"]: p.value
                for p in telemetry.points("tokentrail.budget.spent.usd")
            }
        assert gauge["cheap-traffic"] == gauge["guarded"]
        return spans.total, gauge["cheap-traffic"], spans.spans
    finally:
        runtime.close()
        tracer_provider.shutdown()
        telemetry.shutdown()
