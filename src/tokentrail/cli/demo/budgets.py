"""The demo's budgets and alerts: what a platform team would configure."""

from __future__ import annotations

import threading
from decimal import Decimal

from ...alerts import Alert, CallbackSink
from ...budgets import Budget

#: one call costing more than this raises a request_cost alert
MAX_REQUEST_COST_USD = Decimal("0.04")


def budgets() -> list[Budget]:
    return [
        # the legal team's Opus calls are expensive: refuse them once the day's budget is used
        Budget("legal-daily", "0.40", "day", match={"team": "legal"}, action="block",
               warn_at=(0.5, 0.8)),
        Budget("cx-daily", "0.02", "day", match={"team": "cx"}, warn_at=(0.5, 0.8)),
        # past 80 % of its day, the support bot answers with the cheaper model
        Budget("support-bot-daily", "0.012", "day", match={"feature": "support-bot"},
               action="downgrade", downgrade={"gpt-4o": "gpt-4o-mini"}, at=0.8),
        Budget("per-user-hourly", "0.02", "hour", per="user_id"),
        Budget("company-monthly", "500", "month"),
    ]  # fmt: skip


class AlertLog:
    """Collects the alerts the demo fires, to show them after the table."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []
        self._lock = threading.Lock()

    def __call__(self, alert: Alert) -> None:
        with self._lock:
            self.alerts.append(alert)

    def sinks(self) -> list:
        return [CallbackSink(self)]

    def lines(self) -> list[str]:
        with self._lock:
            return [f"[{a.severity}] {a.kind}: {a.message}" for a in self.alerts]

    def summary(self) -> list[dict[str, str | None]]:
        with self._lock:
            return [
                {"kind": a.kind, "severity": a.severity, "budget": a.budget, "message": a.message}
                for a in self.alerts
            ]
