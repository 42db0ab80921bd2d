"""A Django app (settings configured in this module, which is also its URLconf) served by
werkzeug and traced by opentelemetry-instrumentation-django, which sets ``http.route`` only
once the URL is resolved, after the request's span started: calls in a view, in a thread pool
with ``bind`` and inside the app's own child span carry the route (``users/<int:user_id>/summary``,
Django's form) and its feature; a call outside any request carries neither."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import django
import pytest
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import path
from opentelemetry.instrumentation.django import DjangoInstrumentor

import tokentrail
from tests.web.servers import (
    MESSAGES,
    assert_attributed,
    attribution_of,
    fetch,
    instrumented,
    llm_spans,
    serve_wsgi,
)
from tokentrail.attribution import bind
from tokentrail.fakes.openai import FakeOpenAI
from tokentrail.testing import Telemetry

FEATURES = {"users/*": "summaries", "search/*": "search", "work/*": "work"}
OUTSIDE_MODEL = "gpt-4o-mini"


class App:
    """What the views use; set by the fixture."""

    client: Any = None
    tracer: Any = None
    pool: Any = None


def chat() -> None:
    App.client.chat.completions.create(model="gpt-4o", messages=MESSAGES)


def summary(request: HttpRequest, user_id: int) -> JsonResponse:
    chat()
    return JsonResponse({"user": user_id})


def search(request: HttpRequest, query: str) -> JsonResponse:
    with App.tracer.start_as_current_span("rank"):
        chat()
    return JsonResponse({"query": query})


def pool(request: HttpRequest, n: int) -> JsonResponse:
    App.pool.submit(bind(chat)).result()
    return JsonResponse({"n": n})


def explicit(request: HttpRequest, n: int) -> JsonResponse:
    with tokentrail.attribute(endpoint="summarise-v2", feature="chosen"):
        chat()
    return JsonResponse({"n": n})


urlpatterns = [
    path("users/<int:user_id>/summary", summary),
    path("search/<str:query>", search),
    path("work/pool/<int:n>", pool),
    path("work/explicit/<int:n>", explicit),
]


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[Telemetry, str]]:
    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="tokentrail-tests",
            ALLOWED_HOSTS=["127.0.0.1"],
            ROOT_URLCONF=__name__,
            MIDDLEWARE=[],
            INSTALLED_APPS=[],
            DATABASES={},
            USE_TZ=True,
        )
        django.setup()
    with instrumented(FEATURES) as telemetry:
        App.client = FakeOpenAI().client()
        App.tracer = telemetry.tracer_provider.get_tracer("app")
        App.pool = ThreadPoolExecutor(2, thread_name_prefix="app-pool")
        instrumentor = DjangoInstrumentor()
        instrumentor.instrument(
            tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
        )
        from django.core.wsgi import get_wsgi_application  # loads the middleware, OTel's too

        try:
            with serve_wsgi(get_wsgi_application()) as url:
                yield telemetry, url
        finally:
            App.pool.shutdown()
            instrumentor.uninstrument()


def test_a_call_in_a_view_carries_the_route_set_after_the_span_started(site):
    telemetry, url = site
    fetch(f"{url}/users/42/summary")
    assert_attributed(telemetry, "users/<int:user_id>/summary", "summaries")


def test_inside_a_child_span_and_in_a_thread_pool(site):
    telemetry, url = site
    fetch(f"{url}/search/42")
    fetch(f"{url}/work/pool/42")
    assert_attributed(telemetry, "search/<str:query>", "search")
    assert_attributed(telemetry, "work/pool/<int:n>", "work")


def test_explicit_attribution_wins_and_nothing_is_set_outside_a_request(site):
    telemetry, url = site
    fetch(f"{url}/work/explicit/42")
    assert_attributed(telemetry, "summarise-v2", "chosen")
    FakeOpenAI().client().chat.completions.create(model=OUTSIDE_MODEL, messages=MESSAGES)
    [outside] = [
        s for s in llm_spans(telemetry) if s.attributes["gen_ai.request.model"] == OUTSIDE_MODEL
    ]
    assert attribution_of(outside) == (None, None)
