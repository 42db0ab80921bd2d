"""Real servers for end-to-end tests, started once per session (see harness.py).

Everything binds 127.0.0.1 on free ports and is stopped when the session (or, for
``collector_factory``, the test) ends, whether it passed or not. Missing binaries skip the
tests locally and fail them under CI (env ``CI`` set).

=====================  ===========================================================================
fixture                value
=====================  ===========================================================================
``jaeger``             :class:`Jaeger` -- OTLP gRPC in (``otlp_grpc``), ``traces(service)``,
                       ``wait_for_span(service, name)``
``webhook``            :class:`WebhookReceiver` -- ``url``, ``notifications``, ``wait_for_alert()``
``alertmanager``       :class:`Alertmanager` -- routes every alert to ``webhook`` at once
``prometheus``         :class:`Prometheus` -- scrapes ``collector`` every 1 s, evaluates
                       ``E2E_RULES`` every 1 s (alert ``TokentrailE2ECostSeen`` for each job
                       that has a cost), accepts remote write at ``url + "/api/v1/write"``;
                       ``query()``, ``value()``, ``wait_for_value()``; rule files go in
                       ``rules_dir`` (then POST ``/-/reload``)
``collector``          :class:`Collector` -- collector/otelcol.yaml as shipped (content dropped,
                       user.id kept), traces to ``jaeger``, metrics scraped by ``prometheus``;
                       ``.endpoints`` is a :class:`CollectorEndpoints` (``otlp_http_url`` for
                       ``OTEL_EXPORTER_OTLP_ENDPOINT``, ``otlp_grpc``, ``prometheus_exporter``)
``collector_factory``  ``start(*overlays, env=None) -> Collector``: more collectors for one test,
                       e.g. another privacy setting or an example overlay; traces to ``jaeger``
=====================  ===========================================================================
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .harness import (
    E2E_RULES,
    OTELCOL_CONFIG,
    Alertmanager,
    Collector,
    CollectorEndpoints,
    Jaeger,
    JaegerEndpoints,
    Prometheus,
    WebhookReceiver,
    alertmanager_config,
    alertmanager_ready,
    collector_ready,
    free_port,
    jaeger_binary,
    jaeger_ready,
    otelcol_binary,
    prometheus_config,
    prometheus_ready,
    require_binary,
    running,
    start_alertmanager,
    start_collector,
    start_jaeger,
    start_prometheus,
    write_yaml,
)
from .redis_server import RedisServer


@pytest.fixture(scope="session")
def e2e_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def jaeger(e2e_dir: Path) -> Iterator[Jaeger]:
    endpoints = JaegerEndpoints.allocate()
    process = start_jaeger(jaeger_binary(), endpoints, e2e_dir)
    with running(process, lambda: jaeger_ready(endpoints)):
        yield Jaeger(otlp_grpc=endpoints.otlp_grpc, query_http=endpoints.query_http)


@pytest.fixture(scope="session")
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="session")
def alertmanager(e2e_dir: Path, webhook: WebhookReceiver) -> Iterator[Alertmanager]:
    binary = require_binary("prometheus-alertmanager", "apt-get install prometheus-alertmanager")
    am = Alertmanager(f"127.0.0.1:{free_port()}")
    process = start_alertmanager(binary, am.address, alertmanager_config(webhook.url), e2e_dir)
    with running(process, lambda: alertmanager_ready(am.address)):
        yield am


@pytest.fixture(scope="session")
def collector_endpoints() -> CollectorEndpoints:
    """The default collector's addresses, chosen early: Prometheus must know what to scrape."""
    return CollectorEndpoints.allocate()


@pytest.fixture(scope="session")
def prometheus(
    e2e_dir: Path, alertmanager: Alertmanager, collector_endpoints: CollectorEndpoints
) -> Iterator[Prometheus]:
    binary = require_binary("prometheus", "apt-get install prometheus")
    rules_dir = e2e_dir / "rules"
    rules_dir.mkdir()
    write_yaml(rules_dir / "e2e.yml", E2E_RULES)
    prom = Prometheus(f"127.0.0.1:{free_port()}", rules_dir)
    config = prometheus_config(
        scrape_target=collector_endpoints.prometheus_exporter,
        alertmanager=alertmanager.address,
        rule_files=[str(rules_dir / "*.yml")],
        interval="1s",
    )
    process = start_prometheus(binary, prom.address, config, e2e_dir)
    with running(process, lambda: prometheus_ready(prom.address)):
        yield prom


@pytest.fixture(scope="session")
def collector(
    e2e_dir: Path, prometheus: Prometheus, collector_endpoints: CollectorEndpoints, jaeger: Jaeger
) -> Iterator[Collector]:
    # `prometheus` comes first on purpose: it scrapes its targets only ~5 s after it starts,
    # and starting it before everything else hides most of that wait.
    process = start_collector(
        otelcol_binary(),
        collector_endpoints,
        [OTELCOL_CONFIG],
        e2e_dir / "collector.log",
        env={"JAEGER_OTLP_ENDPOINT": jaeger.otlp_grpc},
    )
    with running(process, lambda: collector_ready(collector_endpoints)):
        yield Collector(collector_endpoints, process)


@pytest.fixture
def collector_factory(tmp_path: Path, jaeger: Jaeger) -> Iterator[Callable[..., Collector]]:
    binary = otelcol_binary()
    numbers = itertools.count(1)
    with contextlib.ExitStack() as stack:

        def start(*overlays: Path, env: dict[str, str] | None = None) -> Collector:
            endpoints = CollectorEndpoints.allocate()
            process = start_collector(
                binary,
                endpoints,
                [OTELCOL_CONFIG, *overlays],
                tmp_path / f"collector-{next(numbers)}.log",
                env={"JAEGER_OTLP_ENDPOINT": jaeger.otlp_grpc, **(env or {})},
            )
            stack.enter_context(running(process, lambda: collector_ready(endpoints)))
            return Collector(endpoints, process)

        yield start


# -- redis-server for the budget tests -------------------------------------------------------


@pytest.fixture(scope="session")
def redis_binary() -> str:
    path = shutil.which("redis-server")
    if path is None:
        pytest.skip("redis-server is not installed (Debian package redis-server)")
    return path


@pytest.fixture(scope="module")
def shared_redis(redis_binary) -> Iterator[RedisServer]:
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_server(shared_redis) -> RedisServer:
    """The module's server, emptied for this test."""
    shared_redis.client().flushall()
    return shared_redis


@pytest.fixture
def own_redis(redis_binary) -> Iterator[RedisServer]:
    """A server of this test's own, which the test may stop and start."""
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()
