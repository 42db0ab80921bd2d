"""Concurrent callers against a blocking budget: 8 threads and 8 asyncio tasks each call until
the budget refuses them (the memory and the Redis store are tested with the same load)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from tokentrail import BudgetExceededError

#: more calls each than any budget in these tests allows in all (~41), so every worker is
#: refused even if it runs alone; a budget that does not hold fails the test, never hangs it
CALLS_EACH = 60


def call_until_refused(
    sync_call: Callable[[], Any], async_call: Callable[[], Awaitable[Any]], workers: int = 8
) -> list[BudgetExceededError]:
    """Run ``workers`` threads of ``sync_call`` and as many tasks of ``async_call``, each until
    refused; return the refusals."""
    refusals: list[BudgetExceededError] = []

    def thread_worker() -> None:
        for _ in range(CALLS_EACH):
            try:
                sync_call()
            except BudgetExceededError as exc:
                refusals.append(exc)
                return

    async def task() -> None:
        for _ in range(CALLS_EACH):
            try:
                await async_call()
            except BudgetExceededError as exc:
                refusals.append(exc)
                return

    async def tasks() -> None:
        await asyncio.gather(*(task() for _ in range(workers)))

    threads = [threading.Thread(target=thread_worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    asyncio.run(tasks())
    for thread in threads:
        thread.join()
    return refusals
