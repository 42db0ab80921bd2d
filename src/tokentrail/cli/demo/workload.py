"""The demo's workload: steps, each one application call made under an attribution."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ...attribution import attribute
from ...exceptions import BudgetExceededError


@dataclass
class Step:
    """One thing the demo application does: a call (sync, or async) made as ``attribution``."""

    label: str
    attribution: dict[str, str]
    call: Callable[[], Any] | None = None
    acall: Callable[[], Awaitable[Any]] | None = None
    #: how many times per round
    weight: int = 1
    #: an exception this step is expected to raise sometimes (shown, not fatal)
    expected_errors: tuple[type[BaseException], ...] = field(default=())


class Runner:
    """Runs steps in a shuffled, seeded order; async steps share one event loop."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.loop = asyncio.new_event_loop()

    def round(self, steps: list[Step]) -> list[Step]:
        order = [step for step in steps for _ in range(step.weight)]
        self.random.shuffle(order)
        return order

    def run(self, step: Step) -> BaseException | None:
        """Run one step; return the expected error it raised, if any."""
        try:
            with attribute(**step.attribution):
                if step.acall is not None:
                    self.loop.run_until_complete(step.acall())
                elif step.call is not None:
                    step.call()
        except (BudgetExceededError, *step.expected_errors) as exc:
            # the app handles a refused call, as a real one would ("try again tomorrow")
            return exc
        return None

    def close(self) -> None:
        self.loop.close()
