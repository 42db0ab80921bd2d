"""A short-lived application for the exit tests: instrumented from the environment
(``TOKENTRAIL_REDIS_URL``, ``TOKENTRAIL_BUDGETS_FILE``), a few calls, then it ends WITHOUT
``tokentrail.flush()`` or ``uninstrument()``, as scripts, cron jobs and zero-code apps do.

Prints one JSON line: the calls' costs as their spans report them. With ``--wait`` it then
waits for a line on stdin and makes the same calls again before exiting (the test stops Redis
in between, so that their spending is still waiting to be written at exit)."""

from __future__ import annotations

import json
import sys
from decimal import Decimal

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tokentrail
from tokentrail.fakes.openai import FakeOpenAI

MODELS = ["gpt-4o-mini", "gpt-4.1-nano", "text-embedding-3-small"]


def main(calls: int, wait: bool) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tokentrail.instrument(tracer_provider=provider)
    client = FakeOpenAI().client()
    make_calls(client, calls)
    costs = [
        str(Decimal(repr(s.attributes["gen_ai.usage.cost"]))) for s in exporter.get_finished_spans()
    ]
    print(json.dumps({"costs": costs}), flush=True)
    if wait:
        sys.stdin.readline()
        make_calls(client, calls)
    # no flush(), no uninstrument(): the interpreter's exit must write what is pending


def make_calls(client, calls: int) -> None:
    for i in range(calls):
        model = MODELS[i % len(MODELS)]
        if model.startswith("text-embedding"):
            client.embeddings.create(model=model, input=f"document {i} " * (i % 7 + 1))
        else:
            client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": f"question {i} " * (i % 5 + 1)}],
                max_tokens=64,
            )


if __name__ == "__main__":
    main(int(sys.argv[1]), "--wait" in sys.argv)
