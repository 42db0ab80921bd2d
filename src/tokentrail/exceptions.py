"""The errors tokentrail raises on purpose. Everything else it catches (see ``_guard``)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType


class TokenTrailError(Exception):
    """Base of every error tokentrail raises on purpose."""


class ConfigurationError(TokenTrailError, ValueError):
    """A setting, prices file or budgets file is wrong. Raised at ``instrument()``, never later."""


class BudgetExceededError(TokenTrailError):
    """A blocking budget refused a call before it was sent.

    ``spent_usd`` is the window's settled spend (without the refused reservation),
    ``limit_usd`` the budget's limit, ``reserved_usd`` the worst-case cost the call asked for.
    """

    def __init__(
        self,
        budget: str,
        spent_usd: Decimal,
        limit_usd: Decimal,
        *,
        reserved_usd: Decimal | None = None,
        key: Mapping[str, str] | None = None,
    ) -> None:
        self.budget = budget
        self.spent_usd = spent_usd
        self.limit_usd = limit_usd
        self.reserved_usd = reserved_usd
        self.key: Mapping[str, str] = MappingProxyType(dict(key or {}))
        scope = "".join(f" {k}={v}" for k, v in self.key.items())
        ask = f", this call may cost up to ${reserved_usd}" if reserved_usd is not None else ""
        super().__init__(
            f"budget {budget!r}{scope} would be exceeded: ${spent_usd} of ${limit_usd} spent{ask}"
        )

    def __reduce__(self):  # keep it picklable across process pools
        return (
            _rebuild_budget_error,
            (self.budget, self.spent_usd, self.limit_usd, self.reserved_usd, dict(self.key)),
        )


def _rebuild_budget_error(budget, spent, limit, reserved, key):  # pragma: no cover - pickle glue
    return BudgetExceededError(budget, spent, limit, reserved_usd=reserved, key=key)


class BudgetStoreUnavailableError(TokenTrailError):
    """The budget store could not be reached and the budget fails closed (``fail_open=False``)."""
