"""A FastAPI app served by uvicorn and traced by opentelemetry-instrumentation-fastapi: every
LLM call made while serving a request (in the handler, a sync handler in FastAPI's thread pool,
background tasks, an asyncio task that outlives the request, ``asyncio.to_thread``, a thread
pool with ``bind``, inside the app's own child spans) carries the request's route template as
``tokentrail.endpoint`` on its span and metrics, and the feature the route maps to; explicit
``attribute()`` values win; a call outside any request carries neither."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi import BackgroundTasks, FastAPI
from fastapi.responses import StreamingResponse
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

import tokentrail
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
    serve_asgi,
)
from tokentrail.attribution import bind
from tokentrail.fakes.openai import FakeOpenAI
from tokentrail.testing import Telemetry

FEATURES = {
    "/users/{user_id}/summary": "summaries",
    "/api/search/*": "search",
    "/work/*": "work",
}
#: the model of the calls made outside any request (the others use gpt-4o)
OUTSIDE_MODEL = "gpt-4o-mini"


class Site:
    """The app, its server's URL, the telemetry, and a switch for work waiting on the test."""

    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry
        self.url = ""
        #: set by a test to let a task that outlives its request make its call
        self.released = threading.Event()
        self.app = self._build()

    def _build(self) -> FastAPI:
        fake = FakeOpenAI()
        aclient, client = fake.async_client(), fake.client()
        tracer = self.telemetry.tracer_provider.get_tracer("app")
        pool = ThreadPoolExecutor(2, thread_name_prefix="app-pool")
        pending: set[asyncio.Task[Any]] = set()

        async def chat(model: str = "gpt-4o") -> None:
            await aclient.chat.completions.create(model=model, messages=MESSAGES)

        def chat_sync(model: str = "gpt-4o") -> None:
            client.chat.completions.create(model=model, messages=MESSAGES)

        @contextlib.asynccontextmanager
        async def lifespan(app: FastAPI) -> Any:
            await chat(OUTSIDE_MODEL)  # at start-up, outside any request
            yield
            pool.shutdown()

        app = FastAPI(lifespan=lifespan)

        @app.get("/users/{user_id}/summary")
        async def summary(user_id: int) -> dict[str, int]:
            await chat()
            return {"user": user_id}

        @app.get("/sync/{item_id}")
        def sync_handler(item_id: int) -> dict[str, int]:
            chat_sync()  # FastAPI runs a sync handler in its thread pool
            return {"item": item_id}

        @app.post("/work/background/{job_id}")
        async def background(job_id: int, tasks: BackgroundTasks) -> dict[str, int]:
            tasks.add_task(chat_sync)  # a sync task: run in the thread pool
            tasks.add_task(chat)  # an async task: on the loop, after the response
            return {"job": job_id}

        @app.get("/work/task/{n}")
        async def task(n: int) -> dict[str, int]:
            async def later() -> None:
                await asyncio.to_thread(self.released.wait, 10)  # the request is over by then
                await chat()

            pending.add(job := asyncio.create_task(later()))
            job.add_done_callback(pending.discard)
            return {"n": n}

        @app.get("/work/to-thread/{n}")
        async def to_thread(n: int) -> dict[str, int]:
            await asyncio.to_thread(chat_sync)
            return {"n": n}

        @app.get("/work/pool/{n}")
        async def bound_pool(n: int) -> dict[str, int]:
            await asyncio.wrap_future(pool.submit(bind(chat_sync)))
            return {"n": n}

        @app.get("/work/unbound-pool/{n}")
        async def unbound_pool(n: int) -> dict[str, int]:
            # a bare submit copies no context: neither attribute() values nor the route
            await asyncio.wrap_future(pool.submit(chat_sync, OUTSIDE_MODEL))
            return {"n": n}

        @app.get("/work/stream/{n}")
        async def stream(n: int) -> StreamingResponse:
            async def tokens() -> AsyncIterator[str]:
                # the LLM's answer streamed on to the client, as it arrives
                chunks = await aclient.chat.completions.create(
                    model="gpt-4o", messages=MESSAGES, stream=True
                )
                async for chunk in chunks:
                    if chunk.choices and chunk.choices[0].delta.content:
                        yield chunk.choices[0].delta.content

            return StreamingResponse(tokens(), media_type="text/plain")

        @app.get("/api/search/{query}")
        async def search(query: str) -> dict[str, str]:
            with tracer.start_as_current_span("rank"), tracer.start_as_current_span("rerank"):
                await chat()
            return {"query": query}

        @app.get("/work/explicit/{n}")
        async def explicit(n: int) -> dict[str, int]:
            with tokentrail.attribute(endpoint="summarise-v2"):
                await chat()
            with tokentrail.attribute(feature="chosen", team="core"):
                await chat()
            return {"n": n}

        return app


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with instrumented(FEATURES) as telemetry:
        site = Site(telemetry)
        FastAPIInstrumentor.instrument_app(
            site.app,
            tracer_provider=telemetry.tracer_provider,
            meter_provider=telemetry.meter_provider,
        )
        try:
            with serve_asgi(site.app) as url:
                site.url = url
                yield site
        finally:
            site.released.set()
            FastAPIInstrumentor.uninstrument_app(site.app)


def test_a_call_in_a_handler_carries_the_route_template_and_its_feature(site):
    fetch(f"{site.url}/users/42/summary")
    assert_attributed(site.telemetry, "/users/{user_id}/summary", "summaries")


def test_a_sync_handler_in_the_thread_pool_and_a_route_without_a_feature(site):
    fetch(f"{site.url}/sync/42")
    [span] = assert_attributed(site.telemetry, "/sync/{item_id}", None)
    assert "tokentrail.feature" not in span.attributes


def test_background_tasks_sync_and_async(site):
    fetch(f"{site.url}/work/background/42", method="POST")
    assert_attributed(site.telemetry, "/work/background/{job_id}", "work", count=2)


def test_an_asyncio_task_that_outlives_its_request(site):
    fetch(f"{site.url}/work/task/42")
    release_after_the_request(site.telemetry, "/work/task/{n}", site.released)
    assert_attributed(site.telemetry, "/work/task/{n}", "work")


def test_a_streamed_answer_relayed_by_a_streaming_response(site):
    assert fetch(f"{site.url}/work/stream/42")
    [span] = assert_attributed(site.telemetry, "/work/stream/{n}", "work")
    assert span.attributes["gen_ai.usage.output_tokens"] > 0


@pytest.mark.parametrize("path", ["to-thread", "pool"])
def test_threads_the_handler_hands_work_to(site, path):
    fetch(f"{site.url}/work/{path}/42")
    assert_attributed(site.telemetry, f"/work/{path}/{{n}}", "work")


def test_inside_the_apps_own_child_spans(site):
    fetch(f"{site.url}/api/search/42")
    [span] = assert_attributed(site.telemetry, "/api/search/{query}", "search")
    [rerank] = site.telemetry.spans("rerank")
    assert span.parent.span_id == rerank.context.span_id  # made inside the child span


def test_explicit_attribution_wins(site):
    fetch(f"{site.url}/work/explicit/42")
    assert_attributed(site.telemetry, "summarise-v2", "work")  # the route's feature still
    [chosen] = assert_attributed(site.telemetry, "/work/explicit/{n}", "chosen")
    assert chosen.attributes["tokentrail.team"] == "core"


def test_outside_any_request_nothing_is_set(site):
    fetch(f"{site.url}/work/unbound-pool/42")
    FakeOpenAI().client().chat.completions.create(model=OUTSIDE_MODEL, messages=MESSAGES)
    outside = [
        s
        for s in llm_spans(site.telemetry)
        if s.attributes["gen_ai.request.model"] == OUTSIDE_MODEL
    ]
    # at start-up (lifespan), in a pool thread without bind, and in the test itself
    assert len(outside) == 3
    assert {attribution_of(s) for s in outside} == {(None, None)}
    assert requests_metric(site.telemetry, model=OUTSIDE_MODEL) == 3
    # whatever ran before: only the app's route templates (and the explicit one) on metrics
    templates = {route.path for route in site.app.routes}
    assert metric_endpoints(site.telemetry) <= {None, "summarise-v2", *templates}
