"""Route attribution against plain OTel SDK spans (what a web instrumentation produces; the
tests in tests/web run the real frameworks): which span is a request's, when its route is read,
where it reaches, what it never leaks to, what wins over it, and the processor's bookkeeping."""

from __future__ import annotations

import asyncio
import contextvars
import json
import subprocess
import sys
import textwrap

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

import tokentrail
from tokentrail import Budget, BudgetExceededError, attribute
from tokentrail.fakes.openai import FakeOpenAI
from tokentrail.runtime import state
from tokentrail.testing import Telemetry, capture
from tokentrail.web import routes
from tokentrail.web.processor import SpanStarts

MESSAGES = [{"role": "user", "content": "hello"}]
ROUTE = "/users/{user_id}/summary"
FEATURES = {"/users/*": "summaries"}
SERVER = trace.SpanKind.SERVER


@pytest.fixture
def client():
    return FakeOpenAI().client()


@pytest.fixture
def fresh_context():
    """Each test starts in a context no earlier request span was remembered in."""
    context = contextvars.Context()
    return lambda fn, *args: context.run(fn, *args)


def attribution_of(span):
    return span.attributes.get("tokentrail.endpoint"), span.attributes.get("tokentrail.feature")


def llm_spans(telemetry):
    return [s for s in telemetry.spans() if s.instrumentation_scope.name == "tokentrail"]


def request(tracer, route=ROUTE, **kwargs):
    attributes = {"http.request.method": "GET"}
    if route is not None:
        attributes["http.route"] = route
    return tracer.start_as_current_span("GET", kind=SERVER, attributes=attributes, **kwargs)


def test_in_a_request_its_span_and_metrics_carry_the_route_and_its_feature(client, fresh_context):
    def run():
        with capture(features=FEATURES) as telemetry:
            tracer = telemetry.tracer_provider.get_tracer("web")
            with request(tracer):
                client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            [span] = llm_spans(telemetry)
            assert attribution_of(span) == (ROUTE, "summaries")
            points = telemetry.points("tokentrail.requests")
            assert [p.attributes.get("tokentrail.endpoint") for p in points] == [ROUTE]
            assert [p.attributes.get("tokentrail.feature") for p in points] == ["summaries"]

    fresh_context(run)


def test_nothing_outside_a_request_nor_in_spans_that_are_not_a_requests(client, fresh_context):
    def run():
        with capture(features={"*": "everything"}) as telemetry:
            tracer = telemetry.tracer_provider.get_tracer("app")
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            with tracer.start_as_current_span("job", attributes={"http.route": "/not/a/request"}):
                client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            with request(tracer, route=None):  # no route matched (a 404)
                client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            assert {attribution_of(s) for s in llm_spans(telemetry)} == {(None, None)}

    fresh_context(run)


def test_a_context_that_outlived_its_request_lends_it_nothing(client, fresh_context):
    """A worker thread's context keeps the last request's span after it ended: a call made
    there outside a request, or in another trace, gets no route."""

    def run():
        with capture() as telemetry:
            tracer = telemetry.tracer_provider.get_tracer("web")
            with request(tracer):
                pass
            assert routes.request_span.get() is not None  # still remembered here
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            with tracer.start_as_current_span("another trace"):
                client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            assert {attribution_of(s) for s in llm_spans(telemetry)} == {(None, None)}

    fresh_context(run)


def test_the_route_is_read_when_the_call_starts(client, fresh_context):
    """Django sets http.route on its span after starting it (once the URL is resolved)."""

    def run():
        with capture(features=FEATURES) as telemetry:
            tracer = telemetry.tracer_provider.get_tracer("web")
            with request(tracer, route=None) as span:
                span.set_attribute("http.route", ROUTE)
                client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            [call] = llm_spans(telemetry)
            assert attribution_of(call) == (ROUTE, "summaries")

    fresh_context(run)


def test_child_spans_tasks_and_threads_of_the_request(fresh_context):
    fake = FakeOpenAI()

    async def serve(tracer):
        aclient, client = fake.async_client(), fake.client()
        with request(tracer):
            with tracer.start_as_current_span("rank"), tracer.start_as_current_span("rerank"):
                await aclient.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            task = asyncio.create_task(
                aclient.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            )
            await asyncio.to_thread(
                client.chat.completions.create, model="gpt-4o", messages=MESSAGES
            )
        await task  # it ends after the request did

    def run():
        with capture(features=FEATURES) as telemetry:
            asyncio.run(serve(telemetry.tracer_provider.get_tracer("web")))
            spans = llm_spans(telemetry)
            assert len(spans) == 3
            assert {attribution_of(s) for s in spans} == {(ROUTE, "summaries")}

    fresh_context(run)


def test_explicit_values_win_and_the_routes_feature_fills_the_gap(client, fresh_context):
    def run():
        with capture(features=FEATURES) as telemetry:
            tracer = telemetry.tracer_provider.get_tracer("web")
            with request(tracer):
                for block in (
                    attribute(endpoint="summary-v2"),
                    attribute(feature="chosen"),
                    attribute(endpoint="e", feature="f"),
                ):
                    with block:
                        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            assert [attribution_of(s) for s in llm_spans(telemetry)] == [
                ("summary-v2", "summaries"),
                (ROUTE, "chosen"),
                ("e", "f"),
            ]

    fresh_context(run)


def test_the_same_request_gives_the_same_attribution_object(fresh_context):
    """The attribution with the route is built once per (block, route), not per call."""

    def run():
        with capture(features=FEATURES) as telemetry:
            runtime = state().installed[0]
            tracer = telemetry.tracer_provider.get_tracer("web")
            with request(tracer):
                first = runtime.attribution()
                assert first is runtime.attribution()
                with attribute(team="core"):
                    inner = runtime.attribution()
                    assert inner is runtime.attribution()
            assert dict(first.values) == {"endpoint": ROUTE, "feature": "summaries"}
            assert dict(inner.values) == {"team": "core", "endpoint": ROUTE, "feature": "summaries"}

    fresh_context(run)


def test_budgets_see_the_routes_feature(client, fresh_context):
    budget = Budget(
        "summaries-cap", "0.000001", "day", match={"feature": "summaries"}, action="block"
    )

    def run():
        with capture(features=FEATURES, budgets=[budget]) as telemetry:
            tracer = telemetry.tracer_provider.get_tracer("web")
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # not matched
            with request(tracer), pytest.raises(BudgetExceededError):
                client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    fresh_context(run)


def test_a_request_the_sampler_dropped_has_no_route(client, fresh_context):
    """Span processors only see recorded spans (a documented limit)."""

    def run():
        telemetry = Telemetry()
        telemetry.tracer_provider = TracerProvider(sampler=ALWAYS_OFF)
        tokentrail.instrument(
            tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
        )
        try:
            with request(telemetry.tracer_provider.get_tracer("web")):
                client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            [point] = telemetry.points("tokentrail.requests")
            assert "tokentrail.endpoint" not in point.attributes
        finally:
            tokentrail.uninstrument()
            telemetry.shutdown()

    fresh_context(run)


class TestProcessor:
    def test_one_per_provider_however_often_instrumented(self, telemetry):
        for _ in range(3):
            tokentrail.instrument(tracer_provider=telemetry.tracer_provider)
            tokentrail.uninstrument()
        # the SDK keeps its processors in a private tuple; nothing public lists them
        processors = telemetry.tracer_provider._active_span_processor._span_processors
        assert sum(isinstance(p, SpanStarts) for p in processors) == 1

    def test_idle_once_uninstrumented(self, telemetry, fresh_context):
        def run():
            tokentrail.instrument(tracer_provider=telemetry.tracer_provider)
            tokentrail.uninstrument()
            with request(telemetry.tracer_provider.get_tracer("web")):
                assert routes.request_span.get() is None

        fresh_context(run)

    def test_a_global_provider_set_after_instrument_is_hooked(self, tmp_path):
        """``instrument()`` may come before the application sets its tracer provider: the
        global provider is looked at again (at most once a second) until it is set."""
        script = textwrap.dedent(
            """
            import json, time
            from opentelemetry import trace
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import SimpleSpanProcessor
            from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
                InMemorySpanExporter,
            )
            import tokentrail
            from tokentrail.fakes.openai import FakeOpenAI

            tokentrail.instrument(providers=["openai"])
            client = FakeOpenAI().client()
            messages = [{"role": "user", "content": "hi"}]
            client.chat.completions.create(model="gpt-4o", messages=messages)
            exporter = InMemorySpanExporter()
            provider = TracerProvider()
            provider.add_span_processor(SimpleSpanProcessor(exporter))
            trace.set_tracer_provider(provider)
            tracer = trace.get_tracer("web")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with tracer.start_as_current_span(
                    "GET", kind=trace.SpanKind.SERVER, attributes={"http.route": "/late"}
                ):
                    client.chat.completions.create(model="gpt-4o", messages=messages)
                ends = [
                    s.attributes.get("tokentrail.endpoint")
                    for s in exporter.get_finished_spans()
                    if s.instrumentation_scope.name == "tokentrail"
                ]
                if ends[-1] == "/late":
                    break
                time.sleep(0.05)
            print(json.dumps(ends[-1]))
            """
        )
        done = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": "", "TOKENTRAIL_STRICT": "1"},
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout.splitlines()[-1]) == "/late"
