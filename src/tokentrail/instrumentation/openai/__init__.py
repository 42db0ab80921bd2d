"""OpenTelemetry instrumentation of the openai SDK: spans, token and cost metrics, budgets.

Usage::

    from tokentrail.instrumentation.openai import OpenAIInstrumentor
    OpenAIInstrumentor().instrument()           # or tokentrail.instrument() for every SDK

Zero-code: ``opentelemetry-instrument python app.py`` (entry point ``tokentrail_openai``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from .._base import Patch, TokenTrailInstrumentor
from .package import _instruments

__all__ = ["OpenAIInstrumentor"]


class OpenAIInstrumentor(TokenTrailInstrumentor):
    """Instruments ``openai`` (and ``AzureOpenAI``): chat completions, responses, embeddings
    and legacy completions, sync and async, streamed or not."""

    instruments: ClassVar[tuple[str, ...]] = _instruments

    def patches(self) -> Iterable[Patch]:
        from .patch import patches

        return patches()
