"""The report's analyses: each turns what the sources returned into one section's figures."""

from __future__ import annotations

#: shown for an empty label value (a call made outside ``tokentrail.attribute(...)``)
UNATTRIBUTED = ""


def ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None
