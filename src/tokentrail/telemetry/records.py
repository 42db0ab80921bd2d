"""What a call asked for and what came back, as plain data: the extractors fill these and the
emitter reads them. Nothing here touches OpenTelemetry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..usage import Usage

__all__ = ["EMPTY_RESPONSE", "Request", "Response"]


class Request:
    """What a call asks for, as known before it is sent."""

    __slots__ = (
        "attributes",
        "max_tokens",
        "model",
        "operation",
        "prompt",
        "provider",
        "server_address",
        "server_port",
        "stream",
        "temperature",
    )

    def __init__(
        self,
        operation: str,
        provider: str,
        model: str | None,
        *,
        server_address: str | None = None,
        server_port: int | None = None,
        stream: bool = False,
        max_tokens: int | None = None,
        temperature: float | None = None,
        attributes: Mapping[str, Any] | None = None,
        prompt: Any = None,
    ) -> None:
        self.operation = operation
        self.provider = provider
        self.model = model
        self.server_address = server_address
        self.server_port = server_port
        self.stream = stream
        self.max_tokens = max_tokens
        self.temperature = temperature
        #: extra span attributes (captured content), set only when asked for
        self.attributes = attributes
        #: the request's content as the SDK got it (messages, input ...), never recorded:
        #: budgets estimate a call's worst case from it (``usage.estimate_tokens``)
        self.prompt = prompt


class Response:
    """What came back: usage and response metadata. Every field may be unknown."""

    __slots__ = ("attributes", "finish_reasons", "id", "model", "price_context", "usage")

    def __init__(
        self,
        usage: Usage | None = None,
        *,
        model: str | None = None,
        id: str | None = None,
        finish_reasons: tuple[str, ...] | None = None,
        price_context: tuple[tuple[str, str], ...] = (),
        attributes: Mapping[str, Any] | None = None,
    ) -> None:
        self.usage = usage
        self.model = model
        self.id = id
        self.finish_reasons = finish_reasons
        #: price variants, e.g. (("service_tier", "priority"),)
        self.price_context = price_context
        self.attributes = attributes


EMPTY_RESPONSE = Response()
