"""Reading SDK objects and call arguments, the same way for every provider.

The SDKs' response objects are pydantic models. Reading a field that a model does not declare
(a field an older SDK lacks, or ``iterations`` on a non-beta usage) through ``getattr`` costs
microseconds (pydantic's ``__getattr__`` raises); reading ``__dict__`` costs nanoseconds. Call
arguments may be the SDKs' ``NOT_GIVEN``/``omit`` sentinels: those are "not given".
"""

from __future__ import annotations

import enum
import weakref
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from ..usage import MAX_TOKENS, UNREADABLE


def field(obj: Any, name: str) -> Any:
    """``obj.name`` of an SDK model (``obj[name]`` of decoded JSON); None when absent.

    Declared fields live in the model's ``__dict__``; anthropic 0.x keeps some (the cache
    counts) in pydantic's extras. Objects that are not pydantic models are read with
    ``getattr``."""
    if obj is None:
        return None
    if obj.__class__ is dict:
        return obj.get(name)
    fields = getattr(obj, "__dict__", None)
    if fields is None:
        return getattr(obj, name, None)
    value = fields.get(name)
    if value is None and name not in fields:
        extra = getattr(obj, "__pydantic_extra__", None)
        if extra:
            value = extra.get(name)
        elif not hasattr(obj.__class__, "model_fields"):
            value = getattr(obj, name, None)  # a plain object: a property or class attribute
    return value


class _Attributes:
    """``fields_of`` for an object that is not a pydantic model: ``get`` is ``getattr``."""

    __slots__ = ("_obj",)

    def __init__(self, obj: Any) -> None:
        self._obj = obj

    def get(self, name: str) -> Any:
        return getattr(self._obj, name, None)


_NO_FIELDS: Mapping[str, Any] = MappingProxyType({})
_NOT_A_MODEL = object()


def fields_of(obj: Any) -> Mapping[str, Any] | _Attributes:
    """What ``field`` reads, for reading several fields of one object: ``.get(name)`` gives
    ``field(obj, name)``. A pydantic model's ``__dict__`` itself when it has no extras (the
    usual case: no copy), else its extras overlaid with its declared fields."""
    if obj is None:
        return _NO_FIELDS
    if obj.__class__ is dict:
        return obj
    extra = getattr(obj, "__pydantic_extra__", _NOT_A_MODEL)
    if extra is _NOT_A_MODEL:
        return _Attributes(obj)
    fields = obj.__dict__
    return {**extra, **fields} if extra else fields


#: enum member -> its value: ``member.value`` is a Python-level descriptor (~0.3 µs), a dict
#: lookup is not. Keys compare as their mixed-in type (a str enum as its text), and members
#: equal as such have equal values, so one member may stand for another.
_ENUM_VALUES: dict[Any, Any] = {}


def enum_value(value: Any) -> Any:
    """The value of an SDK enum member (``FinishReason.STOP`` -> ``"STOP"``); anything else
    as it is."""
    if value.__class__ is str or value is None:
        return value
    try:
        return _ENUM_VALUES[value]
    except (KeyError, TypeError):  # TypeError: an unhashable value, not a member
        pass
    if not isinstance(value, enum.Enum):
        return value
    resolved = value.value
    if len(_ENUM_VALUES) < 4096:  # an SDK has a few hundred members at most
        _ENUM_VALUES[value] = resolved
    return resolved


def is_mapping(value: Any) -> bool:
    """``isinstance(value, Mapping)``, without the ABC check for the usual ``dict``."""
    return value.__class__ is dict or isinstance(value, Mapping)


def int_field(obj: Any, name: str) -> int:
    """A count field of a usage record (``count``); 0 when the record is absent, ``UNREADABLE``
    when it is not a record."""
    if obj is not None and not is_record(obj):
        return UNREADABLE
    return count(field(obj, name))


def count(value: Any) -> int:
    """A token count: the value if it is an int from 0 to ``MAX_TOKENS``, 0 when absent
    (None: the provider did not report that part), else ``UNREADABLE`` (a wrong type, a
    negative or absurd number), which makes the whole usage unreadable (``usage.readable``)."""
    if value.__class__ is int:
        return value if 0 <= value <= MAX_TOKENS else UNREADABLE
    return 0 if value is None else UNREADABLE


def is_record(obj: Any) -> bool:
    """Whether ``obj`` can hold fields: an SDK model, a plain object or decoded JSON (a
    usage that is a string, a number or a list is not)."""
    return obj.__class__ is dict or hasattr(obj, "__dict__")


def given_int(value: Any) -> int | None:
    """An int argument, or None for absent/None/NOT_GIVEN/omit."""
    return value if isinstance(value, int) and value.__class__ is not bool else None


def first_given_int(kwargs: Mapping[str, Any], names: Iterable[str]) -> int | None:
    """The first of the arguments ``names`` given as an int (an output cap that an SDK takes
    under several names)."""
    for name in names:
        value = given_int(kwargs.get(name))
        if value is not None:
            return value
    return None


def given_float(value: Any) -> float | None:
    if isinstance(value, (int, float)) and value.__class__ is not bool:
        return float(value)
    return None


def given_str(value: Any) -> str | None:
    return value if value.__class__ is str and value else None


class ClientCache:
    """What was read from an SDK client (its endpoint), kept while the client stays the same
    and so does ``version`` (e.g. its base URL object, compared by identity). Clients are held
    weakly; a lookup is a dict access, where reading the client can cost microseconds (openai
    3's ``base_url`` is a computed property)."""

    __slots__ = ("_entries",)
    _MAX_ENTRIES = 512

    def __init__(self) -> None:
        self._entries: dict[int, tuple[weakref.ref, Any, Any]] = {}

    def get(self, client: Any, version: Any) -> Any:
        entry = self._entries.get(id(client))
        if entry is not None and entry[0]() is client and entry[1] is version:
            return entry[2]
        return None

    def put(self, client: Any, version: Any, value: Any) -> Any:
        try:
            ref = weakref.ref(client)
        except TypeError:  # not weakly referenceable: read it every time
            return value
        if len(self._entries) >= self._MAX_ENTRIES:
            self._entries.clear()
        self._entries[id(client)] = (ref, version, value)
        return value


class Endpoint:
    """Who serves a client's requests: ``gen_ai.provider.name``, ``server.address`` and
    ``server.port``, and (openai) whether the host accepts ``stream_options.include_usage``."""

    __slots__ = ("accepts_stream_usage", "address", "port", "provider")

    def __init__(
        self, provider: str, address: str | None, port: int | None, accepts_stream_usage=False
    ) -> None:
        self.provider = provider
        self.address = address
        self.port = port
        self.accepts_stream_usage = accepts_stream_usage


_DEFAULT_PORTS = {"https": 443, "http": 80}


def address_of(url: Any) -> tuple[str | None, int | None]:
    """(host, port) of a base URL: an ``httpx``/``httpx2`` URL or a string; the port is the
    scheme's default when the URL names none."""
    if isinstance(url, str):
        if not url:
            return None, None
        parts = urlsplit(url)
        host, port, scheme = parts.hostname, parts.port, parts.scheme
    else:
        host = getattr(url, "host", None)
        port = getattr(url, "port", None)
        scheme = getattr(url, "scheme", "https")
    return (host.lower() if host else None), port or _DEFAULT_PORTS.get(scheme)
