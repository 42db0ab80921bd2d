"""The budget gauges (``tokentrail.budget.spent.usd``, ``.limit.usd``, ``.window.remaining``;
attribute ``tokentrail.budget.name`` only). A ``per=`` budget shows the key that spent most
(keys never become labels).

An in-process store is read at collection time; a remote one is read by the recorder thread
after each collection, and the gauges report the last values read, so a collection never
waits on the network.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from .. import names as sc
from ..telemetry.instruments import create_budget_gauges, create_budget_store_errors_counter
from .models import Span
from .money import to_usd
from .plans import MAX_TRACKED_KEYS, Plan
from .stores import BudgetStore


class BudgetGauges:
    def __init__(
        self,
        plans: Sequence[Plan],
        store: BudgetStore,
        meter: Meter,
        *,
        refresh: Callable[[], None] | None,
        dropped: Callable[[], int],
    ) -> None:
        """``refresh``: ask for a background read (a remote store), None to read inline.
        ``dropped``: spending records the recorder had to drop (store errors counter)."""
        self.plans = tuple(plans)
        self.store = store
        self._refresh = refresh
        self._dropped = dropped
        #: plan index -> (window start, settled nano-USD of the top key)
        self._spent: dict[int, tuple[float, int]] = {}
        #: per= plans: value -> last settled seen in the current window
        self._key_spent: dict[int, dict[str, int]] = {p.index: {} for p in self.plans if p.per}
        self._lock = threading.Lock()
        self._attributes = [{sc.TOKENTRAIL_BUDGET_NAME: p.name} for p in self.plans]
        if self.plans:
            create_budget_gauges(
                meter,
                observe_spent=self._observe_spent,
                observe_limit=self._observe_limit,
                observe_remaining=self._observe_remaining,
            )
        if not store.inline:
            create_budget_store_errors_counter(meter, self._observe_store_errors)

    def follow_key(self, plan: Plan, value: str, settled: int) -> None:
        """A ``per=`` key's spending after a record (the gauges show the largest)."""
        spent = self._key_spent[plan.index]
        spent[value] = settled
        if len(spent) > MAX_TRACKED_KEYS:
            with self._lock:
                ranked = sorted(spent.items(), key=lambda kv: kv[1], reverse=True)
                self._key_spent[plan.index] = dict(ranked[: MAX_TRACKED_KEYS // 2])

    def read(self) -> None:
        """Read each budget's current spending from the store into the gauge values."""
        now = time.time()
        slots: list[tuple[str, Span]] = []
        owners: list[int] = []
        for plan in self.plans:
            span = plan.window.span(now)
            if plan.per is None:
                slots.append((plan.slot, span))
                owners.append(plan.index)
            else:
                for value in list(self._key_spent[plan.index]):
                    slots.append((plan.slot_for(value), span))
                    owners.append(plan.index)
        totals = self.store.read(slots) if slots else []
        spent: dict[int, tuple[float, int]] = {}
        for index, (_, span), (settled, _) in zip(owners, slots, totals, strict=True):
            previous = spent.get(index)
            if previous is None or settled > previous[1]:
                spent[index] = (span.start, settled)
        self._spent = spent

    def _observe_spent(self, options: CallbackOptions) -> list[Observation]:
        if self._refresh is None:
            self.read()
        else:
            self._refresh()  # for the next collection; never wait here
        now = time.time()
        spent = self._spent
        observations = []
        for plan in self.plans:
            value = spent.get(plan.index)
            current = value is not None and value[0] == plan.window.span(now).start
            nanos = value[1] if current else 0  # type: ignore[index]
            observations.append(Observation(float(to_usd(nanos)), self._attributes[plan.index]))
        return observations

    def _observe_limit(self, options: CallbackOptions) -> list[Observation]:
        return [
            Observation(float(p.budget.limit_usd), self._attributes[p.index]) for p in self.plans
        ]

    def _observe_remaining(self, options: CallbackOptions) -> list[Observation]:
        now = time.time()
        return [Observation(p.window.remaining(now), self._attributes[p.index]) for p in self.plans]

    def _observe_store_errors(self, options: CallbackOptions) -> list[Observation]:
        return [Observation(getattr(self.store, "errors", 0) + self._dropped())]
