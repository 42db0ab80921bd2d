"""OpenTelemetry instrumentation of LiteLLM: spans, token and cost metrics, budgets, for every
provider LiteLLM reaches.

Usage::

    from tokentrail.instrumentation.litellm import LiteLLMInstrumentor
    LiteLLMInstrumentor().instrument()          # or tokentrail.instrument() for every SDK

Zero-code: ``opentelemetry-instrument python app.py`` (entry point ``tokentrail_litellm``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from .._base import Patch, TokenTrailInstrumentor
from .package import _instruments

__all__ = ["LiteLLMInstrumentor"]


class LiteLLMInstrumentor(TokenTrailInstrumentor):
    """Instruments ``litellm``: ``completion`` and ``acompletion`` (plain and streamed),
    ``embedding`` and ``aembedding``, and through them the ``Router``; one usage span per
    billable call, also where LiteLLM goes through the openai SDK."""

    instruments: ClassVar[tuple[str, ...]] = _instruments

    def patches(self) -> Iterable[Patch]:
        from .patch import patches

        return patches()
