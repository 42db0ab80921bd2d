"""Budgets as the hot path uses them: each ``Budget`` compiled once into a ``Plan`` (limits in
nano-USD, alert thresholds, its slot names), and the matching of a call's attribution."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from decimal import Decimal

from ..alerts.models import BUDGET_EXCEEDED, BUDGET_WARNING
from .models import Budget
from .money import to_nanos_ceil
from .stores import EXCEEDED

#: keys of a ``per=`` budget whose spending the gauges follow (the largest are kept)
MAX_TRACKED_KEYS = 1000


class Plan:
    """A budget with what the hot path needs precomputed."""

    __slots__ = (
        "budget",
        "index",
        "keys",
        "labels",
        "limit",
        "match",
        "name",
        "per",
        "slot",
        "thresholds",
        "window",
    )

    def __init__(self, budget: Budget, index: int) -> None:
        self.budget = budget
        self.index = index
        self.name = budget.name
        #: (key, the values it may have)
        self.match = tuple(
            (key, frozenset(value) if isinstance(value, tuple) else frozenset((value,)))
            for key, value in budget.match.items()
        )
        self.per = budget.per
        self.window = budget.window
        self.limit = to_nanos_ceil(budget.limit_usd)
        self.slot = f"{budget.name}:-"
        levels = [(to_nanos_ceil(budget.limit_usd * f), str(f)) for f in budget.warn_at]
        self.thresholds = (*levels, (self.limit, EXCEEDED))
        #: label -> (kind, fraction of the limit)
        self.labels = {str(f): (BUDGET_WARNING, f) for f in budget.warn_at}
        self.labels[EXCEEDED] = (BUDGET_EXCEEDED, Decimal(1))
        #: per= value -> slot (each value is hashed once)
        self.keys: dict[str, str] = {}

    def slot_for(self, value: str) -> str:
        slot = self.keys.get(value)
        if slot is None:
            if len(self.keys) >= 4 * MAX_TRACKED_KEYS:
                self.keys.clear()
            digest = hashlib.blake2b(value.encode(), digest_size=8).hexdigest()
            slot = self.keys[value] = f"{self.name}:{digest}"
        return slot

    def slot_for_key(self, key: Mapping[str, str]) -> str:
        """The slot of a ``key_of()`` value (the budget's own slot when it has no ``per=``)."""
        return self.slot_for(key[self.per]) if self.per and self.per in key else self.slot

    def key_of(self, value: str | None) -> dict[str, str]:
        """The ``per=`` value a slot stands for, as alerts and errors show it."""
        return {self.per: value} if self.per and value is not None else {}


#: (plan, slot, per= value or None)
Match = tuple[Plan, str, str | None]


def matching(plans: Sequence[Plan], values: Mapping[str, str]) -> list[Match]:
    """The plans whose ``match`` the attribution ``values`` satisfy, with the slot each call
    counts in (a ``per=`` plan ignores a call without its key)."""
    matched: list[Match] = []
    for plan in plans:
        for key, allowed in plan.match:
            if values.get(key) not in allowed:
                break
        else:
            if plan.per is None:
                matched.append((plan, plan.slot, None))
            else:
                value = values.get(plan.per)
                if value is not None:
                    matched.append((plan, plan.slot_for(value), value))
    return matched
