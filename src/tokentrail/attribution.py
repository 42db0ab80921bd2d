"""Who and what a call is for: ``feature``, ``team``, ``user_id``, ``endpoint`` and any other
key, carried in a ``contextvars.ContextVar``.

``attribute(...)`` is a context manager and a decorator (sync and async functions). Blocks
nest: an inner block inherits the outer keys and overrides the ones it sets; a key set to
``None`` is removed. The values follow asyncio tasks and ``asyncio.to_thread``; for a thread
pool, wrap the submitted function with ``bind()`` (a bare ``executor.submit`` does not copy
the context).

A call captures the attribution when it starts, so a stream consumed after the block has
exited keeps it.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

from .telemetry import semconv as sc

__all__ = ["Attribution", "attribute", "bind", "current"]

F = TypeVar("F", bound=Callable[..., Any])

#: keys with a dedicated span attribute; every other key becomes ``tokentrail.<key>``
_SPAN_NAMES = {
    "feature": sc.TOKENTRAIL_FEATURE,
    "team": sc.TOKENTRAIL_TEAM,
    "endpoint": sc.TOKENTRAIL_ENDPOINT,
    "user_id": sc.USER_ID,
}


class Attribution:
    """An immutable set of attribution values, with what the hot path needs precomputed."""

    __slots__ = (
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

    def merged(self, changes: Mapping[str, str | None]) -> Attribution:
        values = dict(self.values)
        for key, value in changes.items():
            if value is None:
                values.pop(key, None)
            else:
                values[key] = value
        return Attribution(values)

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


def current() -> Attribution:
    """The attribution in effect here."""
    return _current.get()


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
    user and endpoint, plus any other keys (on spans only).

    >>> with attribute(feature="search", team="core", user_id="u-42"):
    ...     client.chat.completions.create(...)
    """

    __slots__ = ("_changes", "_tokens")

    def __init__(self, **kv: Any) -> None:
        self._changes = _normalise(kv)
        self._tokens: list[contextvars.Token[Attribution]] = []

    def __enter__(self) -> Attribution:
        merged = _current.get().merged(self._changes)
        self._tokens.append(_current.set(merged))
        return merged

    def __exit__(self, *exc_info: object) -> None:
        _current.reset(self._tokens.pop())

    def __call__(self, fn: F) -> F:
        changes = self._changes
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                token = _current.set(_current.get().merged(changes))
                try:
                    return await fn(*args, **kwargs)
                finally:
                    _current.reset(token)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            token = _current.set(_current.get().merged(changes))
            try:
                return fn(*args, **kwargs)
            finally:
                _current.reset(token)

        return wrapper  # type: ignore[return-value]


def bind(fn: F) -> F:
    """Run ``fn`` later (in a thread pool, a callback) with the attribution in effect now.

    >>> executor.submit(bind(summarise), doc)
    """
    context = contextvars.copy_context()

    @functools.wraps(fn)
    def bound(*args: Any, **kwargs: Any) -> Any:
        return context.copy().run(fn, *args, **kwargs)

    return bound  # type: ignore[return-value]
