"""A Flask app served by werkzeug and traced by opentelemetry-instrumentation-flask, on its own
and under the generic WSGI middleware (whose span is then the server span, without a route,
and Flask's an internal one with it): calls made in a handler, in a thread pool with ``bind``,
in a thread that outlives the request and inside the app's own child spans carry the route
template (``/users/<int:user_id>/summary``) and its feature; explicit values win; a call
outside any request carries neither."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask, Response
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware
from opentelemetry.trace import SpanKind

import tokentrail
from tests.processes import wait_until
from tests.web.servers import (
    MESSAGES,
    assert_attributed,
    attribution_of,
    fetch,
    instrumented,
    llm_spans,
    metric_endpoints,
    release_after_the_request,
    requests_metric,
    serve_wsgi,
    server_span,
)
from tokentrail.attribution import bind
from tokentrail.fakes.openai import FakeOpenAI
from tokentrail.testing import Telemetry

FEATURES = [
    {"route": "/users/*", "feature": "summaries"},
    {"route": "/search/<query>", "feature": "search"},
    {"route": "/work/*", "feature": "work"},
]
OUTSIDE_MODEL = "gpt-4o-mini"


class Site:
    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry
        self.url = ""
        #: served under the generic WSGI middleware
        self.nested = False
        self.released = threading.Event()
        self.pool = ThreadPoolExecutor(2, thread_name_prefix="app-pool")
        self.app = self._build()

    def _build(self) -> Flask:
        client = FakeOpenAI().client()
        tracer = self.telemetry.tracer_provider.get_tracer("app")
        app = Flask(__name__)

        def chat() -> None:
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

        @app.get("/users/<int:user_id>/summary")
        def summary(user_id: int) -> dict[str, int]:
            chat()
            return {"user": user_id}

        @app.get("/users/<int:user_id>/profile")
        def profile(user_id: int) -> dict[str, int]:
            return {"user": user_id}

        @app.get("/search/<query>")
        def search(query: str) -> dict[str, str]:
            with tracer.start_as_current_span("rank"), tracer.start_as_current_span("rerank"):
                chat()
            return {"query": query}

        @app.get("/work/pool/<int:n>")
        def pool(n: int) -> dict[str, int]:
            self.pool.submit(bind(chat)).result()
            return {"n": n}

        @app.get("/work/thread/<int:n>")
        def thread(n: int) -> dict[str, int]:
            def later() -> None:
                self.released.wait(10)  # the request is over by then
                chat()

            threading.Thread(target=bind(later), daemon=True).start()
            return {"n": n}

        @app.get("/work/stream/<int:n>")
        def stream(n: int) -> Any:
            # Flask's instrumentation ends the request's span when the view returns, before
            # the body is streamed: the call starts here, in the view, and captures its
            # attribution then; the chunks are read while the response streams
            chunks = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)

            def tokens() -> Iterator[str]:
                for chunk in chunks:
                    if chunk.choices and chunk.choices[0].delta.content:
                        yield chunk.choices[0].delta.content

            return Response(tokens(), mimetype="text/plain")

        @app.get("/work/explicit/<int:n>")
        def explicit(n: int) -> dict[str, int]:
            with tokentrail.attribute(endpoint="summarise-v2"):
                chat()
            with tokentrail.attribute(feature="chosen"):
                chat()
            return {"n": n}

        return app


@pytest.fixture(scope="module", params=["flask", "under-wsgi-middleware"])
def site(request: Any) -> Iterator[Site]:
    with instrumented(FEATURES) as telemetry:
        site = Site(telemetry)
        providers = {
            "tracer_provider": telemetry.tracer_provider,
            "meter_provider": telemetry.meter_provider,
        }
        FlaskInstrumentor.instrument_app(site.app, **providers)
        site.nested = request.param == "under-wsgi-middleware"
        served = OpenTelemetryMiddleware(site.app, **providers) if site.nested else site.app
        try:
            with serve_wsgi(served) as url:
                site.url = url
                yield site
        finally:
            site.released.set()
            site.pool.shutdown()
            FlaskInstrumentor.uninstrument_app(site.app)


def test_a_call_in_a_handler_carries_the_route_template_and_its_feature(site):
    fetch(f"{site.url}/users/42/summary")
    assert_attributed(site.telemetry, "/users/<int:user_id>/summary", "summaries")


def test_under_the_middleware_the_route_is_on_an_internal_span(site):
    """What the two set-ups really exercise: the route on the server span, or on Flask's
    internal span below the middleware's server span (which has none)."""
    fetch(f"{site.url}/users/42/profile")
    flask_span = wait_until(
        lambda: server_span(site.telemetry, "/users/<int:user_id>/profile"),
        timeout=10,
        what="the request's span",
    )
    if site.nested:
        assert flask_span.kind is SpanKind.INTERNAL
        outer = wait_until(  # it ends just after Flask's
            lambda: next(
                (s for s in site.telemetry.spans() if s.context == flask_span.parent), None
            ),
            timeout=10,
            what="the middleware's span",
        )
        assert outer.kind is SpanKind.SERVER
        assert "http.route" not in outer.attributes
    else:
        assert flask_span.kind is SpanKind.SERVER


def test_inside_the_apps_own_child_spans(site):
    fetch(f"{site.url}/search/42")
    [span] = assert_attributed(site.telemetry, "/search/<query>", "search")
    [rerank] = site.telemetry.spans("rerank")
    assert span.parent.span_id == rerank.context.span_id


def test_a_thread_pool_with_bind(site):
    fetch(f"{site.url}/work/pool/42")
    assert_attributed(site.telemetry, "/work/pool/<int:n>", "work")


def test_a_thread_that_outlives_its_request(site):
    fetch(f"{site.url}/work/thread/42")
    release_after_the_request(site.telemetry, "/work/thread/<int:n>", site.released)
    assert_attributed(site.telemetry, "/work/thread/<int:n>", "work")


def test_a_stream_started_in_the_view_and_relayed_in_the_response(site):
    assert fetch(f"{site.url}/work/stream/42")
    [span] = assert_attributed(site.telemetry, "/work/stream/<int:n>", "work")
    assert span.attributes["gen_ai.usage.output_tokens"] > 0


def test_explicit_attribution_wins(site):
    fetch(f"{site.url}/work/explicit/42")
    assert_attributed(site.telemetry, "summarise-v2", "work")
    assert_attributed(site.telemetry, "/work/explicit/<int:n>", "chosen")


def test_outside_any_request_nothing_is_set(site):
    FakeOpenAI().client().chat.completions.create(model=OUTSIDE_MODEL, messages=MESSAGES)
    [outside] = [
        s
        for s in llm_spans(site.telemetry)
        if s.attributes["gen_ai.request.model"] == OUTSIDE_MODEL
    ]
    assert attribution_of(outside) == (None, None)
    assert requests_metric(site.telemetry, model=OUTSIDE_MODEL) == 1
    templates = {rule.rule for rule in site.app.url_map.iter_rules()}
    assert metric_endpoints(site.telemetry) <= {None, "summarise-v2", *templates}
