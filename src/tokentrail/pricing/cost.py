"""The price of one call."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Literal

CostStatus = Literal["priced", "unpriced", "estimated"]

#: the usage was reported by the provider and the model has a price
PRICED: Final = "priced"
#: no price is known for the model, or the call reported no usage: never counted as $0
UNPRICED: Final = "unpriced"
#: priced, but from estimated usage (a stream that ended before its usage arrived)
ESTIMATED: Final = "estimated"


@dataclass(frozen=True, slots=True, init=False)
class Cost:
    """What a call cost. ``amount_usd`` is ``None`` exactly when ``status == "unpriced"``."""

    amount_usd: Decimal | None
    status: CostStatus
    #: where the price came from: ``"genai-prices <version>"`` or ``"override"``
    source: str | None = None

    def __new__(
        cls,
        amount_usd: Decimal | None = None,
        status: CostStatus = UNPRICED,
        source: str | None = None,
    ) -> Cost:
        # one per call: built like ``Usage`` (its mutable twin, then its class); the defaults
        # (unpriced) are what copy and pickle rebuild from
        self = object.__new__(_CostBuilder)
        self.amount_usd = amount_usd
        self.status = status
        self.source = source
        _set(self, "__class__", cls)
        return self  # type: ignore[return-value]


class _CostBuilder:
    __slots__ = Cost.__slots__  # type: ignore[misc]
    amount_usd: Decimal | None
    status: CostStatus
    source: str | None


_set = object.__setattr__


UNPRICED_COST: Final = Cost(None, UNPRICED, None)
#: a call that failed before it reported any usage: the provider bills nothing for it
NOT_BILLED: Final = Cost(Decimal(0), PRICED, None)
