"""Budgets at work: admission before a call, recording after it, alerts and gauges.

* **Admission** (``admit``, before the SDK sends anything): for the call's matching
  ``action="block"`` budgets, reserve its worst-case cost (the prompt's estimated tokens at the
  input price plus ``max_tokens`` — ``DEFAULT_MAX_OUTPUT_TOKENS`` when the request sets none —
  at the output price) in one atomic store operation over all of them; if one does not fit,
  nothing is held and ``BudgetExceededError`` is raised. Concurrent callers each hold their
  worst case, so together they overspend by at most what one call's estimate missed. A model
  without a price cannot be reserved: the call goes through, with a warning once per model.
* **Recording** (``on_call_end``, an emitter listener, after the call is priced): settle each
  reservation to the actual cost (a failed call releases it) and add the cost to the
  alert-only budgets. The memory store records inline (a lock and a few dict updates); other
  stores record on a background ``Recorder`` thread, batched, one round trip per batch.
* **Alerts**: a store claims each threshold once per window when it records, so alerts fire
  once per budget (and key), threshold and window, across processes with Redis.
* **Gauges** (``tokentrail.budget.*``, attribute ``tokentrail.budget.name`` only): a ``per=``
  budget shows the key that spent most (keys never become labels). The memory store is read
  at collection time; other stores are read by the recorder thread after each collection, and
  the gauges report the last values read, so a collection never waits on the network.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from collections.abc import Mapping, Sequence
from decimal import ROUND_CEILING, Decimal
from typing import Any

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from .. import _guard
from .._background import BackgroundQueue
from ..alerts.delivery import AlertDispatcher
from ..alerts.models import BUDGET_EXCEEDED, BUDGET_WARNING, CRITICAL, REQUEST_COST, WARNING, Alert
from ..exceptions import BudgetExceededError, BudgetStoreUnavailableError
from ..pricing import PriceBook
from ..telemetry import semconv as sc
from ..telemetry.emitter import Call
from ..telemetry.instruments import create_budget_gauges, create_budget_store_errors_counter
from ..telemetry.records import Request
from ..usage import Usage, estimate_tokens
from .models import Budget, CalendarWindow, Span
from .stores import EXCEEDED, BudgetStore, Charge, Recorded

__all__ = ["DEFAULT_MAX_OUTPUT_TOKENS", "BudgetTracker", "to_micros", "to_usd"]

logger = logging.getLogger("tokentrail")

#: the output a reservation assumes when a request does not set ``max_tokens``
DEFAULT_MAX_OUTPUT_TOKENS = 4096
#: keys of a ``per=`` budget whose spending the gauges follow (the largest are kept)
MAX_TRACKED_KEYS = 1000
_MICRO = Decimal(1_000_000)
_HOUR = CalendarWindow("hour")


def to_micros(amount: Decimal) -> int:
    """USD to integer micro-USD, rounded up: a budget never under-counts."""
    return int((amount * _MICRO).to_integral_value(ROUND_CEILING))


def to_usd(micros: int) -> Decimal:
    return Decimal(micros) / _MICRO


class _Plan:
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
        self.match = tuple(budget.match.items())
        self.per = budget.per
        self.window = budget.window
        self.limit = to_micros(budget.limit_usd)
        self.slot = f"{budget.name}:-"
        levels = [(to_micros(budget.limit_usd * f), str(f)) for f in budget.warn_at]
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


#: (plan, slot, per= value or None)
_Match = tuple[_Plan, str, str | None]


class Reservation:
    """What a blocking call holds: plan index -> the charge that reserved it."""

    __slots__ = ("amount", "charges")

    def __init__(self, amount: int, charges: dict[int, Charge]) -> None:
        self.amount = amount
        self.charges = charges


class BudgetTracker:
    def __init__(
        self,
        budgets: Sequence[Budget],
        *,
        store: BudgetStore,
        price_book: PriceBook,
        dispatcher: AlertDispatcher,
        meter: Meter,
        max_request_cost_usd: Decimal | None = None,
    ) -> None:
        self.plans = tuple(_Plan(b, i) for i, b in enumerate(budgets))
        self.blocking_plans = tuple(p for p in self.plans if p.budget.blocking)
        self.store = store
        self.price_book = price_book
        self.dispatcher = dispatcher
        self.max_request_cost_usd = max_request_cost_usd
        self._unpriced_warned: set[tuple[str, str | None]] = set()
        #: gauge values: plan index -> (window start, settled micro-USD of the top key)
        self._spent: dict[int, tuple[float, int]] = {}
        #: per= plans: value -> last settled seen in the current window
        self._key_spent: dict[int, dict[str, int]] = {p.index: {} for p in self.plans if p.per}
        self._lock = threading.Lock()
        self.recorder = None if store.inline else Recorder(self)
        if self.plans:
            create_budget_gauges(
                meter,
                observe_spent=self._observe_spent,
                observe_limit=self._observe_limit,
                observe_remaining=self._observe_remaining,
            )
            self._plan_attributes = [{sc.TOKENTRAIL_BUDGET_NAME: p.name} for p in self.plans]
        if not store.inline:
            create_budget_store_errors_counter(meter, self._observe_store_errors)

    # -- matching ----------------------------------------------------------------------------

    def _matching(self, plans: Sequence[_Plan], values: Mapping[str, str]) -> list[_Match]:
        matched: list[_Match] = []
        for plan in plans:
            for key, value in plan.match:
                if values.get(key) != value:
                    break
            else:
                if plan.per is None:
                    matched.append((plan, plan.slot, None))
                else:
                    value = values.get(plan.per)
                    if value is not None:  # a call without the key is not counted by it
                        matched.append((plan, plan.slot_for(value), value))
        return matched

    # -- before the call -------------------------------------------------------------------

    def admit(self, call: Call) -> None:
        """Reserve the call's worst case in its blocking budgets, or refuse it."""
        matched = self._matching(self.blocking_plans, call.attribution.values)
        if not matched:
            return
        amount = self.worst_case(call.request)
        if amount is None:
            return
        now = time.time()
        charges = [
            Charge(slot, plan.window.span(now), 0, amount, plan.limit) for plan, slot, _ in matched
        ]
        try:
            refusal = self.store.reserve(charges)
        except BudgetStoreUnavailableError:
            if self.store.fail_open:
                return
            raise
        if refusal is None:
            held = {m[0].index: charge for m, charge in zip(matched, charges, strict=True)}
            call.reservation = Reservation(amount, held)
            return
        plan, _, value = matched[refusal.index]
        key = {plan.per: value} if plan.per and value is not None else {}
        span = charges[refusal.index].span
        if refusal.claimed:
            self._fire_budget(plan, EXCEEDED, refusal.settled, span, key, call)
        raise BudgetExceededError(
            plan.name,
            to_usd(refusal.settled),
            plan.budget.limit_usd,
            reserved_usd=to_usd(amount),
            key=key,
        )

    def worst_case(self, request: Request) -> int | None:
        """The most the call can cost, in micro-USD; None when its model has no price."""
        output = 0
        if request.operation != sc.OP_EMBEDDINGS:
            output = request.max_tokens if request.max_tokens else DEFAULT_MAX_OUTPUT_TOKENS
        usage = Usage(input_tokens=estimate_tokens(request.prompt), output_tokens=output)
        cost = self.price_book.cost(usage, request.provider, request.model, request.model)
        if cost.amount_usd is None:
            model = (request.provider, request.model)
            if model not in self._unpriced_warned:
                self._unpriced_warned.add(model)
                logger.warning(
                    "tokentrail: no price for model %r of %r, so a blocking budget cannot "
                    "reserve its cost: its calls are let through and counted once priced "
                    "(add a price with TOKENTRAIL_PRICES_FILE or instrument(prices=...))",
                    request.model,
                    request.provider,
                )
            return None
        return to_micros(cost.amount_usd)

    # -- after the call --------------------------------------------------------------------

    def on_call_end(self, call: Call) -> None:
        """Emitter listener: settle the reservation, count the cost, fire alerts."""
        amount = call.cost.amount_usd
        reservation = call.reservation
        limit = self.max_request_cost_usd
        if limit is not None and amount is not None and amount > limit:
            self._request_cost(call, amount, limit)
        if reservation is None and not amount:
            return  # unpriced, free, or refused before it was sent
        call.reservation = None
        # a call that ran but could not be priced keeps its worst case
        settled = to_micros(amount) if amount is not None else reservation.amount  # type: ignore[union-attr]
        matched = self._matching(self.plans, call.attribution.values)
        if not matched:
            return
        now = time.time()
        charges = []
        for plan, slot, _ in matched:
            held = reservation.charges.get(plan.index) if reservation is not None else None
            if held is None:
                span = plan.window.span(now)
                charges.append(Charge(slot, span, settled, 0, 0, plan.thresholds))
            else:
                charges.append(Charge(slot, held.span, settled, -held.held, 0, plan.thresholds))
        if self.recorder is None:
            self.after_record(matched, charges, self.store.record(charges), call)
        else:
            self.recorder.submit(("record", matched, charges, call))

    def after_record(
        self, matched: list[_Match], charges: list[Charge], results: list[Recorded], call: Call
    ) -> None:
        for (plan, _, value), charge, result in zip(matched, charges, results, strict=True):
            if value is not None:
                self._follow_key(plan, value, result.settled)
            for label in result.claimed:
                key = {plan.per: value} if plan.per and value is not None else {}
                self._fire_budget(plan, label, result.settled, charge.span, key, call)

    def _follow_key(self, plan: _Plan, value: str, settled: int) -> None:
        spent = self._key_spent[plan.index]
        spent[value] = settled
        if len(spent) > MAX_TRACKED_KEYS:
            with self._lock:
                ranked = sorted(spent.items(), key=lambda kv: kv[1], reverse=True)
                self._key_spent[plan.index] = dict(ranked[: MAX_TRACKED_KEYS // 2])

    # -- alerts ----------------------------------------------------------------------------

    def _fire_budget(
        self, plan: _Plan, label: str, settled: int, span: Span, key: dict, call: Call
    ) -> None:
        kind, fraction = plan.labels[label]
        self.dispatcher.fire(
            Alert(
                kind=kind,
                severity=CRITICAL if kind == BUDGET_EXCEEDED else WARNING,
                spent_usd=to_usd(settled),
                limit_usd=plan.budget.limit_usd,
                budget=plan.name,
                window=plan.window.label,
                window_start=span.window_start(),
                window_end=span.window_end(),
                threshold=fraction,
                key=key,
                attribution=call.attribution.values,
                model=call.request.model,
                trace_id=call.trace_id,
            )
        )

    def _request_cost(self, call: Call, amount: Decimal, limit: Decimal) -> None:
        """One alert per model and attribution (feature, team, endpoint) per UTC hour: a
        loop of expensive calls is one alert, not thousands."""
        span = _HOUR.span(time.time())
        attribution = call.attribution
        claim = "request_cost:" + ":".join(
            str(part) for part in (call.request.model, *attribution.metric_key, span.claim_id)
        )
        alert = Alert(
            kind=REQUEST_COST,
            severity=WARNING,
            spent_usd=amount,
            limit_usd=limit,
            window="hour",
            window_start=span.window_start(),
            window_end=span.window_end(),
            attribution=attribution.values,
            model=call.response.model or call.request.model,
            trace_id=call.trace_id,
        )
        if self.recorder is None:
            if self.store.claim(claim, span.claim_expire_at):
                self.dispatcher.fire(alert)
        else:
            self.recorder.submit(("claim", claim, span.claim_expire_at, alert))

    # -- gauges ----------------------------------------------------------------------------

    def read_spent(self) -> None:
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
        if self.recorder is None:
            self.read_spent()
        else:
            self.recorder.submit(("read",))  # for the next collection; never wait here
        now = time.time()
        spent = self._spent
        observations = []
        for plan in self.plans:
            value = spent.get(plan.index)
            current = value is not None and value[0] == plan.window.span(now).start
            micros = value[1] if current else 0  # type: ignore[index]
            attributes = self._plan_attributes[plan.index]
            observations.append(Observation(float(to_usd(micros)), attributes))
        return observations

    def _observe_limit(self, options: CallbackOptions) -> list[Observation]:
        return [
            Observation(float(p.budget.limit_usd), self._plan_attributes[p.index])
            for p in self.plans
        ]

    def _observe_remaining(self, options: CallbackOptions) -> list[Observation]:
        now = time.time()
        return [
            Observation(p.window.remaining(now), self._plan_attributes[p.index]) for p in self.plans
        ]

    def _observe_store_errors(self, options: CallbackOptions) -> list[Observation]:
        errors = getattr(self.store, "errors", 0)
        dropped = self.recorder.dropped if self.recorder is not None else 0
        return [Observation(errors + dropped)]

    # -- lifecycle -------------------------------------------------------------------------

    def flush(self, deadline: float) -> bool:
        return self.recorder.wait_idle(deadline) if self.recorder is not None else True

    def close(self, deadline: float) -> None:
        if self.recorder is not None:
            self.recorder.stop(deadline)
        try:
            self.store.close()
        except Exception as exc:
            _guard.report("budgets.close", exc)


class Recorder(BackgroundQueue):
    """Writes to a remote store off the request path: one daemon thread, a bounded queue,
    batches of up to ``BATCH`` records in one store operation. While the store is down the
    batch is retried every ``store.retry_after`` seconds and new records queue up (then are
    dropped, counted, once the queue is full)."""

    QUEUE_SIZE = 10_000
    BATCH = 256

    def __init__(self, tracker: BudgetTracker) -> None:
        super().__init__(
            size=self.QUEUE_SIZE,
            thread_name="tokentrail-budget-recorder",
            full_message=f"the budget recorder is {self.QUEUE_SIZE} writes behind; further "
            "spending is not counted until it catches up",
        )
        self.tracker = tracker
        self.store = tracker.store
        self._read_pending = False
        self._stopping = threading.Event()

    def submit(self, item: tuple) -> None:
        if item[0] == "read":
            if self._read_pending:
                return
            self._read_pending = True
        self.put(item)

    def _run(self) -> None:
        while True:
            batch = [self.queue.get()]
            while len(batch) < self.BATCH:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._process([item for item in batch if item is not None])
            except Exception as exc:
                _guard.report("budgets.recorder", exc)
            finally:
                for _ in batch:
                    self.queue.task_done()
            if None in batch:
                return

    def _process(self, batch: list[tuple]) -> None:
        records = [item for item in batch if item[0] == "record"]
        if records:
            charges = [charge for item in records for charge in item[2]]
            results = self._with_retry(lambda: self.store.record(charges))
            if results is not None:
                i = 0
                for _, matched, item_charges, call in records:
                    n = len(item_charges)
                    self.tracker.after_record(matched, item_charges, results[i : i + n], call)
                    i += n
        for item in batch:
            if item[0] == "claim":
                _, key, expire_at, alert = item
                if self._with_retry(lambda k=key, e=expire_at: self.store.claim(k, e)):
                    self.tracker.dispatcher.fire(alert)
            elif item[0] == "read":
                self._read_pending = False
                try:
                    self.tracker.read_spent()
                except BudgetStoreUnavailableError:
                    pass  # the gauges keep their last values

    def _with_retry(self, operation: Any) -> Any:
        """Run ``operation`` until the store answers (retrying every ``retry_after`` s);
        when closing, one attempt only."""
        while True:
            try:
                return operation()
            except BudgetStoreUnavailableError:
                retry_after = getattr(self.store, "retry_after", 1.0)
                if self._stopping.is_set() or self._stopping.wait(retry_after):
                    self.dropped += 1
                    return None

    def stop(self, deadline: float) -> None:
        """Write what is queued, one attempt each (no waiting on a store that is down), until
        ``deadline``; then end the thread."""
        if not self.started:
            return
        self._stopping.set()
        self.wait_idle(deadline)
        self.stop_thread(None)
