"""A stream left open when the process exits (the script broke out of its loop, kept the
stream, never closed it, never called ``flush()``) is reported at exit with what it had
delivered — the usage it reported, else an estimate — as it would be had it been dropped:
``estimated``, never ``unpriced`` with no tokens."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter

    import tokentrail

    class Printer(SpanExporter):
        def export(self, spans):
            for span in spans:
                attributes = span.attributes
                print(json.dumps({
                    "status": attributes.get("tokentrail.cost.status"),
                    "input": attributes.get("gen_ai.usage.input_tokens"),
                    "cost": attributes.get("gen_ai.usage.cost"),
                }), flush=True)

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(Printer()))
    tokentrail.instrument(tracer_provider=provider)
    if sys.argv[1] == "openai":
        from tokentrail.fakes.openai import FakeOpenAI
        stream = FakeOpenAI().client().chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "a long story"}],
            stream=True,
        )
    else:
        from tokentrail.fakes.google_genai import FakeGemini
        stream = FakeGemini().client().models.generate_content_stream(
            model="gemini-2.5-flash", contents="a long story"
        )
    for i, chunk in enumerate(stream):
        if i == 1:
            break
    print("exiting", flush=True)
    # the stream is still referenced here: it is the exit that ends its call
    """
)


@pytest.mark.parametrize("provider", ["openai", "google_genai"])
def test_a_stream_open_at_exit_is_reported_with_what_it_delivered(provider):
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, provider],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "exiting", result.stdout  # nothing reported before the exit
    (span,) = [json.loads(line) for line in lines[1:]]
    assert span["status"] == "estimated"
    assert span["input"] > 0
    assert span["cost"] > 0
