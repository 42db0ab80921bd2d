"""Budget spending in this process: a lock and two dicts. The default store."""

from __future__ import annotations

import threading
import time

from ..models import Span
from . import EXCEEDED, Charge, Recorded, Refusal

__all__ = ["MemoryBudgetStore"]

#: how often (seconds) expired counters and claims are dropped
_SWEEP_INTERVAL_S = 60.0


class MemoryBudgetStore:
    """Keeps spending in process memory. Each process has its own budgets: use
    ``RedisBudgetStore`` to share them between processes or hosts.

    Writes take a lock for a few dict updates (well under a microsecond per budget), so they
    run inline on the calling thread."""

    inline = True
    fail_open = True  # it cannot be unavailable

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: (slot, bucket) -> [settled, held, expire_at]
        self._counters: dict[tuple[str, int], list[int]] = {}
        #: claim key -> expire_at
        self._claims: dict[str, int] = {}
        self._next_sweep = time.monotonic() + _SWEEP_INTERVAL_S

    def reserve(self, charges: list[Charge]) -> Refusal | None:
        counters = self._counters
        with self._lock:
            for index, charge in enumerate(charges):
                settled, held = self._totals(charge.slot, charge.span)
                if settled + held + charge.held > charge.limit:
                    claimed = self._claim_locked(
                        _claim_key(charge.slot, EXCEEDED, charge.span), charge.span.claim_expire_at
                    )
                    return Refusal(index, settled, held, claimed)
            for charge in charges:
                span = charge.span
                counter = counters.get((charge.slot, span.last))
                if counter is None:
                    counter = counters[(charge.slot, span.last)] = [0, 0, span.expire_at]
                counter[1] += charge.held
        return None

    def record(self, charges: list[Charge]) -> list[Recorded]:
        counters = self._counters
        results: list[Recorded] = []
        with self._lock:
            for charge in charges:
                span = charge.span
                counter = counters.get((charge.slot, span.last))
                if counter is None:
                    counter = counters[(charge.slot, span.last)] = [0, 0, span.expire_at]
                counter[0] += charge.settled
                counter[1] += charge.held
                if span.first == span.last:
                    settled, held = counter[0], counter[1]
                else:
                    settled, held = self._totals(charge.slot, span)
                claimed: tuple[str, ...] = ()
                for level, label in charge.thresholds:
                    if settled >= level and self._claim_locked(
                        _claim_key(charge.slot, label, span), span.claim_expire_at
                    ):
                        claimed += (label,)
                results.append(Recorded(settled, held, claimed))
            if time.monotonic() >= self._next_sweep:
                self._sweep()
        return results

    def read(self, slots: list[tuple[str, Span]]) -> list[tuple[int, int]]:
        with self._lock:
            return [self._totals(slot, span) for slot, span in slots]

    def claim(self, key: str, expire_at: int) -> bool:
        with self._lock:
            return self._claim_locked(key, expire_at)

    def close(self) -> None:
        pass

    # -- under the lock -------------------------------------------------------------------------

    def _totals(self, slot: str, span: Span) -> tuple[int, int]:
        counters = self._counters
        if span.first == span.last:
            counter = counters.get((slot, span.last))
            return (counter[0], counter[1]) if counter is not None else (0, 0)
        settled = held = 0
        for bucket in span.buckets:
            counter = counters.get((slot, bucket))
            if counter is not None:
                settled += counter[0]
                held += counter[1]
        return settled, held

    def _claim_locked(self, key: str, expire_at: int) -> bool:
        expiry = self._claims.get(key)
        if expiry is not None and expiry > time.time():
            return False
        self._claims[key] = expire_at
        return True

    def _sweep(self) -> None:
        now = time.time()
        for key in [k for k, v in self._counters.items() if v[2] <= now]:
            del self._counters[key]
        for key in [k for k, v in self._claims.items() if v <= now]:
            del self._claims[key]
        self._next_sweep = time.monotonic() + _SWEEP_INTERVAL_S


def _claim_key(slot: str, label: str, span: Span) -> str:
    return f"{slot}:{label}:{span.claim_id}"
