"""Which feature a web route belongs to: ``instrument(features=...)`` or
``TOKENTRAIL_FEATURES_FILE``.

A mapping from route patterns to feature names, in order; the first pattern that matches the
request's route (``http.route``) gives the feature. A pattern matches a route equal to it, or
as a glob: ``*`` is any run of characters (``/`` included), ``?`` one character, ``[...]`` a
set. The file (YAML, or JSON by its ``.json`` suffix)::

    features:
      /api/search/*: search
      /users/{user_id}/summary: summaries

``instrument(features=...)`` takes the path of such a file, the mapping itself, or a list of
``{"route": ..., "feature": ...}`` entries (the file's ``features`` may be such a list too).
A wrong entry is a ``ConfigurationError`` naming the file, the entry and the field, raised at
``instrument()``.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ..config import read_config_file
from ..exceptions import ConfigurationError

_FIELDS = ("route", "feature")
#: the most routes whose feature is remembered (route templates are few; past this, each call
#: matches again)
_CACHE_LIMIT = 1024


class FeatureMap:
    """Route patterns and their features, in order (the first match wins)."""

    __slots__ = ("_cache", "_matchers", "rules")

    def __init__(self, rules: Iterable[tuple[str, str]]) -> None:
        #: (pattern, feature), in order
        self.rules: tuple[tuple[str, str], ...] = tuple(rules)
        self._matchers = tuple((_matcher(pattern), feature) for pattern, feature in self.rules)
        self._cache: dict[str, str | None] = {}

    def feature(self, route: str) -> str | None:
        """The feature of ``route``, or None when no pattern matches it."""
        try:
            return self._cache[route]
        except KeyError:
            pass
        found = next((feature for matches, feature in self._matchers if matches(route)), None)
        if len(self._cache) < _CACHE_LIMIT:
            self._cache[route] = found
        return found

    def __repr__(self) -> str:
        return f"FeatureMap({dict(self.rules)!r})"


def _matcher(pattern: str) -> Callable[[str], bool]:
    if not any(c in pattern for c in "*?["):
        return lambda route: route == pattern
    glob = re.compile(fnmatch.translate(pattern))
    return lambda route: route == pattern or glob.fullmatch(route) is not None


def load_features(source: Any) -> FeatureMap | None:
    """The feature map from a file path, a route → feature mapping or a list of entries; None
    for no source or no entries."""
    if source is None:
        return None
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        data = read_config_file(path, "features")
        origin = str(path)
        if data is None:
            return None
        if not isinstance(data, Mapping):
            raise ConfigurationError(f"{origin}: expected a mapping with the key 'features'")
        extra = sorted(set(data) - {"features"})
        if extra:
            raise ConfigurationError(
                f"{origin}: unknown top-level key(s) {extra}; expected 'features'"
            )
        rules = parse_features(data.get("features") or {}, origin=f"{origin}: features")
    else:
        rules = parse_features(source, origin="features=")
    return FeatureMap(rules) if rules else None


def parse_features(data: Any, *, origin: str) -> list[tuple[str, str]]:
    """(pattern, feature) pairs, in order, from a mapping or a list of entries."""
    if isinstance(data, Mapping):
        return [
            (_route(pattern, f"{origin}[{pattern!r}]"), _feature(value, f"{origin}[{pattern!r}]"))
            for pattern, value in data.items()
        ]
    if not isinstance(data, Iterable) or isinstance(data, (str, bytes)):
        raise ConfigurationError(
            f"{origin}: expected a mapping of route patterns to features, or a list of "
            f"{{route, feature}} entries; got {type(data).__name__}"
        )
    rules: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(data):
        where = f"{origin}[{index}]"
        if not isinstance(entry, Mapping):
            raise ConfigurationError(
                f"{where}: must be a mapping with 'route' and 'feature', got {type(entry).__name__}"
            )
        unknown = sorted(set(entry) - set(_FIELDS), key=str)
        if unknown:
            raise ConfigurationError(
                f"{where}: unknown field {unknown[0]!r}; allowed: {', '.join(_FIELDS)}"
            )
        if "route" not in entry:
            raise ConfigurationError(f"{where}: field 'route' is required (a route or a glob)")
        pattern = _route(entry["route"], f"{where}: field 'route'")
        where = f"{where} (route {pattern!r})"
        if "feature" not in entry:
            raise ConfigurationError(f"{where}: field 'feature' is required (a feature name)")
        if pattern in seen:
            raise ConfigurationError(
                f"{where}: the route is already mapped by entry {seen[pattern]} "
                "(the first match wins, so this entry would never apply)"
            )
        seen[pattern] = index
        rules.append((pattern, _feature(entry["feature"], f"{where}: field 'feature'")))
    return rules


def _route(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(
            f"{where}: a route must be a non-empty string like '/api/search/*', got {value!r}"
        )
    return value.strip()


def _feature(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{where}: the feature must be a non-empty string, got {value!r}")
    return value.strip()
