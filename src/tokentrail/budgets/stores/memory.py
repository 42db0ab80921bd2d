"""Budget spending in this process: a lock and two dicts. The default store."""

from __future__ import annotations

import threading
import time

from ..models import Span
from . import EXCEEDED, Charge, Recorded, Refusal

#: how often (seconds) expired counters and claims are dropped
_SWEEP_INTERVAL_S = 60.0


class _Slot:
    """One budget slot's spending in its newest window ``first``..``last``, with running
    totals, so that recording costs the same for a rolling window of 60 buckets as for a
    calendar window of one."""

    __slots__ = ("buckets", "expire_at", "first", "held", "last", "settled")

    def __init__(self, span: Span) -> None:
        self.first = span.first
        self.last = span.last
        self.settled = 0
        self.held = 0
        self.expire_at = span.expire_at
        #: rolling windows only: bucket -> [settled, held]
        self.buckets: dict[int, list[int]] | None = {} if span.first != span.last else None

    def advance(self, span: Span) -> None:
        """Move to ``span`` if it is newer: a new calendar window starts from zero; a rolling
        window drops the buckets that left it."""
        if span.last <= self.last:
            return
        self.first, self.last, self.expire_at = span.first, span.last, span.expire_at
        buckets = self.buckets
        if buckets is None:
            self.settled = self.held = 0
            return
        for bucket in [b for b in buckets if b < span.first]:
            del buckets[bucket]
        self.settled = sum(v[0] for v in buckets.values())
        self.held = sum(v[1] for v in buckets.values())

    def add(self, span: Span, settled: int, held: int) -> None:
        """Add to the bucket ``span.last``; a write for a window that has ended (a call that
        started in it and ended after it) is dropped with it."""
        bucket = span.last
        if bucket < self.first:
            return
        buckets = self.buckets
        if buckets is not None:
            counter = buckets.get(bucket)
            if counter is None:
                counter = buckets[bucket] = [0, 0]
            counter[0] += settled
            counter[1] += held
        elif bucket != self.first:
            return
        self.settled += settled
        self.held += held


class MemoryBudgetStore:
    """Keeps spending in process memory. Each process has its own budgets: use
    ``RedisBudgetStore`` to share them between processes or hosts.

    A write takes a lock for a few attribute updates per budget, so it runs inline on the
    calling thread (measured: cheaper than handing it to a queue)."""

    inline = True
    fail_open = True  # it cannot be unavailable

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[str, _Slot] = {}
        #: claim key -> expire_at
        self._claims: dict[str, int] = {}
        self._next_sweep = time.monotonic() + _SWEEP_INTERVAL_S

    def reserve(self, charges: list[Charge]) -> Refusal | None:
        with self._lock:
            slots = [self._slot(charge.slot, charge.span) for charge in charges]
            for index, (charge, slot) in enumerate(zip(charges, slots, strict=True)):
                if slot.settled + slot.held + charge.held > charge.limit:
                    key = _claim_key(charge.slot, EXCEEDED, charge.span)
                    claimed = self._claim_locked(key, charge.span.claim_expire_at)
                    return Refusal(index, slot.settled, slot.held, claimed)
            for charge, slot in zip(charges, slots, strict=True):
                slot.add(charge.span, 0, charge.held)
        return None

    def record(
        self, charges: list[Charge], *, batch: tuple[str, int] | None = None
    ) -> list[Recorded]:
        results: list[Recorded] = []
        slots = self._slots
        with self._lock:
            for charge in charges:
                span = charge.span
                slot = slots.get(charge.slot)
                if slot is None:
                    slot = slots[charge.slot] = _Slot(span)
                elif span.last > slot.last:
                    slot.advance(span)
                slot.add(span, charge.settled, charge.held)
                settled = slot.settled
                claimed: tuple[str, ...] = ()
                for level, label in charge.thresholds:
                    if settled >= level and self._claim_locked(
                        _claim_key(charge.slot, label, span), span.claim_expire_at
                    ):
                        claimed += (label,)
                results.append(Recorded(settled, slot.held, claimed))
            if time.monotonic() >= self._next_sweep:
                self._sweep()
        return results

    def read(self, slots: list[tuple[str, Span]]) -> list[tuple[int, int]]:
        with self._lock:
            totals = []
            for name, span in slots:
                slot = self._slots.get(name)
                if slot is None or span.first > slot.last:
                    totals.append((0, 0))
                else:
                    slot.advance(span)
                    totals.append((slot.settled, slot.held))
            return totals

    def claim(self, key: str, expire_at: int) -> bool:
        with self._lock:
            return self._claim_locked(key, expire_at)

    def close(self) -> None:
        pass

    # -- under the lock -------------------------------------------------------------------------

    def _slot(self, name: str, span: Span) -> _Slot:
        slot = self._slots.get(name)
        if slot is None:
            slot = self._slots[name] = _Slot(span)
        else:
            slot.advance(span)
        return slot

    def _claim_locked(self, key: str, expire_at: int) -> bool:
        expiry = self._claims.get(key)
        if expiry is not None and expiry > time.time():
            return False
        self._claims[key] = expire_at
        return True

    def _sweep(self) -> None:
        now = time.time()
        for name in [k for k, v in self._slots.items() if v.expire_at <= now]:
            del self._slots[name]
        for key in [k for k, v in self._claims.items() if v <= now]:
            del self._claims[key]
        self._next_sweep = time.monotonic() + _SWEEP_INTERVAL_S


def _claim_key(slot: str, label: str, span: Span) -> str:
    return f"{slot}:{label}:{span.claim_id}"
