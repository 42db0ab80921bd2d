"""Zero-code instrumentation: no tokentrail import needed for telemetry.

From a clone of tokentrail (not published yet):

    pip install -e ".[openai]" opentelemetry-distro opentelemetry-exporter-otlp-proto-http
    cd examples/zero-code

Spans printed to the console, no Collector needed:

    OTEL_TRACES_EXPORTER=console OTEL_METRICS_EXPORTER=none OTEL_LOGS_EXPORTER=none \
        opentelemetry-instrument python main.py

To the local stack (`tokentrail stack up`, or deploy/compose), with the settings in .env:

    set -a; . ./.env; set +a
    opentelemetry-instrument python main.py

tokentrail is found through its entry point (tokentrail_openai) and configured by the
TOKENTRAIL_* variables in .env. The attribute() block is optional: it only adds who and what
the call was for. Without OPENAI_API_KEY this talks to tokentrail's built-in fake OpenAI.
"""

import os

import tokentrail

if os.environ.get("OPENAI_API_KEY"):
    import openai

    client = openai.OpenAI()
else:
    from tokentrail.fakes.openai import FakeOpenAI

    client = FakeOpenAI().client()

with tokentrail.attribute(feature="release-notes", team="docs"):
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Write three release-note bullets for v2.1"}],
        stream=True,
    )
    for chunk in stream:
        print(chunk.choices[0].delta.content or "", end="")
print()
