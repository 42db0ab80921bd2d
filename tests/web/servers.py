"""Real web servers for the route-attribution tests: an ASGI app under uvicorn, a WSGI app
under werkzeug, each in a thread of this process on a loopback port the OS chose (so that
tokentrail and the web instrumentation report to the test's in-memory providers), stopped when
the block ends; and readers for what tokentrail reported."""

from __future__ import annotations

import contextlib
import socket
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

import tokentrail
from tests.processes import wait_until
from tokentrail import names
from tokentrail.testing import Telemetry

#: the OpenAI chat call every handler makes (through the fake provider)
MESSAGES = [{"role": "user", "content": "Summarise this."}]


@contextlib.contextmanager
def instrumented(features: Any) -> Iterator[Telemetry]:
    """tokentrail instrumented with in-memory providers and the route → feature mapping."""
    telemetry = Telemetry()
    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        features=features,
    )
    try:
        yield telemetry
    finally:
        tokentrail.uninstrument()
        telemetry.shutdown()


@contextlib.contextmanager
def serve_asgi(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn (lifespan on); yields the base URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, timeout=30, what="uvicorn to start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextlib.contextmanager
def serve_wsgi(app: Any) -> Iterator[str]:
    """Serve ``app`` with werkzeug's threaded server (a thread per request); yields the
    base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def fetch(url: str, method: str = "GET") -> str:
    request = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200, response.status
        return response.read().decode()


def llm_spans(telemetry: Telemetry) -> list[ReadableSpan]:
    """The spans tokentrail reported (one per LLM call)."""
    return [s for s in telemetry.spans() if s.instrumentation_scope.name == names.SCOPE_NAME]


def attribution_of(span: ReadableSpan) -> tuple[Any, Any]:
    """(endpoint, feature) of one of tokentrail's spans."""
    attributes = span.attributes or {}
    return attributes.get(names.TOKENTRAIL_ENDPOINT), attributes.get(names.TOKENTRAIL_FEATURE)


def calls_for(telemetry: Telemetry, endpoint: str, count: int = 1) -> list[ReadableSpan]:
    """Wait until ``count`` LLM calls attributed to ``endpoint`` are reported (work started by
    a handler may end after its response), and return them."""
    return wait_until(
        lambda: (
            found
            if len(found := [s for s in llm_spans(telemetry) if attribution_of(s)[0] == endpoint])
            >= count
            else None
        ),
        timeout=15,
        what=f"{count} call(s) attributed to {endpoint}",
    )


def assert_attributed(
    telemetry: Telemetry, endpoint: str, feature: str | None, count: int = 1
) -> list[ReadableSpan]:
    """Wait for ``count`` calls attributed to ``endpoint``; check that their spans and their
    metrics carry ``endpoint`` and ``feature``, and that no endpoint on metrics has the id the
    tests put in every path (42): the route template, never the raw path."""
    spans = calls_for(telemetry, endpoint, count)
    assert {attribution_of(span) for span in spans} == {(endpoint, feature)}
    metric = {"endpoint": endpoint} | ({"feature": feature} if feature else {})
    # a call's metrics are recorded just after its span ends
    wait_until(
        lambda: requests_metric(telemetry, **metric) >= count,
        timeout=10,
        what=f"the metrics of {endpoint}",
    )
    assert requests_metric(telemetry, **metric) == count
    assert not any("42" in str(e) for e in metric_endpoints(telemetry))
    return spans


def server_span(telemetry: Telemetry, route: str) -> ReadableSpan | None:
    """The finished span the web instrumentation opened for a request to ``route``."""
    for span in telemetry.spans():
        if (
            span.instrumentation_scope.name != names.SCOPE_NAME
            and (span.attributes or {}).get("http.route") == route
        ):
            return span
    return None


def release_after_the_request(telemetry: Telemetry, route: str, released: Any) -> None:
    """Wait until the request to ``route`` has ended (its span is exported), then set
    ``released`` for the work it left behind to make its call."""
    wait_until(
        lambda: server_span(telemetry, route), timeout=10, what=f"the request to {route} to end"
    )
    released.set()


def requests_metric(telemetry: Telemetry, **attributes: str) -> float:
    """``tokentrail.requests`` for the calls whose metric attributes include ``attributes``
    (keys: ``endpoint``, ``feature``, ``model``)."""
    keys = {
        "endpoint": names.TOKENTRAIL_ENDPOINT,
        "feature": names.TOKENTRAIL_FEATURE,
        "model": names.GEN_AI_REQUEST_MODEL,
    }
    return telemetry.value(names.METRIC_REQUESTS, {keys[k]: v for k, v in attributes.items()})


def metric_endpoints(telemetry: Telemetry) -> set[Any]:
    """Every ``tokentrail.endpoint`` value on tokentrail's request counter."""
    return {
        point.attributes.get(names.TOKENTRAIL_ENDPOINT)
        for point in telemetry.points(names.METRIC_REQUESTS)
    }
