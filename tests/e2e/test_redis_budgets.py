"""Budgets shared through a real Redis: atomic across threads, tasks and processes, one round
trip before a blocking call and one after, alerts once per window across processes, and the
``fail_open`` policy when Redis dies mid-run."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

import tokentrail
from tests.budget_hammer import call_until_refused
from tokentrail import (
    Budget,
    BudgetStoreUnavailableError,
    RedisBudgetStore,
    attribute,
)
from tokentrail.budgets.models import parse_window
from tokentrail.budgets.money import to_nanos_ceil, to_usd
from tokentrail.budgets.stores import EXCEEDED, Charge
from tokentrail.budgets.tracker import DEFAULT_MAX_OUTPUT_TOKENS
from tokentrail.fakes.openai import FakeOpenAI
from tokentrail.testing import capture
from tokentrail.usage import Usage, estimate_tokens

pytestmark = pytest.mark.e2e

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "What changed this quarter?"}]


def reservation(max_tokens: int | None) -> Decimal:
    usage = Usage(
        input_tokens=estimate_tokens(MESSAGES),
        output_tokens=max_tokens or DEFAULT_MAX_OUTPUT_TOKENS,
    )
    return to_usd(to_nanos_ceil(tokentrail.calc_cost(usage, MODEL, "openai").amount_usd))


def chat(client, **kwargs):
    return client.chat.completions.create(model=MODEL, messages=MESSAGES, **kwargs)


class TestStore:
    def test_reserve_is_all_or_nothing_and_record_claims_once(self, redis_server):
        store = RedisBudgetStore(redis_server.url)
        day = parse_window("day", "w").span(time.time())
        store.record([Charge("small:-", day, settled=900)])
        refusal = store.reserve(
            [
                Charge("big:-", day, held=200, limit=10_000),
                Charge("small:-", day, held=200, limit=1000),
            ]
        )
        assert refusal is not None
        assert (refusal.index, refusal.settled, refusal.held, refusal.claimed) == (1, 900, 0, True)
        assert store.read([("big:-", day), ("small:-", day)]) == [(0, 0), (900, 0)]
        assert not store.reserve([Charge("small:-", day, held=200, limit=1000)]).claimed
        assert store.reserve([Charge("big:-", day, held=200, limit=10_000)]) is None
        thresholds = ((500, "0.5"), (1000, EXCEEDED))
        first, second = (
            store.record([Charge("big:-", day, settled=300, held=-200, thresholds=thresholds)])[0],
            store.record([Charge("big:-", day, settled=300, thresholds=thresholds)])[0],
        )
        assert (first.settled, first.held, first.claimed) == (300, 0, ())
        assert (second.settled, second.claimed) == (600, ("0.5",))
        # every key expires with its window
        client = redis_server.client()
        for key in client.keys("*"):
            assert client.ttl(key) > 0, key

    def test_a_rolling_window_sums_its_buckets(self, redis_server):
        store = RedisBudgetStore(redis_server.url)
        window = parse_window("1h", "w")
        now = time.time()
        store.record([Charge("r:-", window.span(now - 1800), settled=100)])
        store.record([Charge("r:-", window.span(now - 4000), settled=1000)])  # out of the window
        (result,) = store.record([Charge("r:-", window.span(now), settled=10)])
        assert result.settled == 110

    def test_user_ids_are_not_stored_in_clear(self, redis_server):
        with capture(
            budgets=[Budget("per-user", 1, "day", per="user_id")],
            budget_store=RedisBudgetStore(redis_server.url),
        ):
            with attribute(user_id="alice@example.com"):
                chat(FakeOpenAI().client())
            assert tokentrail.flush(timeout=5)
        keys = [k.decode() for k in redis_server.client().keys("*")]
        assert keys
        assert not any("alice" in key for key in keys)


def test_instrument_never_connects(redis_binary):
    """Creating the store and instrumenting open no connection; the first call does."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    try:
        store = RedisBudgetStore(f"redis://127.0.0.1:{port}/0")
        budgets = [Budget("b", 1, "day", action="block")]
        with capture(budgets=budgets, budget_store=store), pytest.raises(TimeoutError):
            listener.accept()
    finally:
        listener.close()


def test_the_environment_selects_redis(redis_server, monkeypatch):
    monkeypatch.setenv("TOKENTRAIL_REDIS_URL", redis_server.url)
    with capture(budgets=[Budget("env-redis", 1, "day", action="block")]):
        chat(FakeOpenAI().client(), max_tokens=50)
        assert tokentrail.flush(timeout=5)
    assert redis_server.client().keys("{tokentrail}:n:env-redis:*")


class Monitor:
    """Redis ``MONITOR`` on a raw socket: the commands clients send, in order."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.sendall(b"MONITOR\r\n")
        self.lines = self.sock.makefile("rb")
        assert self.lines.readline() == b"+OK\r\n"

    def until(self, marker: str) -> list[str]:
        """Client commands (not those run by Lua scripts) up to an ``ECHO marker``."""
        commands = []
        self.sock.settimeout(10)
        for raw in self.lines:
            line = raw.decode().strip()
            if " lua] " in line:
                continue
            command = line.split("] ", 1)[1]
            if command == f'"ECHO" "{marker}"':
                return commands
            commands.append(command)
        raise AssertionError("MONITOR ended")

    def close(self) -> None:
        self.lines.close()
        self.sock.close()


@pytest.mark.parametrize("action", ["block", "alert"])
def test_a_budgeted_call_costs_one_round_trip_before_and_one_after(redis_server, action):
    """A blocking budget: EVALSHA (reserve) before the HTTP request, EVALSHA (record) after.
    An alert-only budget: nothing before the request."""
    marker = redis_server.client()

    class MarkedFake(FakeOpenAI):
        def handler(self, request):
            marker.echo("http-request")
            return super().handler(request)

    store = RedisBudgetStore(redis_server.url)
    budgets = [Budget("a", 10, "day", action=action), Budget("b", 10, "hour", action=action)]
    with capture(budgets=budgets, budget_store=store):
        client = MarkedFake().client()
        chat(client, max_tokens=50)  # connections made, scripts loaded
        assert tokentrail.flush(timeout=5)
        monitor = Monitor(redis_server.port)
        try:
            chat(client, max_tokens=50)
            assert tokentrail.flush(timeout=5)
            marker.echo("end")
            commands = monitor.until("end")
        finally:
            monitor.close()
    names = [
        c.split(" ")[0] + (" " + c.split(" ")[1] if c.startswith('"EVALSHA"') else "")
        for c in commands
    ]
    reserve, record = f'"EVALSHA" "{store._reserve.sha}"', f'"EVALSHA" "{store._record.sha}"'
    if action == "block":
        assert names == [reserve, '"ECHO"', record]
    else:
        assert names == ['"ECHO"', record]


def test_threads_and_tasks_never_overspend_by_more_than_one_reservation(redis_server):
    fake = FakeOpenAI(latency=0.002)
    one = reservation(100)
    limit = one * 40
    with capture(
        budgets=[Budget("cap", limit, "day", action="block")],
        budget_store=RedisBudgetStore(redis_server.url),
    ) as telemetry:
        sync_client, async_client = fake.client(), fake.async_client()
        refusals = call_until_refused(
            lambda: chat(sync_client, max_tokens=100),
            lambda: async_client.chat.completions.create(
                model=MODEL, messages=MESSAGES, max_tokens=100
            ),
        )
        total = sum(
            Decimal(str(s.attributes["gen_ai.usage.cost"]))
            for s in telemetry.spans()
            if "error.type" not in s.attributes
        )
    assert total <= limit + one
    assert len(refusals) == 16
    assert total > limit - 2 * one


def run_workers(url: str, limit: Decimal, calls: int) -> list[dict]:
    worker = Path(__file__).with_name("budget_worker.py")
    processes = [
        subprocess.Popen(
            [sys.executable, str(worker), url, str(limit), str(calls)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def test_two_processes_share_a_budget_and_its_alerts(redis_server):
    """Each process alone could make 20 calls; together they stop at the shared limit, and the
    shared warning fires once between them."""
    one = reservation(100)
    limit = one * 12
    results = run_workers(redis_server.url, limit, calls=20)
    spent = sum(Decimal(r["spent"]) for r in results)
    admitted = sum(r["admitted"] for r in results)
    assert spent <= limit + one
    assert admitted < 20  # each saw the other's spending
    assert all(r["refused"] > 0 for r in results)
    alerts = [a for r in results for a in r["alerts"]]
    assert alerts.count("budget_warning:shared-watch") == 1
    assert alerts.count("budget_exceeded:shared-watch") == 1
    assert alerts.count("budget_exceeded:shared-cap") == 1


class TestRedisDies:
    def test_fail_open_lets_calls_through_logs_and_counts(self, own_redis, caplog):
        caplog.set_level(logging.WARNING, logger="tokentrail")
        fake = FakeOpenAI()
        store = RedisBudgetStore(own_redis.url, fail_open=True, retry_after=0.2)
        with capture(budgets=[Budget("cap", 1, "day", action="block")], budget_store=store) as t:
            client = fake.client()
            chat(client, max_tokens=50)
            assert tokentrail.flush(timeout=5)
            own_redis.stop()
            for _ in range(3):
                chat(client, max_tokens=50)
            assert len(fake.requests) == 4
            unavailable = [r for r in caplog.records if "is unavailable" in r.getMessage()]
            assert len(unavailable) == 1  # one line per outage, not per call
            assert "fail_open=True" in unavailable[0].getMessage()
            assert t.value("tokentrail.budget.store.errors") >= 3
            # collecting the budget gauges does not wait on the dead server
            started = time.monotonic()
            t.points("tokentrail.budget.spent.usd")
            assert time.monotonic() - started < 1

            own_redis.start()  # back: reservations resume after retry_after
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                chat(client, max_tokens=50)
                if any("reachable again" in r.getMessage() for r in caplog.records):
                    break
                time.sleep(0.05)
            assert any("reachable again" in r.getMessage() for r in caplog.records)

    def test_fail_closed_refuses_blocking_calls_before_sending(self, own_redis):
        fake = FakeOpenAI()
        store = RedisBudgetStore(own_redis.url, fail_open=False, retry_after=0.2)
        with capture(budgets=[Budget("cap", 1, "day", action="block")], budget_store=store):
            client = fake.client()
            chat(client, max_tokens=50)
            own_redis.stop()
            with pytest.raises(BudgetStoreUnavailableError):
                chat(client, max_tokens=50)
            assert len(fake.requests) == 1

    def test_the_recorder_catches_up_after_an_outage(self, own_redis):
        """Alert-only spending recorded while Redis is down is written once it is back (the
        restarted server has no persistence: the first call's spending died with it)."""
        store = RedisBudgetStore(own_redis.url, retry_after=0.1)
        with capture(budgets=[Budget("watch", 10, "day")], budget_store=store) as telemetry:
            client = FakeOpenAI().client()
            chat(client, max_tokens=50)
            assert tokentrail.flush(timeout=5)
            own_redis.stop()
            chat(client, max_tokens=50)
            assert not tokentrail.flush(timeout=0.3)  # waiting for Redis
            own_redis.start()
            assert tokentrail.flush(timeout=5)
            costs = [s.attributes["gen_ai.usage.cost"] for s in telemetry.spans()]
        spent = store.read([("watch:-", parse_window("day", "w").span(time.time()))])[0][0]
        assert to_usd(spent) == Decimal(str(costs[1]))


def test_a_hundred_thousand_cheap_calls_add_up_to_the_nano_dollar(redis_server):
    """The Redis store, its Lua scripts and the gauges keep nano-dollars exact too."""
    from tests.budget_precision import CALLS, spend_cheaply

    store = RedisBudgetStore(redis_server.url)
    total, gauge, priced = spend_cheaply(store, lambda runtime: runtime.flush(60))
    assert priced == CALLS
    assert abs(Decimal(repr(gauge)) - total) <= Decimal("1e-9"), (gauge, total)
