"""Event loops for LiteLLM's async calls in tests. LiteLLM logs each async call in a worker
task on the running loop; a loop closed with that task pending leaves an unawaited coroutine
behind (a warning the suite turns into an error). An app's loop runs until the app ends; a
test's loop ends with the test, so the worker is finished first, as at an app's end."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any


def run_litellm(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """``asyncio.run(coroutine)``, LiteLLM's logging finished before the loop closes."""

    async def main() -> Any:
        try:
            return await coroutine
        finally:
            await finish_logging()

    return asyncio.run(main())


async def finish_logging() -> None:
    """Let LiteLLM's logging worker finish what the calls queued, then stop it (it starts
    again with the next async call, on that call's loop)."""
    try:
        from litellm.litellm_core_utils.logging_worker import GLOBAL_LOGGING_WORKER as worker
    except ImportError:  # a LiteLLM without the worker
        return
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(worker.flush(), 5)
    await worker.stop()
