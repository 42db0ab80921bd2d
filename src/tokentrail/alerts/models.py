"""The ``Alert`` every sink receives."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Final, Literal

AlertKind = Literal["request_cost", "budget_warning", "budget_exceeded", "budget_action"]
Severity = Literal["warning", "critical"]

REQUEST_COST: Final = "request_cost"
BUDGET_WARNING: Final = "budget_warning"
BUDGET_EXCEEDED: Final = "budget_exceeded"
BUDGET_ACTION: Final = "budget_action"
WARNING: Final = "warning"
CRITICAL: Final = "critical"

_EMPTY: Mapping[str, str] = MappingProxyType({})


def _now() -> datetime:
    return datetime.now(tz=timezone.utc)


@dataclass(frozen=True)
class Alert:
    """Something about spending that someone should know.

    * ``request_cost`` (``warning``): one call cost ``spent_usd``, more than
      ``limit_usd`` (``max_request_cost_usd``);
    * ``budget_warning`` (``warning``): the budget's window reached ``threshold`` (a fraction,
      e.g. ``0.8``) of its limit;
    * ``budget_exceeded`` (``critical``): the window's spending reached the limit, or a
      blocking budget refused a call;
    * ``budget_action`` (``warning``): a ``downgrade`` or ``clamp`` budget reached its ``at``
      fraction (``threshold``) and started changing calls; ``action`` says how.

    ``key`` is the ``per=`` value for per-key budgets (``{"user_id": "u-42"}``);
    ``attribution`` is the attribution of the call that triggered the alert.
    """

    kind: AlertKind
    severity: Severity
    spent_usd: Decimal
    limit_usd: Decimal
    budget: str | None = None
    window: str | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    threshold: Decimal | None = None
    key: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    attribution: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    model: str | None = None
    trace_id: str | None = None
    timestamp: datetime = field(default_factory=_now)
    #: ``budget_action``: what the budget now does to calls, e.g. "downgrade gpt-4o to gpt-4o-mini"
    action: str | None = None

    @property
    def message(self) -> str:
        """One line for humans: what happened, with the figures."""
        scope = "".join(f" {k}={v}" for k, v in self.key.items())
        if self.kind == REQUEST_COST:
            what = f" ({self.model})" if self.model else ""
            where = _describe(self.attribution)
            return (
                f"A single LLM call{what}{where} cost ${_usd(self.spent_usd)}, over the "
                f"per-request threshold of ${_usd(self.limit_usd)}"
            )
        percent = self.spent_usd / self.limit_usd * 100 if self.limit_usd else Decimal(0)
        if self.kind == BUDGET_ACTION:
            return (
                f"Budget {self.budget!r}{scope} reached {self.threshold:.0%} of its limit "
                f"(${_usd(self.spent_usd)} of ${_usd(self.limit_usd)} this {self.window} "
                f"window) and now acts on calls: {self.action}"
            )
        if self.kind == BUDGET_WARNING:
            return (
                f"Budget {self.budget!r}{scope} reached {self.threshold:.0%} of its limit: "
                f"${_usd(self.spent_usd)} of ${_usd(self.limit_usd)} ({percent:.0f}%) "
                f"spent this {self.window} window"
            )
        if self.spent_usd < self.limit_usd:  # a blocking budget refused a call
            return (
                f"Budget {self.budget!r}{scope} is refusing calls: ${_usd(self.spent_usd)} of "
                f"${_usd(self.limit_usd)} ({percent:.0f}%) spent this {self.window} window, "
                f"no room left for a call's worst-case cost"
            )
        return (
            f"Budget {self.budget!r}{scope} exhausted: ${_usd(self.spent_usd)} of "
            f"${_usd(self.limit_usd)} ({percent:.0f}%) spent this {self.window} window"
        )

    @property
    def dedup_key(self) -> str:
        """Identifies this alert's occurrence: one per budget (and key), kind and window; for
        ``request_cost``, per model and hour. Retried deliveries repeat it."""
        parts = ["tokentrail", self.kind, self.budget or self.model or "-"]
        parts += [f"{k}={v}" for k, v in self.key.items()]
        if self.window_start is not None:
            parts.append(self.window_start.strftime("%Y-%m-%dT%H:%M:%SZ"))
        return "/".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: amounts as decimal strings (exact), times in ISO 8601."""
        return {
            "kind": self.kind,
            "severity": self.severity,
            "message": self.message,
            "budget": self.budget,
            "spent_usd": str(self.spent_usd),
            "limit_usd": str(self.limit_usd),
            "threshold": None if self.threshold is None else str(self.threshold),
            "window": self.window,
            "window_start": _iso(self.window_start),
            "window_end": _iso(self.window_end),
            "key": dict(self.key),
            "attribution": dict(self.attribution),
            "model": self.model,
            "trace_id": self.trace_id,
            "timestamp": _iso(self.timestamp),
            "dedup_key": self.dedup_key,
            "action": self.action,
        }


def _usd(amount: Decimal) -> str:
    """Cents for amounts of a dollar or more, six decimals below."""
    places = Decimal("0.01") if abs(amount) >= 1 else Decimal("0.000001")
    return f"{amount.quantize(places).normalize():f}" if amount else "0"


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def _describe(attribution: Mapping[str, str]) -> str:
    shown = [f"{k}={attribution[k]}" for k in ("feature", "team", "endpoint") if k in attribution]
    return f" [{', '.join(shown)}]" if shown else ""
