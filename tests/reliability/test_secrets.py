"""Nothing leaks (docs/reliability.md, "What is never exported"): with the default settings,
the API keys and the message contents are in nothing tokentrail exports.

Every scenario of every provider runs, sync and async, plus each failure kind (an
authentication error whose body quotes the key among them), with a distinctive key per
provider, attribution, budgets and a per-request cost limit that fire alerts. Everything that
leaves is captured and searched: spans and metrics exported over OTLP/HTTP to a local
receiver, the Prometheus exposition, every log record (any logger, DEBUG and up), and the
alerts delivered to a webhook, Slack and PagerDuty on that same local receiver.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from prometheus_client import REGISTRY, generate_latest

import tokentrail
from tokentrail import Budget, PagerDutySink, SlackSink, WebhookSink, attribute
from tokentrail.fakes.anthropic import FakeAnthropic
from tokentrail.fakes.google_genai import FakeGemini
from tokentrail.fakes.openai import FakeOpenAI

from .cases import FAILURE_KINDS, PROMPT, STREAM_FAILURES, provider_cases
from .faults import Envs, outcomes

CASES = provider_cases()
KEYS = {
    FakeOpenAI: "sk-tt-canary-openai-5e1f9c",
    FakeAnthropic: "sk-ant-tt-canary-anthropic-8b2d47",
    FakeGemini: "AIza-tt-canary-gemini-3c9a61",
}
#: what must never be exported: the keys, the prompt, words only the fakes' answers use
SECRETS = [*KEYS.values(), PROMPT, "Zanzibar-7731", "recommendation", "careful summary"]


class Receiver(ThreadingHTTPServer):
    """Everything POSTed to it, as bytes."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.bodies.append(self.path.encode() + b"\n" + body)
                self.send_response(202 if self.path == "/pagerduty" else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server_port}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def canary_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for fake, key in KEYS.items():
        monkeypatch.setattr(fake, "api_key", key)


def run_failures() -> list[str]:
    """Every failure kind of every provider: the errors the application got."""
    errors = []
    for cases in CASES.values():
        for kind in FAILURE_KINDS:
            fake = cases.fake()
            cases.fail_next(fake, kind)
            client = cases.client(fake, None)
            try:
                result = cases.call(client, stream=kind in STREAM_FAILURES)
                if kind in STREAM_FAILURES:
                    list(result)
            except Exception as exc:
                errors.append(str(exc))
    return errors


def test_keys_and_contents_are_never_exported(receiver, canary_keys, caplog):
    caplog.set_level(logging.DEBUG)
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{receiver.url}/v1/traces"))
    )
    otlp_metrics = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=f"{receiver.url}/v1/metrics"), export_interval_millis=60_000
    )
    prometheus = PrometheusMetricReader()
    meter_provider = MeterProvider(metric_readers=[otlp_metrics, prometheus])
    envs = Envs()
    tokentrail.instrument(
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        budgets=[
            Budget("everything", Decimal("0.0001"), "day", warn_at=(0.5,)),
            Budget("per-user", Decimal("0.0001"), "hour", per="user_id"),
            Budget("cap", 1000, "day", action="block"),
        ],
        alert_sinks=[
            WebhookSink(f"{receiver.url}/webhook"),
            SlackSink(f"{receiver.url}/slack"),
            PagerDutySink("routing-key-not-a-secret", url=f"{receiver.url}/pagerduty"),
        ],
        max_request_cost_usd=Decimal("0.000001"),
    )
    try:
        with attribute(feature="search", team="core", user_id="user-42"):
            got = outcomes(CASES, envs)
            errors = run_failures()
        assert tokentrail.flush(timeout=10)
        exposition = generate_latest(REGISTRY)
        assert otlp_metrics.force_flush()
    finally:
        tokentrail.uninstrument()
        tracer_provider.shutdown()
        meter_provider.shutdown()  # also takes the Prometheus reader out of REGISTRY
        envs.close()

    sent = b"\n".join(receiver.bodies)
    # tokentrail's own log lines and the exporters' (the SDKs log requests at DEBUG: theirs)
    logs = "\n".join(
        f"{r.getMessage()} {r.exc_text or ''} {getattr(r, 'tokentrail_alert', '')}"
        for r in caplog.records
        if r.name.startswith(("tokentrail", "opentelemetry"))
    )
    # what was searched is really there: spans, metrics, alerts of every kind, the exposition
    assert b"/v1/traces" in sent
    assert b"/v1/metrics" in sent
    assert all(path in sent for path in (b"/webhook", b"/slack", b"/pagerduty"))
    assert b"tokentrail_requests_total" in exposition
    assert b"gen_ai.usage.input_tokens" in sent
    # the application did get the secrets: they were there to leak
    assert any("recommendation" in repr(value) for value in got.values())
    assert all(any(key in error for error in errors) for key in KEYS.values())
    for secret in SECRETS:
        assert secret.encode() not in sent, f"{secret!r} was exported"
        assert secret.encode() not in exposition, f"{secret!r} is in the Prometheus exposition"
        assert secret not in logs, f"{secret!r} was logged"
