"""A Redis budget store that goes away and comes back under load (docs/reliability.md,
"When Redis goes away").

Eight threads call a fake provider with a blocking and an alert-only Redis budget while the
server is stopped and started again three times:

* ``fail_open=True``: no exception reaches the application; spending recorded while Redis is
  down waits in the recorder's queue (retried every ``retry_after``) and is written once it is
  back, each batch once (a batch whose reply was lost with the connection is not counted
  again). With a server that keeps its data (append-only file), Redis then holds the spans'
  costs to the nano-dollar; a reservation whose reply was lost stays held until its window's
  counter expires (at most one per call in flight at each outage). Without persistence a
  restart loses what the server held: Redis holds at least the spending of the calls that
  ended after it was last gone, and never more than all of it.
* ``fail_open=False``: while it is down, blocking calls are refused with
  ``BudgetStoreUnavailableError`` before anything is sent; once it is back they go through.

And the billing rule with Redis: a call that may have been billed keeps its estimate.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

import tokentrail
from tests.processes import wait_until
from tokentrail import Budget, BudgetStoreUnavailableError, RedisBudgetStore
from tokentrail.budgets.models import parse_window
from tokentrail.budgets.money import to_usd
from tokentrail.fakes.openai import FakeOpenAI
from tokentrail.testing import capture

from .redis_server import RedisServer
from .test_redis_budgets import reservation

pytestmark = pytest.mark.e2e

THREADS = 8
OUTAGES = 3
MESSAGES = [{"role": "user", "content": "What changed this quarter?"}]


class Costs(SpanProcessor):
    """Each span's cost and end time, exactly."""

    def __init__(self) -> None:
        self.ended: list[tuple[float, Decimal]] = []
        self._lock = threading.Lock()

    def on_end(self, span: ReadableSpan) -> None:
        cost = span.attributes.get("gen_ai.usage.cost")
        if cost is not None:
            with self._lock:
                self.ended.append((time.monotonic(), Decimal(repr(cost))))

    def total(self, since: float = 0.0) -> Decimal:
        with self._lock:
            return sum((cost for at, cost in self.ended if at >= since), Decimal(0))


class Load:
    """``THREADS`` threads calling until stopped; what they raised, per kind."""

    def __init__(self, call: Callable[[], object]) -> None:
        self.call = call
        self.calls = 0
        self.raised: list[BaseException] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run) for _ in range(THREADS)]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.call()
            except Exception as exc:
                with self._lock:
                    self.raised.append(exc)
            with self._lock:
                self.calls += 1

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def more(self, n: int) -> None:
        """Wait until ``n`` more calls were made."""
        target = self.calls + n
        wait_until(lambda: self.calls >= target, timeout=60, what=f"{n} more calls")


def in_redis(url: str, budget: str) -> tuple[Decimal, Decimal]:
    """(settled, held) of ``budget`` today, in USD."""
    store = RedisBudgetStore(url)
    ((settled, held),) = store.read([(f"{budget}:-", parse_window("day", "w").span(time.time()))])
    store.close()
    return to_usd(settled), to_usd(held)


def flap(server: RedisServer, load: Load) -> float:
    """Stop and start the server ``OUTAGES`` times under load; when it was last gone."""
    gone = 0.0
    for _ in range(OUTAGES):
        load.more(40)
        server.stop()
        gone = time.monotonic()
        load.more(40)  # calls made (and spending queued) while it is down
        server.start()
    load.more(40)
    return gone


def budgets() -> list[Budget]:
    return [Budget("watch", 1000, "day"), Budget("cap", 1000, "day", action="block")]


def store(server: RedisServer, *, fail_open: bool) -> RedisBudgetStore:
    return RedisBudgetStore(server.url, fail_open=fail_open, timeout=1.0, retry_after=0.2)


@pytest.mark.parametrize("persistent", [True, False], ids=["persistent", "volatile"])
def test_fail_open_under_flapping_redis_loses_nothing_it_can_keep(
    redis_binary, tmp_path: Path, persistent: bool
):
    server = RedisServer(persist_in=tmp_path if persistent else None).start()
    costs = Costs()
    fake = FakeOpenAI()
    try:
        with capture(budgets=budgets(), budget_store=store(server, fail_open=True)) as telemetry:
            telemetry.tracer_provider.add_span_processor(costs)
            client = fake.client()

            def chat() -> object:
                return client.chat.completions.create(
                    model="gpt-4o-mini", messages=MESSAGES, max_tokens=50
                )

            with Load(chat) as load:
                gone = flap(server, load)
            assert load.raised == [], load.raised[:3]
            assert tokentrail.flush(timeout=20), "the recorder did not catch up"
            for budget in ("watch", "cap"):
                settled, held = in_redis(server.url, budget)
                if persistent:
                    assert settled <= costs.total() < settled + Decimal("1e-9"), budget
                    # a reservation whose reply died with the server (the call went through,
                    # fail open) stays held until the window's counter expires: at most one
                    # per call in flight at each outage
                    assert held <= THREADS * OUTAGES * reservation(50), budget
                else:  # the restart lost what the server held before it
                    assert costs.total(since=gone) <= settled <= costs.total(), budget
            assert len(fake.requests) == load.calls
    finally:
        server.stop()


def test_fail_closed_refuses_blocking_calls_while_redis_is_down(redis_binary):
    server = RedisServer().start()
    fake = FakeOpenAI()
    try:
        with capture(budgets=budgets(), budget_store=store(server, fail_open=False)):
            client = fake.client()

            def chat() -> object:
                return client.chat.completions.create(
                    model="gpt-4o-mini", messages=MESSAGES, max_tokens=50
                )

            with Load(chat) as load:
                for _ in range(OUTAGES):
                    load.more(40)
                    server.stop()
                    refused = len(load.raised)
                    wait_until(lambda r=refused: len(load.raised) >= r + 40, timeout=60,
                               what="calls refused while Redis is down")  # fmt: skip
                    server.start()
                    sent = len(fake.requests)
                    wait_until(lambda s=sent: len(fake.requests) >= s + 40, timeout=60,
                               what="calls sent again once Redis is back")  # fmt: skip
            assert load.raised
            assert all(isinstance(e, BudgetStoreUnavailableError) for e in load.raised)
            # a refused call was never sent
            assert len(fake.requests) == load.calls - len(load.raised)
    finally:
        server.stop()


@pytest.mark.parametrize("kind", ["read_timeout", "cut"])
def test_a_call_that_may_have_been_billed_keeps_its_estimate_in_redis(redis_server, kind):
    fake = FakeOpenAI(stream_chunks=6)
    redis_store = RedisBudgetStore(redis_server.url)
    with capture(budgets=budgets(), budget_store=redis_store) as telemetry:
        client = fake.client()
        if kind == "read_timeout":
            fake.raise_next(fake.http().ReadTimeout("timed out"))
            with pytest.raises(Exception):  # noqa: B017, PT011 - the SDK's own
                client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        else:
            fake.break_next_stream(after=4)
            stream = client.chat.completions.create(
                model="gpt-4o-mini", messages=MESSAGES, stream=True
            )
            with pytest.raises(Exception):  # noqa: B017, PT011 - the SDK's own
                list(stream)
        assert tokentrail.flush(timeout=10)
        attributes = telemetry.span().attributes
        assert attributes["tokentrail.cost.status"] == "estimated"
        cost = Decimal(repr(attributes["gen_ai.usage.cost"]))
    settled, held = in_redis(redis_server.url, "cap")
    assert cost > 0
    assert settled <= cost < settled + Decimal("1e-9")
    assert held == 0
