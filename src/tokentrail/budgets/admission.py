"""What the budgets decide before a call is sent, handed back to the caller of
``BudgetTracker.admit`` and carried by the call until it ends (``Call.admission``): the worst
case it holds in its blocking budgets, or why it is refused."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..exceptions import TokenTrailError
from ..telemetry.records import Request
from .actions import Acted
from .models import Span
from .plans import Plan
from .stores import Charge


class Reservation:
    """What an admitted call holds: plan index -> the charge that reserved its worst case
    (``amount`` nano-USD in each)."""

    __slots__ = ("amount", "charges")

    def __init__(self, amount: int, charges: dict[int, Charge]) -> None:
        self.amount = amount
        self.charges = charges


class Refused:
    """A blocking budget that refused a call: the figures of its ``budget_exceeded`` alert,
    which fires (once per window, if this refusal claimed it) when the refused call ends."""

    __slots__ = ("claimed", "key", "plan", "settled", "span")

    def __init__(
        self, plan: Plan, settled: int, span: Span, key: Mapping[str, str], claimed: bool
    ) -> None:
        self.plan = plan
        self.settled = settled
        self.span = span
        self.key = key
        self.claimed = claimed


class Admission:
    """The budgets' decision about one call. ``refusal`` is the error to raise instead of
    sending it (``BudgetExceededError``, or ``BudgetStoreUnavailableError`` when a store that
    fails closed cannot be reached); otherwise ``request`` is what to send when a budget's
    action changed it (``acted`` says how), and ``reservation`` what it holds, if anything.
    ``span_attributes`` say on the call's span what the budgets did."""

    __slots__ = ("acted", "refusal", "refused", "request", "reservation", "span_attributes")

    def __init__(
        self,
        *,
        reservation: Reservation | None = None,
        refusal: TokenTrailError | None = None,
        refused: Refused | None = None,
        acted: Acted | None = None,
    ) -> None:
        self.reservation = reservation
        self.refusal = refusal
        self.refused = refused
        self.acted = acted
        self.request: Request | None = acted.target if acted is not None else None
        self.span_attributes: Mapping[str, Any] | None = (
            acted.span_attributes() if acted is not None else None
        )

    def unchanged(self) -> Admission:
        """This decision without its action (the action could not be applied to the call)."""
        return Admission(reservation=self.reservation, refusal=self.refusal, refused=self.refused)
