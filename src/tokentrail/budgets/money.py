"""Money in the budget stores: integer nano-USD (1e-9 USD), exact and cheap to add atomically
(Redis ``HINCRBY``). A signed 64-bit counter holds $9.2 billion; Redis' Lua scripts compare
sums as doubles, exact up to 2**53 nano-USD ($9 million) per budget window.

A call's cost is a ``Decimal`` that may have digits below the nano-dollar (a token of a cheap
model costs fractions of one): ``Carry`` keeps each budget's sub-nano remainder and adds it
to its next amount, so that what a store holds is the exact sum of the costs, floored to the
nano-dollar — not one rounding per call, which over millions of cheap calls adds up.
"""

from __future__ import annotations

import threading
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

NANOS_PER_USD = 1_000_000_000
_NANO = Decimal(NANOS_PER_USD)


def to_nanos_ceil(amount: Decimal) -> int:
    """USD to nano-USD, rounded up (what a reservation holds: never less than the worst case)."""
    return int((amount * _NANO).to_integral_value(ROUND_CEILING))


def to_usd(nanos: int) -> Decimal:
    """Nano-USD to an exact ``Decimal`` USD amount."""
    return Decimal(nanos) / _NANO


class Carry:
    """Sub-nano remainders per budget slot (bounded: a slot dropped when full loses less than
    one nano-dollar)."""

    MAX_SLOTS = 10_000

    def __init__(self) -> None:
        self._remainders: dict[str, Decimal] = {}
        self._lock = threading.Lock()

    def take(self, slot: str, amount: Decimal) -> int:
        """``amount`` (USD) plus the slot's remainder, in whole nano-USD; keeps the rest."""
        exact = amount * _NANO
        with self._lock:
            remainder = self._remainders.get(slot)
            if remainder is not None:
                exact += remainder
            nanos = int(exact.to_integral_value(ROUND_FLOOR))
            rest = exact - nanos
            if rest:
                if remainder is None and len(self._remainders) >= self.MAX_SLOTS:
                    self._remainders.clear()
                self._remainders[slot] = rest
            elif remainder is not None:
                del self._remainders[slot]
        return nanos
