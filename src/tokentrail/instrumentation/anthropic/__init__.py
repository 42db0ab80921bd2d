"""OpenTelemetry instrumentation of the anthropic SDK: spans, token and cost metrics, budgets.

Usage::

    from tokentrail.instrumentation.anthropic import AnthropicInstrumentor
    AnthropicInstrumentor().instrument()        # or tokentrail.instrument() for every SDK

Zero-code: ``opentelemetry-instrument python app.py`` (entry point ``tokentrail_anthropic``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from .._base import Patch, TokenTrailInstrumentor
from .package import _instruments

__all__ = ["AnthropicInstrumentor"]


class AnthropicInstrumentor(TokenTrailInstrumentor):
    """Instruments ``anthropic`` (and the Bedrock and Vertex clients): ``messages.create``,
    ``parse`` and ``stream()`` and their ``beta.messages`` twins, sync and async, streamed or
    not, with one span per call whether or not the SDK's own tracing is on."""

    instruments: ClassVar[tuple[str, ...]] = _instruments

    def patches(self) -> Iterable[Patch]:
        from .patch import patches

        return patches()
