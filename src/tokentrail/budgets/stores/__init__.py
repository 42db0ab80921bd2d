"""Where budget spending lives: in this process (``MemoryBudgetStore``, the default) or in
Redis, shared by every process and host that uses the same server (``RedisBudgetStore``).

Both hold, per budget *slot* (a budget, or one key of a ``per=`` budget) and per window
bucket, two integers in nano-USD (``budgets.money``): ``settled`` (what finished calls
cost) and ``held`` (the worst-case reservations of blocking calls in flight). A blocking call
is admitted when ``settled + held + its reservation <= limit``; warnings and the exceeded
alert compare ``settled``. Every operation below is atomic across all the charges it is given.

Settled amounts are exact (the tracker carries each budget's sub-nano remainder to its next
call); reservations are rounded up, so a reservation never holds less than its worst case.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..models import Span

#: the claim label of the "limit reached" alert (warnings use their fraction, e.g. "0.8")
EXCEEDED = "1"


# Charge and Recorded are created per call and budget: plain slotted dataclasses (a frozen
# one costs ~1 µs to build, several per call).


@dataclass(slots=True)
class Charge:
    """A change to one budget slot in the window ``span``; written to ``span.last``."""

    slot: str
    span: Span
    #: nano-USD added to the settled spending
    settled: int = 0
    #: nano-USD added to the reservations in flight (negative: released)
    held: int = 0
    #: nano-USD; ``reserve`` admits only if ``settled + held + self.held <= limit``
    limit: int = 0
    #: ``(level in nano-USD, label)``: after ``record``, claim each label whose level the
    #: settled spending has reached, once per window (across processes for Redis)
    thresholds: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Refusal:
    """``reserve`` refused: ``index`` of the charge that did not fit and its slot's totals."""

    index: int
    settled: int
    held: int
    #: the refusal claimed the slot's once-per-window "exceeded" alert
    claimed: bool


@dataclass(slots=True)
class Recorded:
    """A slot's totals after ``record``, and the threshold labels this record claimed."""

    settled: int
    held: int
    claimed: tuple[str, ...] = ()


class BudgetStore(Protocol):
    """What the budget tracker needs from a store."""

    #: cheap enough to write on the calling thread (else writes go through a worker)
    inline: bool
    #: when the store cannot be reached: let calls through (True) or refuse them (False)
    fail_open: bool

    def reserve(self, charges: list[Charge]) -> Refusal | None:
        """Add every charge's ``held`` if all fit in their limits, else change nothing and
        claim the refused slot's "exceeded" alert. Raises ``BudgetStoreUnavailableError``."""
        ...

    def record(
        self, charges: list[Charge], *, batch: tuple[str, int] | None = None
    ) -> list[Recorded]:
        """Add ``settled``/``held`` to each slot and claim the thresholds reached. ``batch``
        (writer, number): the same batch recorded again is applied once (a store written from
        the background, which retries)."""
        ...

    def read(self, slots: list[tuple[str, Span]]) -> list[tuple[int, int]]:
        """``(settled, held)`` of each slot in its window."""
        ...

    def claim(self, key: str, expire_at: int) -> bool:
        """Take a once-only token until ``expire_at`` (epoch seconds); True the first time."""
        ...

    def close(self) -> None: ...
