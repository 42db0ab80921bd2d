"""Manual instrumentation: set up the OpenTelemetry SDK, call tokentrail.instrument(), attribute.

From a clone of tokentrail (not published yet), with the local stack running
(`tokentrail stack up`, or deploy/compose) to receive the telemetry:

    pip install -e ".[openai]" opentelemetry-sdk opentelemetry-exporter-otlp-proto-http
    OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 python examples/manual/main.py

Without OPENAI_API_KEY it talks to tokentrail's built-in fake OpenAI, so it runs anywhere.
"""

import os

from opentelemetry import metrics, trace
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

import tokentrail

resource = Resource.create({"service.name": "support-api"})
tracer_provider = TracerProvider(resource=resource)
tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
meter_provider = MeterProvider(
    resource=resource, metric_readers=[PeriodicExportingMetricReader(OTLPMetricExporter())]
)
trace.set_tracer_provider(tracer_provider)
metrics.set_meter_provider(meter_provider)

tokentrail.instrument()  # every installed SDK, the global providers set above


def openai_client():
    if os.environ.get("OPENAI_API_KEY"):
        import openai

        return openai.OpenAI()
    from tokentrail.fakes.openai import FakeOpenAI

    return FakeOpenAI().client()


client = openai_client()


@tokentrail.attribute(feature="ticket-triage", team="support")
def triage(ticket: str, user_id: str) -> str:
    with tokentrail.attribute(user_id=user_id, endpoint="/tickets/triage"):
        response = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[
                {"role": "system", "content": "Label the ticket: billing, bug, or question."},
                {"role": "user", "content": ticket},
            ],
            max_tokens=8,
        )
    return response.choices[0].message.content or ""


if __name__ == "__main__":
    print(triage("I was charged twice in March", user_id="u-1042"))
    print(
        "cost so far:", tokentrail.calc_cost(tokentrail.Usage(1200, 300), "gpt-4o-mini", "openai")
    )
    tracer_provider.shutdown()
    meter_provider.shutdown()
