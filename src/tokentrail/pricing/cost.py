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


@dataclass(frozen=True, slots=True)
class Cost:
    """What a call cost. ``amount_usd`` is ``None`` exactly when ``status == "unpriced"``."""

    amount_usd: Decimal | None
    status: CostStatus
    #: where the price came from: ``"genai-prices <version>"`` or ``"override"``
    source: str | None = None


UNPRICED_COST: Final = Cost(None, UNPRICED, None)
#: a call that failed before it reported any usage: the provider bills nothing for it
NOT_BILLED: Final = Cost(Decimal(0), PRICED, None)
