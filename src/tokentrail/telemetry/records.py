"""What a call asked for and what came back, as immutable plain data: an instrumentor describes
the request before it is sent and the response once it is over; the emitter and the budgets
read them. Nothing here touches OpenTelemetry.

Both are frozen: a budget action that changes a call (another model, a lower output cap)
makes a new ``Request`` with ``changed()``, so the caller's request, the one that was sent and
the span that reports them cannot drift apart. (Slotted classes rather than frozen
dataclasses: two are built per call, and a frozen dataclass costs several times as much;
see ``_Frozen`` for how they are built.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..usage import Usage

_set = object.__setattr__


class _Frozen:
    """Immutable after construction. A record is built as an instance of a mutable twin
    (``_Fields`` subclass with the same slots), filled with plain slot stores, and then given
    its frozen class: ten ``object.__setattr__`` calls cost twice as much as the stores and
    the one class change, and two records are built per call."""

    __slots__ = ()
    #: the record's fields (its slots)
    fields: tuple[str, ...] = ()

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable; use changed()")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def changed(self, **fields: Any) -> Any:
        """A copy with ``fields`` replaced."""
        copy = object.__new__(type(self))
        for name in self.fields:
            _set(copy, name, fields.pop(name) if name in fields else getattr(self, name))
        if fields:
            raise TypeError(f"{type(self).__name__} has no field(s) {sorted(fields)}")
        return copy

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={getattr(self, name)!r}"
            for name in self.fields
            if getattr(self, name) not in (None, (), False) and name != "prompt"
        )
        return f"{type(self).__name__}({shown})"


class _RequestFields:
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


class _RequestBuilder(_RequestFields):
    __slots__ = ()


class Request(_RequestFields, _Frozen):
    """What a call asks for, as known before it is sent."""

    __slots__ = ()
    fields = _RequestFields.__slots__
    operation: str
    provider: str
    model: str | None
    server_address: str | None
    server_port: int | None
    stream: bool
    max_tokens: int | None
    temperature: float | None
    #: extra span attributes (captured content), set only when asked for
    attributes: Mapping[str, Any] | None
    #: the request's content as the SDK got it (messages, input ...), never recorded:
    #: budgets estimate a call's worst case from it (``usage.estimate_tokens``)
    prompt: Any

    def __new__(
        cls,
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
    ) -> Request:
        self = object.__new__(_RequestBuilder)
        self.operation = operation
        self.provider = provider
        self.model = model
        self.server_address = server_address
        self.server_port = server_port
        self.stream = stream
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.attributes = attributes
        self.prompt = prompt
        _set(self, "__class__", Request)
        return self  # type: ignore[return-value]


class _ResponseFields:
    __slots__ = ("attributes", "finish_reasons", "id", "model", "price_context", "usage")


class _ResponseBuilder(_ResponseFields):
    __slots__ = ()


class Response(_ResponseFields, _Frozen):
    """What came back: usage and response metadata. Every field may be unknown."""

    __slots__ = ()
    fields = _ResponseFields.__slots__
    usage: Usage | None
    model: str | None
    id: str | None
    finish_reasons: tuple[str, ...] | None
    #: price variants, e.g. (("service_tier", "priority"),)
    price_context: tuple[tuple[str, str], ...]
    #: extra span attributes (captured content), set only when asked for
    attributes: Mapping[str, Any] | None

    def __new__(
        cls,
        usage: Usage | None = None,
        *,
        model: str | None = None,
        id: str | None = None,
        finish_reasons: tuple[str, ...] | None = None,
        price_context: tuple[tuple[str, str], ...] = (),
        attributes: Mapping[str, Any] | None = None,
    ) -> Response:
        self = object.__new__(_ResponseBuilder)
        self.usage = usage
        self.model = model
        self.id = id
        self.finish_reasons = finish_reasons
        self.price_context = price_context
        self.attributes = attributes
        _set(self, "__class__", Response)
        return self  # type: ignore[return-value]


EMPTY_RESPONSE = Response()
