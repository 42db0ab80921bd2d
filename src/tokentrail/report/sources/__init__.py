"""Where the report's data comes from: a Prometheus-compatible query API and span files."""

from __future__ import annotations


class SourceError(Exception):
    """A source that cannot be read at all (unreachable, wrong URL, missing file): the report
    stops with this one-line message."""


class QueryError(Exception):
    """One query that failed: the sections that need it are omitted with this message."""
