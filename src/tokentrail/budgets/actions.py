"""Budgets that act before they block: once a ``downgrade`` or ``clamp`` budget's spending in
its window reaches ``at`` x limit, each matching call is sent to a cheaper model, or with its
output capped, before it leaves the process (so the provider bills what was sent).

Several budgets may act on one call: the most restrictive action that applies wins
(``block`` > ``downgrade`` > ``clamp`` > ``alert``; between two of the same kind, the first
budget). A downgrade applies only to a model its mapping names and whose cheaper model has a
price; a clamp never raises a cap the caller set lower. The decision reads the spending this
process knows (``SpendView``): exact for the memory store; with Redis, what the last write or
background read returned, so another process's spending is seen a moment late — and calls
already in flight when the threshold is crossed finish on the model they were sent to.
"""

from __future__ import annotations

import fnmatch
import logging
import re
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from .. import names as sc
from ..pricing import PriceBook
from ..telemetry.records import Request
from ..usage import Usage, estimate_tokens
from .models import FIT, Span
from .money import to_nanos_ceil
from .plans import Plan
from .stores import BudgetStore

logger = logging.getLogger("tokentrail")

#: a remote store's spending is read again (in the background) when older than this
STALE_AFTER_S = 1.0
_RANK = {"clamp": 1, "downgrade": 2}


class Acted:
    """What a budget's action changed in one call (``Admission.acted``)."""

    __slots__ = ("action", "key", "original_max_tokens", "original_model", "plan", "span",
                 "spent", "target")  # fmt: skip

    def __init__(
        self,
        plan: Plan,
        request: Request,
        target: Request,
        spent: int,
        span: Span,
        key: Mapping[str, str],
    ) -> None:
        self.plan = plan
        self.action = plan.budget.action
        self.original_model = request.model
        self.original_max_tokens = request.max_tokens
        self.target = target
        self.spent = spent
        self.span = span
        self.key = key

    def span_attributes(self) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            sc.TOKENTRAIL_BUDGET_ACTION: self.action,
            sc.TOKENTRAIL_BUDGET_NAME: self.plan.name,
        }
        if self.target.model != self.original_model and self.original_model:
            attributes[sc.TOKENTRAIL_REQUEST_MODEL_ORIGINAL] = self.original_model
        if self.target.max_tokens != self.original_max_tokens and self.original_max_tokens:
            attributes[sc.TOKENTRAIL_REQUEST_MAX_TOKENS_ORIGINAL] = self.original_max_tokens
        return attributes

    def describe(self) -> str:
        """For the ``budget_action`` alert: what the budget now does to calls."""
        if self.action == "downgrade":
            return f"downgrade {self.original_model} to {self.target.model}"
        return f"cap the output at {self.target.max_tokens} tokens"


class Downgrades:
    """A downgrade mapping resolved per model: exact names first, then globs in order, or
    the mapping function; cached. A target without a price is refused (warned once)."""

    def __init__(self, mapping: Mapping[str, str] | Callable[[str], str | None]) -> None:
        self._function = mapping if callable(mapping) else None
        self._exact: dict[str, str] = {}
        self._globs: list[tuple[re.Pattern[str], str]] = []
        if not callable(mapping):
            for model, cheaper in mapping.items():
                if any(c in model for c in "*?["):
                    self._globs.append((re.compile(fnmatch.translate(model)), cheaper))
                else:
                    self._exact[model] = cheaper
        self._cache: dict[str, str | None] = {}

    def target(self, model: str) -> str | None:
        if model in self._cache:
            return self._cache[model]
        if self._function is not None:
            found = self._function(model)
            found = found if isinstance(found, str) and found else None
        else:
            found = self._exact.get(model)
            if found is None:
                found = next((to for glob, to in self._globs if glob.fullmatch(model)), None)
        if len(self._cache) > 1024:
            self._cache.clear()
        self._cache[model] = found
        return found


class SpendView:
    """The spending of the slots that actions read: the store itself when it is in this
    process; else what this process last learnt (each write returns its slot's total), read
    again in the background when it is older than ``STALE_AFTER_S``."""

    def __init__(self, store: BudgetStore, refresh: Callable[[str, Span], None] | None) -> None:
        self.store = store
        self._refresh = refresh
        #: slot -> (window start, settled nano-USD, monotonic time learnt)
        self._known: dict[str, tuple[float, int, float]] = {}
        self._asked: dict[str, float] = {}

    def spent(self, slot: str, span: Span) -> int:
        if self.store.inline:
            return self.store.read([(slot, span)])[0][0]
        now = time.monotonic()
        known = self._known.get(slot)
        stale = known is None or now - known[2] > STALE_AFTER_S
        if stale and self._refresh is not None and now - self._asked.get(slot, 0.0) > STALE_AFTER_S:
            self._asked[slot] = now
            self._refresh(slot, span)
        if known is None or known[0] != span.start:
            return 0
        return known[1]

    def learnt(self, slot: str, span: Span, settled: int) -> None:
        if len(self._known) > 10_000:
            self._known.clear()
        self._known[slot] = (span.start, settled, time.monotonic())


class Actions:
    """The ``downgrade`` and ``clamp`` budgets: what they do to a call about to be sent."""

    def __init__(self, plans: tuple[Plan, ...], view: SpendView, price_book: PriceBook) -> None:
        self.plans = plans
        self.view = view
        self.price_book = price_book
        self._downgrades = {
            p.index: Downgrades(p.budget.downgrade)  # type: ignore[arg-type]
            for p in plans
            if p.budget.action == "downgrade"
        }
        self._thresholds = {p.index: to_nanos_ceil(p.budget.limit_usd * p.budget.at) for p in plans}
        self._warned: set[tuple[str, str | None, str | None]] = set()

    def decide(self, request: Request, matched: list[Any]) -> Acted | None:
        """The action that applies to ``request`` (the most restrictive), or None. Embeddings
        are left alone: another model's vectors would not match the ones already stored."""
        if request.operation == sc.OP_EMBEDDINGS:
            return None
        best: Acted | None = None
        now = time.time()
        for plan, slot, value in matched:
            if best is not None and _RANK[plan.budget.action] <= _RANK[best.action]:
                continue
            span = plan.window.span(now)
            spent = self.view.spent(slot, span)
            if spent < self._thresholds[plan.index]:
                continue
            if plan.budget.action == "downgrade":
                target = self._downgraded(plan, request)
            else:
                target = self._clamped(plan, request, spent)
            if target is not None:
                best = Acted(plan, request, target, spent, span, plan.key_of(value))
        return best

    def _downgraded(self, plan: Plan, request: Request) -> Request | None:
        model = request.model
        if not model:
            return None
        cheaper = self._downgrades[plan.index].target(model)
        if cheaper is None:
            self._warn(plan, model, None, "its downgrade mapping has no cheaper model for it")
            return None
        if cheaper == model:
            return None
        probe = Usage(input_tokens=1, output_tokens=1)
        if self.price_book.cost(probe, request.provider, cheaper, cheaper).amount_usd is None:
            self._warn(plan, model, cheaper, f"{cheaper!r} has no known price")
            return None
        return request.changed(model=cheaper)

    def _clamped(self, plan: Plan, request: Request, spent: int) -> Request | None:
        cap = plan.budget.max_output_tokens
        if cap == FIT:
            cap = self._fit(plan, request, spent)
            if cap is None:
                return None
        if request.max_tokens is not None and request.max_tokens <= cap:  # type: ignore[operator]
            return None  # never raise a cap the caller set lower
        return request.changed(max_tokens=cap)

    def _fit(self, plan: Plan, request: Request, spent: int) -> int | None:
        """The output that fits in what is left of the budget after the prompt (at least 1)."""
        book, provider, model = self.price_book, request.provider, request.model
        prompt = Usage(input_tokens=estimate_tokens(request.prompt))
        million = Usage(output_tokens=1_000_000)
        input_cost = book.cost(prompt, provider, model, model).amount_usd
        per_million = book.cost(million, provider, model, model).amount_usd
        if input_cost is None or not per_million:
            self._warn(plan, model, None, "it has no known price, so no cap can be fitted")
            return None
        left = plan.budget.limit_usd - Decimal(spent) / Decimal(1_000_000_000) - input_cost
        return max(1, int(left * 1_000_000 / per_million))

    def _warn(self, plan: Plan, model: str | None, target: str | None, why: str) -> None:
        key = (plan.name, model, target)
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(
                "tokentrail: budget %r leaves calls to %r alone: %s", plan.name, model, why
            )
