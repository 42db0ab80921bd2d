"""Who and what a call is for: ``feature``, ``team``, ``user_id``, ``endpoint`` and any other
key, carried in a ``contextvars.ContextVar``.

``attribute(...)`` is a context manager and a decorator (sync and async functions). Blocks
nest: an inner block inherits the outer keys and overrides the ones it sets; a key set to
``None`` is removed. The values follow asyncio tasks and ``asyncio.to_thread``; for a thread
pool, wrap the submitted function with ``bind()`` (a bare ``executor.submit`` does not copy
the context).

A call captures the attribution when it starts, so a stream consumed after the block has
exited keeps it. Inside a web request traced by an OpenTelemetry web instrumentation, the
endpoint (and, through a route→feature mapping, the feature) default to the request's route
where no block set them (``tokentrail.web``).

Across services (opt-in), through OpenTelemetry baggage: a block opened with
``attribute(..., propagate=True)`` (or every block, after ``configure_baggage(send=True)``
or ``TOKENTRAIL_ATTRIBUTION_BAGGAGE=send``) puts ``tokentrail.feature``, ``tokentrail.team``,
``tokentrail.endpoint`` and ``tokentrail.user_hash`` into the baggage, which the W3C baggage
propagator (on by default in the OTel SDK) sends with outgoing requests of instrumented HTTP
clients. The user id is never sent in clear: ``user_hash`` is a BLAKE2b hash of it, keyed with
``hash_key`` (``TOKENTRAIL_ATTRIBUTION_HASH_KEY``; use the same key in every service, so that
the hash is the same everywhere and cannot be reversed by guessing ids). A service started with
``configure_baggage(receive=True)`` (``TOKENTRAIL_ATTRIBUTION_BAGGAGE=receive``, or ``both``)
attributes its calls from incoming baggage; its own ``attribute()`` blocks win over it, and the
user id it sees is the hash. Baggage goes to *every* host the process calls, so enable sending
only for values you may show to those hosts, and receiving only behind your own edge (a client
could otherwise choose its attribution).
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import inspect
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

from opentelemetry import baggage
from opentelemetry import context as otel_context

from . import names as sc

F = TypeVar("F", bound=Callable[..., Any])

#: keys with a dedicated span attribute; every other key becomes ``tokentrail.<key>``
_SPAN_NAMES = {
    "feature": sc.TOKENTRAIL_FEATURE,
    "team": sc.TOKENTRAIL_TEAM,
    "endpoint": sc.TOKENTRAIL_ENDPOINT,
    "user_id": sc.USER_ID,
}

#: the most (endpoint, feature) combinations one attribution remembers (routes are templates,
#: so there are few; past this, each call builds its own)
_DEFAULTED_LIMIT = 256


class Attribution:
    """An immutable set of attribution values, with what the hot path needs precomputed."""

    __slots__ = (
        "_defaulted",
        "endpoint",
        "feature",
        "metric_key",
        "span_attributes",
        "team",
        "user_id",
        "values",
    )

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values: Mapping[str, str] = MappingProxyType(dict(values))
        self.feature = values.get("feature")
        self.team = values.get("team")
        self.endpoint = values.get("endpoint")
        self.user_id = values.get("user_id")
        #: the part of the attribution that may go on metrics (user ids never do)
        self.metric_key = (self.feature, self.team, self.endpoint)
        self.span_attributes: Mapping[str, str] = MappingProxyType(
            {_SPAN_NAMES.get(k) or sc.TOKENTRAIL_ATTRIBUTE_PREFIX + k: v for k, v in values.items()}
        )
        #: (endpoint, feature) -> this attribution with them as defaults (``with_defaults``)
        self._defaulted: dict[tuple[str, str | None], Attribution] = {}

    def merged(self, changes: Mapping[str, str | None]) -> Attribution:
        values = dict(self.values)
        for key, value in changes.items():
            if value is None:
                values.pop(key, None)
            else:
                values[key] = value
        return Attribution(values)

    def with_defaults(self, endpoint: str, feature: str | None) -> Attribution:
        """This attribution with ``endpoint`` and ``feature`` where it has none of its own.

        Memoised on this object: a block (or no block, ``EMPTY``) sees the same few routes
        again and again, so the hot path builds each combination once."""
        key = (endpoint, feature)
        found = self._defaulted.get(key)
        if found is None:
            changes = {}
            if self.endpoint is None:
                changes["endpoint"] = endpoint
            if feature is not None and self.feature is None:
                changes["feature"] = feature
            found = self.merged(changes) if changes else self
            if len(self._defaulted) < _DEFAULTED_LIMIT:
                self._defaulted[key] = found
        return found

    def __repr__(self) -> str:
        return f"Attribution({dict(self.values)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Attribution) and self.values == other.values

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.values.items())))


EMPTY = Attribution({})
_current: contextvars.ContextVar[Attribution] = contextvars.ContextVar(
    "tokentrail.attribution", default=EMPTY
)


#: attribution key -> baggage entry (user ids travel hashed)
BAGGAGE_KEYS = (
    ("feature", "tokentrail.feature"),
    ("team", "tokentrail.team"),
    ("endpoint", "tokentrail.endpoint"),
    ("user_id", "tokentrail.user_hash"),
)
_USER_HASH = dict(BAGGAGE_KEYS)["user_id"]


class _Baggage:
    """The process-wide baggage settings (``configure_baggage``)."""

    send = False
    receive = False
    hash_key = b""
    #: (incoming entries, local attribution, merged): the last merge, reused while unchanged
    cache: tuple[dict[str, str], Attribution, Attribution] | None = None


def configure_baggage(
    *, send: bool = False, receive: bool = False, hash_key: str | bytes | None = None
) -> None:
    """Propagate attribution across services in OTel baggage (see the module docstring):
    ``send`` from every ``attribute()`` block, ``receive`` it from incoming requests.
    ``hash_key`` keys the hash of user ids (at most 64 bytes)."""
    key = hash_key.encode() if isinstance(hash_key, str) else (hash_key or b"")
    if len(key) > 64:
        raise ValueError("configure_baggage: hash_key is at most 64 bytes")
    _Baggage.send = bool(send)
    _Baggage.receive = bool(receive)
    _Baggage.hash_key = key
    _Baggage.cache = None


def hash_user_id(user_id: str) -> str:
    """What ``user_id`` becomes in baggage: a keyed BLAKE2b hash, 32 hex digits."""
    return hashlib.blake2b(user_id.encode(), digest_size=16, key=_Baggage.hash_key).hexdigest()


def current() -> Attribution:
    """The attribution in effect here (with incoming baggage, when receiving it)."""
    local = _current.get()
    if not _Baggage.receive:
        return local
    entries = baggage.get_all()
    if not entries:
        return local
    incoming = {
        key: value
        for key, name in BAGGAGE_KEYS
        if isinstance(value := entries.get(name), str) and value
    }
    if not incoming:
        return local
    cached = _Baggage.cache
    if cached is not None and cached[1] is local and cached[0] == incoming:
        return cached[2]
    merged = Attribution({**incoming, **local.values})
    _Baggage.cache = (incoming, local, merged)
    return merged


def _to_baggage(attribution: Attribution) -> otel_context.Context:
    """The current OTel context with ``attribution`` in its baggage."""
    ctx = otel_context.get_current()
    incoming_hash = baggage.get_baggage(_USER_HASH, ctx)
    for key, name in BAGGAGE_KEYS:
        value = attribution.values.get(key)
        if value is None:
            ctx = baggage.remove_baggage(name, ctx)
            continue
        if key == "user_id" and value != incoming_hash:  # a hash that came in goes on as is
            value = hash_user_id(value)
        ctx = baggage.set_baggage(name, value, ctx)
    return ctx


def _enter(changes: Mapping[str, str | None], propagate: bool | None) -> tuple[Any, Any]:
    token = _current.set(_current.get().merged(changes))
    if propagate if propagate is not None else _Baggage.send:
        return token, otel_context.attach(_to_baggage(current()))
    return token, None


def _exit(tokens: tuple[Any, Any]) -> None:
    token, baggage_token = tokens
    if baggage_token is not None:
        otel_context.detach(baggage_token)
    _current.reset(token)


def _normalise(kv: Mapping[str, Any]) -> dict[str, str | None]:
    changes: dict[str, str | None] = {}
    for key, value in kv.items():
        if not key or not key.replace("_", "a").replace(".", "a").isalnum():
            raise ValueError(f"attribute key {key!r}: use letters, digits, '_' and '.'")
        if (value is not None and not isinstance(value, (str, int, float))) or isinstance(
            value, bool
        ):
            raise TypeError(f"attribute {key}={value!r}: values are strings (or numbers)")
        changes[key] = None if value is None else str(value)
    return changes


class attribute:
    """Attribute the calls made inside a block (or a decorated function) to a feature, team,
    user and endpoint, plus any other keys (on spans only). ``propagate=True`` also sends the
    attribution to downstream services in OTel baggage (user id hashed; module docstring).

    >>> with attribute(feature="search", team="core", user_id="u-42"):
    ...     client.chat.completions.create(...)
    >>> @attribute(feature="summarise")
    ... async def summarise(doc): ...
    """

    __slots__ = ("_changes", "_propagate", "_tokens")

    def __init__(self, *, propagate: bool | None = None, **kv: Any) -> None:
        self._changes = _normalise(kv)
        self._propagate = propagate
        self._tokens: list[tuple[Any, Any]] = []

    def __enter__(self) -> Attribution:
        self._tokens.append(_enter(self._changes, self._propagate))
        return current()

    def __exit__(self, *exc_info: object) -> None:
        _exit(self._tokens.pop())

    def __call__(self, fn: F) -> F:
        changes, propagate = self._changes, self._propagate
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                tokens = _enter(changes, propagate)
                try:
                    return await fn(*args, **kwargs)
                finally:
                    _exit(tokens)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            tokens = _enter(changes, propagate)
            try:
                return fn(*args, **kwargs)
            finally:
                _exit(tokens)

        return wrapper  # type: ignore[return-value]


def bind(fn: F) -> F:
    """Run ``fn`` later (in a thread pool, a callback) with the attribution in effect now.

    ``ThreadPoolExecutor.submit`` and ``loop.run_in_executor`` do not copy the caller's
    context, so a call made in the pool would be unattributed; ``bind`` captures the context
    (attribution and OTel context, hence the current span and baggage) when it is called, and
    each run of the bound function gets its own copy of it.

    >>> executor.submit(bind(summarise), doc)
    >>> executor.map(bind(summarise), docs)
    """
    context = contextvars.copy_context()

    @functools.wraps(fn)
    def bound(*args: Any, **kwargs: Any) -> Any:
        return context.copy().run(fn, *args, **kwargs)

    return bound  # type: ignore[return-value]
