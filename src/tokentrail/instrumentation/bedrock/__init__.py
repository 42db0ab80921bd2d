"""OpenTelemetry instrumentation of boto3's ``bedrock-runtime`` client: spans, token and cost
metrics, budgets.

Usage::

    from tokentrail.instrumentation.bedrock import BedrockInstrumentor
    BedrockInstrumentor().instrument()          # or tokentrail.instrument() for every SDK

Zero-code: ``opentelemetry-instrument python app.py`` (entry point ``tokentrail_bedrock``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from .._base import Patch, TokenTrailInstrumentor
from .package import _instruments

__all__ = ["BedrockInstrumentor"]


class BedrockInstrumentor(TokenTrailInstrumentor):
    """Instruments boto3's ``bedrock-runtime`` client: ``converse``, ``converse_stream``,
    ``invoke_model`` and ``invoke_model_with_response_stream``, for every model family. boto3
    is synchronous only (aiobotocore is another package, not instrumented)."""

    instruments: ClassVar[tuple[str, ...]] = _instruments

    def patches(self) -> Iterable[Patch]:
        from .patch import patches

        return patches()
