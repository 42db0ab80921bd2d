"""Budgets at work: admission before a call, recording after it, and the alerts they fire.

* **Admission** (``admit``, before the SDK sends anything): for the call's matching
  ``action="block"`` budgets, reserve its worst-case cost (the prompt's estimated tokens at the
  input price plus ``max_tokens`` — ``DEFAULT_MAX_OUTPUT_TOKENS`` when the request sets none —
  at the output price) in one atomic store operation over all of them. The decision is handed
  back as an ``Admission``, which the call carries until it ends: what it holds, or the error
  that refuses it. Concurrent callers each hold their worst case, so together they overspend by
  at most what one call's estimate missed. A model without a price cannot be reserved: the call
  goes through, with a warning once per model.
* **Recording** (``on_call_end``, an emitter listener, after the call is priced): settle each
  reservation to the actual cost (a failed call that was not billed releases it; one that may
  have been keeps its estimate) and add the cost to the alert-only budgets, in exact nano-USD
  (``money``). The memory store records inline (a lock and a few dict updates); other stores
  record on a background ``Recorder`` thread, batched, one round trip per batch.
* **Actions** (``actions``): before the reservation, a ``downgrade`` or ``clamp`` budget past
  its ``at`` fraction changes the request (a cheaper model, a capped output); the reservation
  is then that of the changed call.
* **Alerts**: a store claims each threshold once per window when it records, so alerts fire
  once per budget (and key), threshold and window, across processes with Redis; an action's
  ``budget_action`` alert fires once per budget (and key) and window.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from decimal import Decimal

from opentelemetry.metrics import Meter

from .. import _guard
from .. import names as sc
from ..alerts.delivery import AlertDispatcher
from ..alerts.models import BUDGET_ACTION, BUDGET_EXCEEDED, CRITICAL, REQUEST_COST, WARNING, Alert
from ..attribution import Attribution
from ..exceptions import BudgetExceededError, BudgetStoreUnavailableError
from ..pricing import PriceBook
from ..telemetry.emitter import Call
from ..telemetry.records import Request
from ..usage import Usage, estimate_tokens
from .actions import Acted, Actions, SpendView
from .admission import Admission, Refused, Reservation
from .gauges import BudgetGauges
from .models import Budget, CalendarWindow, Span
from .money import Carry, to_nanos_ceil, to_usd
from .plans import Match, Plan, matching
from .recorder import Recorder
from .stores import EXCEEDED, BudgetStore, Charge, Recorded

logger = logging.getLogger("tokentrail")

#: the output a reservation assumes when a request does not set ``max_tokens``
DEFAULT_MAX_OUTPUT_TOKENS = 4096
_HOUR = CalendarWindow("hour")
_CLOSE = _guard.site("budgets.close", "tokentrail.budgets.stores.memory:MemoryBudgetStore.close")


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
        self.plans = tuple(Plan(b, i) for i, b in enumerate(budgets))
        self.blocking_plans = tuple(p for p in self.plans if p.budget.blocking)
        self.action_plans = tuple(
            p for p in self.plans if p.budget.action in ("downgrade", "clamp")
        )
        self.store = store
        self.price_book = price_book
        self.dispatcher = dispatcher
        self.max_request_cost_usd = max_request_cost_usd
        self._unpriced_warned: set[tuple[str, str | None]] = set()
        self._carry = Carry()
        self.recorder: Recorder | None = None
        if not store.inline:
            self.recorder = Recorder(
                store, recorded=self.after_record, claimed=dispatcher.fire, read=self._read
            )
        self.view = SpendView(store, None if self.recorder is None else self._refresh_slot)
        self.actions = Actions(self.action_plans, self.view, price_book)
        self.gauges = BudgetGauges(
            self.plans,
            store,
            meter,
            refresh=None if self.recorder is None else self._request_read,
            dropped=lambda: self.recorder.dropped if self.recorder is not None else 0,
        )

    # -- before the call -------------------------------------------------------------------

    @property
    def admits(self) -> bool:
        """Whether any budget decides before calls (blocks or acts)."""
        return bool(self.blocking_plans or self.action_plans)

    def admit(self, request: Request, attribution: Attribution) -> Admission | None:
        """Apply the budgets' actions to the call, then reserve its worst case in its blocking
        budgets, or refuse it. None: the budgets have nothing to say about this call."""
        values = attribution.values
        acted = None
        if self.action_plans:
            acting = matching(self.action_plans, values)
            if acting:
                acted = self.actions.decide(request, acting)
                if acted is not None:
                    request = acted.target
        matched = matching(self.blocking_plans, values) if self.blocking_plans else []
        amount = self.worst_case(request) if matched else None
        if amount is None:
            return Admission(acted=acted) if acted is not None else None
        now = time.time()
        charges = [
            Charge(slot, plan.window.span(now), 0, amount, plan.limit) for plan, slot, _ in matched
        ]
        try:
            refusal = self.store.reserve(charges)
        except BudgetStoreUnavailableError as error:
            if self.store.fail_open:
                return Admission(acted=acted) if acted is not None else None
            return Admission(refusal=error)
        if refusal is None:
            held = {m[0].index: charge for m, charge in zip(matched, charges, strict=True)}
            return Admission(reservation=Reservation(amount, held), acted=acted)
        plan, _, value = matched[refusal.index]
        key = plan.key_of(value)
        error = BudgetExceededError(
            plan.name,
            to_usd(refusal.settled),
            plan.budget.limit_usd,
            reserved_usd=to_usd(amount),
            key=key,
        )
        refused = Refused(plan, refusal.settled, charges[refusal.index].span, key, refusal.claimed)
        return Admission(refusal=error, refused=refused)

    def worst_case(self, request: Request) -> int | None:
        """The most the call can cost, in nano-USD; None when its model has no price."""
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
        return to_nanos_ceil(cost.amount_usd)

    # -- after the call --------------------------------------------------------------------

    def on_call_end(self, call: Call) -> None:
        """Emitter listener: settle the reservation, count the cost, fire alerts."""
        amount = call.cost.amount_usd
        admission = call.admission
        reservation = None
        if admission is not None:
            if admission.refused is not None:
                self._refused(admission.refused, call)
            elif admission.acted is not None:
                self._acted(admission.acted, call)
            reservation = admission.reservation
        limit = self.max_request_cost_usd
        if limit is not None and amount is not None and amount > limit:
            self._request_cost(call, amount, limit)
        if reservation is None and not amount:
            return  # unpriced, free, or refused before it was sent
        matched = matching(self.plans, call.attribution.values)
        if not matched:
            return
        now = time.time()
        charges = []
        carry = self._carry
        for plan, slot, _ in matched:
            # a call that ran but could not be priced keeps its worst case
            settled = carry.take(slot, amount) if amount is not None else reservation.amount  # type: ignore[union-attr]
            held = reservation.charges.get(plan.index) if reservation is not None else None
            if held is None:
                charges.append(Charge(slot, plan.window.span(now), settled, 0, 0, plan.thresholds))
            else:
                charges.append(Charge(slot, held.span, settled, -held.held, 0, plan.thresholds))
        if self.recorder is None:
            self.after_record(matched, charges, self.store.record(charges), call)
        else:
            self.recorder.submit(("record", matched, charges, call))

    def after_record(
        self, matched: list[Match], charges: list[Charge], results: list[Recorded], call: Call
    ) -> None:
        for (plan, slot, value), charge, result in zip(matched, charges, results, strict=True):
            if value is not None:
                self.gauges.follow_key(plan, value, result.settled)
            if plan.budget.action in ("downgrade", "clamp"):
                self.view.learnt(slot, charge.span, result.settled)
            key = plan.key_of(value)
            for label in result.claimed:
                self._fire_budget(plan, label, result.settled, charge.span, key, call)

    # -- alerts ----------------------------------------------------------------------------

    def _refused(self, refused: Refused, call: Call) -> None:
        if refused.claimed:
            self._fire_budget(
                refused.plan, EXCEEDED, refused.settled, refused.span, refused.key, call
            )

    def _acted(self, acted: Acted, call: Call) -> None:
        """A ``budget_action`` alert, the first time a budget acts in a window."""
        plan, span = acted.plan, acted.span
        claim = f"{plan.slot_for_key(acted.key)}:{BUDGET_ACTION}:{span.claim_id}"
        alert = Alert(
            kind=BUDGET_ACTION,
            severity=WARNING,
            spent_usd=to_usd(acted.spent),
            limit_usd=plan.budget.limit_usd,
            budget=plan.name,
            window=plan.window.label,
            window_start=span.window_start(),
            window_end=span.window_end(),
            threshold=plan.budget.at,
            key=acted.key,
            attribution=call.attribution.values,
            model=acted.original_model,
            trace_id=call.trace_id,
            action=acted.describe(),
        )
        if self.recorder is None:
            if self.store.claim(claim, span.claim_expire_at):
                self.dispatcher.fire(alert)
        else:
            self.recorder.submit(("claim", claim, span.claim_expire_at, alert))

    def _fire_budget(
        self, plan: Plan, label: str, settled: int, span: Span, key: dict, call: Call
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

    def _read(self) -> None:
        self.gauges.read()

    def _request_read(self) -> None:
        self.recorder.submit(("read",))  # type: ignore[union-attr]

    def _refresh_slot(self, slot: str, span: Span) -> None:
        """Read an acting budget's spending in the background (a remote store)."""

        def read() -> None:
            ((settled, _),) = self.store.read([(slot, span)])
            self.view.learnt(slot, span, settled)

        self.recorder.submit(("task", read))  # type: ignore[union-attr]

    # -- lifecycle -------------------------------------------------------------------------

    def flush(self, deadline: float) -> bool:
        return self.recorder.wait_idle(deadline) if self.recorder is not None else True

    def close(self, deadline: float) -> None:
        if self.recorder is not None:
            self.recorder.stop(deadline)
        try:
            self.store.close()
        except Exception as exc:
            _guard.report(_CLOSE, exc)
