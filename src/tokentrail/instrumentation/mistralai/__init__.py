"""OpenTelemetry instrumentation of the mistralai SDK: spans, token and cost metrics, budgets.

Usage::

    from tokentrail.instrumentation.mistralai import MistralInstrumentor
    MistralInstrumentor().instrument()          # or tokentrail.instrument() for every SDK

Zero-code: ``opentelemetry-instrument python app.py`` (entry point ``tokentrail_mistralai``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from .._base import Patch, TokenTrailInstrumentor
from .package import _instruments

__all__ = ["MistralInstrumentor"]


class MistralInstrumentor(TokenTrailInstrumentor):
    """Instruments ``mistralai`` (1.x, 2.x and 3.x): chat completions, fill-in-the-middle
    completions and embeddings, sync and async, streamed or not."""

    instruments: ClassVar[tuple[str, ...]] = _instruments

    def patches(self) -> Iterable[Patch]:
        from .patch import patches

        return patches()
