"""A synthetic tokentrail /metrics endpoint: every series of DESIGN.md §3, made the way the
package makes them (OTel SDK instruments with the contract's names, units and attributes,
exposed by opentelemetry-exporter-prometheus), fed by a background thread that keeps
"calling" a few fake models so rates stay positive while a test scrapes it.

    with serve() as target:       # "127.0.0.1:<port>", serving /metrics
        ...

It stands in for `tokentrail demo` until the live dashboard test points at the real thing.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from prometheus_client import CollectorRegistry, start_http_server

# Semantic-convention bucket boundaries.
TOKEN_BUCKETS = [4**i for i in range(14)]  # 1 … 67108864
SECONDS_BUCKETS = [0.01 * 2**i for i in range(14)]  # 0.01 … 81.92


@dataclass(frozen=True)
class Call:
    """One kind of LLM call the fake application makes."""

    provider: str
    operation: str
    request_model: str
    response_model: str
    server: str
    input: int  # includes cache reads and writes
    output: int  # includes reasoning
    cache_read: int = 0
    cache_creation: int = 0
    reasoning: int = 0
    usd_per_mtok: tuple[float, float, float] | None = (1.0, 4.0, 0.1)  # input, output, cached
    stream: bool = False
    fail_every: int = 0  # every n-th call raises
    feature: str = ""
    team: str = ""
    endpoint: str = ""

    def attributes(self) -> dict[str, str]:
        attrs = {
            "gen_ai.provider.name": self.provider,
            "gen_ai.operation.name": self.operation,
            "gen_ai.request.model": self.request_model,
            "gen_ai.response.model": self.response_model,
            "server.address": self.server,
            "tokentrail.feature": self.feature,
            "tokentrail.team": self.team,
            "tokentrail.endpoint": self.endpoint,
        }
        return {k: v for k, v in attrs.items() if v}  # unattributed: no attribute at all

    def cost(self) -> float | None:
        if self.usd_per_mtok is None:
            return None
        inp, out, cached = self.usd_per_mtok
        uncached = self.input - self.cache_read - self.cache_creation
        return (
            uncached * inp + self.cache_creation * inp * 1.25 + self.cache_read * cached
        ) / 1e6 + self.output * out / 1e6


CALLS = [
    Call("openai", "chat", "gpt-4o", "gpt-4o-2024-08-06", "api.openai.com", 1800, 350,
         cache_read=1024, usd_per_mtok=(2.5, 10.0, 1.25), stream=True,
         feature="search", team="core", endpoint="/api/search"),
    Call("openai", "chat", "o3-mini", "o3-mini-2025-01-31", "api.openai.com", 900, 1200,
         reasoning=800, usd_per_mtok=(1.1, 4.4, 0.55), fail_every=7,
         feature="agent", team="growth", endpoint="/api/agent"),
    Call("anthropic", "chat", "claude-sonnet-4-5", "claude-sonnet-4-5-20250929",
         "api.anthropic.com", 12000, 500, cache_read=10000, cache_creation=800,
         usd_per_mtok=(3.0, 15.0, 0.3), stream=True, fail_every=5,
         feature="support", team="core", endpoint="/api/support"),
    Call("gcp.gemini", "generate_content", "gemini-2.5-flash", "gemini-2.5-flash",
         "generativelanguage.googleapis.com", 3000, 700, reasoning=300,
         usd_per_mtok=(0.3, 2.5, 0.075), feature="summarize", team="growth"),
    Call("openai", "embeddings", "text-embedding-3-small", "text-embedding-3-small",
         "api.openai.com", 600, 0, usd_per_mtok=(0.02, 0.0, 0.0)),
    Call("openai", "chat", "ft:gpt-4o-mini:acme", "ft:gpt-4o-mini:acme", "api.openai.com",
         700, 150, usd_per_mtok=None, feature="search", team="core", endpoint="/api/search"),
]  # fmt: skip

BUDGETS = {"team-core-daily": (500.0, 86400.0), "per-user-hourly": (20.0, 3600.0)}


class FakeApp:
    """Records what tokentrail would record for a stream of calls."""

    def __init__(self, meter_provider: MeterProvider) -> None:
        m = meter_provider.get_meter("tokentrail", "0.0.0")
        self.token_usage = m.create_histogram(
            "gen_ai.client.token.usage", unit="{token}",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
        )  # fmt: skip
        self.duration = m.create_histogram(
            "gen_ai.client.operation.duration", unit="s",
            explicit_bucket_boundaries_advisory=SECONDS_BUCKETS,
        )  # fmt: skip
        self.ttfc = m.create_histogram(
            "gen_ai.client.operation.time_to_first_chunk", unit="s",
            explicit_bucket_boundaries_advisory=SECONDS_BUCKETS,
        )  # fmt: skip
        self.tokens = m.create_counter("tokentrail.tokens", unit="{token}")
        self.cost = m.create_counter("tokentrail.cost.usd", unit="{USD}")
        self.requests = m.create_counter("tokentrail.requests", unit="{request}")
        self.alerts = m.create_counter("tokentrail.alerts", unit="{alert}")
        self.internal_errors = m.create_counter("tokentrail.internal.errors", unit="{error}")
        self.started = time.monotonic()
        self.spent = dict.fromkeys(BUDGETS, 0.0)
        self.lock = threading.Lock()
        for name, unit, read in [
            ("tokentrail.budget.spent.usd", "{USD}", lambda b: self.spent[b]),
            ("tokentrail.budget.limit.usd", "{USD}", lambda b: BUDGETS[b][0]),
            ("tokentrail.budget.window.remaining", "s", self.remaining),
        ]:
            m.create_observable_gauge(name, [self.observer(read)], unit=unit)
        self.alerts.add(1, {"tokentrail.alert.kind": "budget_warning",
                            "tokentrail.alert.severity": "warning"})  # fmt: skip
        self.alerts.add(1, {"tokentrail.alert.kind": "budget_exceeded",
                            "tokentrail.alert.severity": "critical"})  # fmt: skip

    def observer(self, read):
        def observe(_: CallbackOptions) -> list[Observation]:
            with self.lock:
                return [Observation(read(b), {"tokentrail.budget.name": b}) for b in BUDGETS]

        return observe

    def remaining(self, budget: str) -> float:
        window = BUDGETS[budget][1]
        return window - (time.monotonic() - self.started + window / 3) % window

    def call(self, n: int, c: Call) -> None:
        attrs = c.attributes()
        failed = c.fail_every and n % c.fail_every == 0
        if failed:
            error = {**attrs, "error.type": "RateLimitError"}
            self.duration.record(0.2, error)
            self.requests.add(1, {**error, "tokentrail.cost.status": "priced"})  # not billed
            return
        self.duration.record(0.4 + (n % 10) * 0.3, attrs)
        if c.stream:
            self.ttfc.record(0.15 + (n % 5) * 0.1, attrs)
        self.token_usage.record(c.input, {**attrs, "gen_ai.token.type": "input"})
        if c.output:
            self.token_usage.record(c.output, {**attrs, "gen_ai.token.type": "output"})
        for kind, count in [
            ("input", c.input),
            ("output", c.output),
            ("cache_read", c.cache_read),
            ("cache_creation", c.cache_creation),
            ("reasoning", c.reasoning),
        ]:
            if count:
                self.tokens.add(count, {**attrs, "gen_ai.token.type": kind})
        cost = c.cost()
        status = "unpriced" if cost is None else "priced"
        self.requests.add(1, {**attrs, "tokentrail.cost.status": status})
        if cost is not None:
            self.cost.add(cost, attrs)
            with self.lock:
                for budget in self.spent:
                    self.spent[budget] += cost
        if n % 20 == 1:
            self.internal_errors.add(1, {"tokentrail.error.site": "pricing"})
            self.alerts.add(1, {"tokentrail.alert.kind": "request_cost",
                                "tokentrail.alert.severity": "warning"})  # fmt: skip


@contextlib.contextmanager
def serve(interval: float = 0.2) -> Iterator[str]:
    """Serve the synthetic exposition on a free loopback port; yields "127.0.0.1:<port>"."""
    registry = CollectorRegistry()
    provider = MeterProvider(
        resource=Resource.create({"service.name": "tokentrail-synthetic"}),
        metric_readers=[PrometheusMetricReader(registry=registry)],
    )
    app = FakeApp(provider)
    stop = threading.Event()

    def run() -> None:
        for n in itertools.count(1):
            for c in CALLS:
                app.call(n, c)
            if stop.wait(interval):
                return

    worker = threading.Thread(target=run, name="synthetic-llm-calls", daemon=True)
    worker.start()
    server, server_thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        server_thread.join(5)
        worker.join(5)
        provider.shutdown()
