"""OpenTelemetry instrumentation of the google-genai SDK (Gemini API and Vertex AI): spans,
token and cost metrics, budgets.

Usage::

    from tokentrail.instrumentation.google_genai import GoogleGenAIInstrumentor
    GoogleGenAIInstrumentor().instrument()      # or tokentrail.instrument() for every SDK

Zero-code: ``opentelemetry-instrument python app.py`` (entry point ``tokentrail_google_genai``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from .._base import Patch, TokenTrailInstrumentor
from .package import _instruments

__all__ = ["GoogleGenAIInstrumentor"]


class GoogleGenAIInstrumentor(TokenTrailInstrumentor):
    """Instruments ``google-genai`` clients (``gcp.gemini`` with an API key, ``gcp.vertex_ai``
    with ``vertexai=True``): ``generate_content`` and ``generate_content_stream`` (and so
    chats), ``embed_content``, sync and async; every model request that automatic function
    calling or continuation sends is billed on its own."""

    instruments: ClassVar[tuple[str, ...]] = _instruments

    def patches(self) -> Iterable[Patch]:
        from .patch import patches

        return patches()
