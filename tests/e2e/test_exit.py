"""Nothing is lost when a process ends without ``tokentrail.flush()``: short-lived processes
(scripts, cron jobs, recycled workers, zero-code apps) that spend on a Redis budget leave
exactly their spending in Redis; and a process whose Redis is gone at exit still ends within
the exit timeout, saying what it could not write."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from tokentrail.budgets.models import parse_window
from tokentrail.budgets.money import to_usd
from tokentrail.budgets.stores.redis import RedisBudgetStore

pytestmark = pytest.mark.e2e

WORKER = Path(__file__).with_name("exit_worker.py")


def _env(redis_url: str, budgets: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENTRAIL_")}
    env.update(TOKENTRAIL_REDIS_URL=redis_url, TOKENTRAIL_BUDGETS_FILE=str(budgets), **extra)
    return env


def _budgets(tmp_path: Path) -> Path:
    path = tmp_path / "budgets.yaml"
    path.write_text(
        "budgets:\n"
        "  - {name: everything, limit_usd: 100, window: day}\n"
        "  - {name: guarded, limit_usd: 100, window: day, action: block}\n"
    )
    return path


def _spent(url: str, budget: str) -> tuple[Decimal, Decimal]:
    store = RedisBudgetStore(url)
    span = parse_window("day", "w").span(time.time())
    ((settled, held),) = store.read([(f"{budget}:-", span)])
    store.close()
    return to_usd(settled), to_usd(held)


def test_short_processes_that_never_flush_lose_nothing(redis_server, tmp_path):
    """Five processes, no flush(): Redis holds the sum of their calls' costs (each process
    may keep less than a nano-dollar of remainder), and no reservation is left held."""
    budgets = _budgets(tmp_path)
    costs: list[Decimal] = []
    for calls in (3, 5, 7, 4, 6):
        result = subprocess.run(
            [sys.executable, str(WORKER), str(calls)],
            capture_output=True,
            text=True,
            timeout=120,
            env=_env(redis_server.url, budgets),
        )
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr, result.stderr
        costs += [Decimal(c) for c in json.loads(result.stdout.splitlines()[-1])["costs"]]
    assert len(costs) == 25
    for budget in ("everything", "guarded"):
        settled, held = _spent(redis_server.url, budget)
        assert held == 0, budget
        assert sum(costs) - Decimal("5e-9") <= settled <= sum(costs), budget


def test_redis_down_at_exit_costs_at_most_the_exit_timeout(own_redis, tmp_path):
    """The store is gone when the process ends: it ends within TOKENTRAIL_EXIT_TIMEOUT
    anyway, and says how much spending it could not save."""
    process = subprocess.Popen(
        [sys.executable, str(WORKER), "4", "--wait"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(own_redis.url, _budgets(tmp_path), TOKENTRAIL_EXIT_TIMEOUT="1.5"),
    )
    try:
        line = process.stdout.readline()
        assert json.loads(line)["costs"], process.stderr.read()
        own_redis.stop()
        started = time.monotonic()
        process.stdin.write("exit\n")
        process.stdin.flush()
        process.wait(timeout=30)
        took = time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
    err = process.stderr.read()
    assert process.returncode == 0, err
    assert took < 1.5 + 1.0, f"exit took {took:.2f} s"
    assert "could not be saved to the budget store" in err, err
    assert "$0.0" in err
