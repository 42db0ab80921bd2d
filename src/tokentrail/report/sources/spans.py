"""Span files written by the Collector's ``file`` exporter (OTLP JSON, one export request per
line), queried in place with DuckDB: no server, millions of spans in seconds.

Paths may be files, directories (every ``*.json*`` file in them) or glob patterns, so that the
exporter's rotated files (``spans-2026-03-01T10-00-00.000.jsonl``) come along; ``.gz`` and
``.zst`` files are decompressed on the fly.

Only spans that carry ``tokentrail.cost.status`` are read: exactly one per billable call (a
parent span that made several model requests carries none).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from . import SourceError

_SPANS = "$.resourceSpans[*].scopeSpans[*].spans[*]"

#: column -> (attribute, type it is read as)
_ATTRIBUTES = {
    "user_id": ("user.id", "str"),
    "feature": ("tokentrail.feature", "str"),
    "team": ("tokentrail.team", "str"),
    "endpoint": ("tokentrail.endpoint", "str"),
    "provider": ("gen_ai.provider.name", "str"),
    "model": ("gen_ai.request.model", "str"),
    "cost_status": ("tokentrail.cost.status", "str"),
    "error_type": ("error.type", "str"),
    "cost_usd": ("gen_ai.usage.cost", "double"),
    "input_tokens": ("gen_ai.usage.input_tokens", "int"),
    "output_tokens": ("gen_ai.usage.output_tokens", "int"),
}


def _value(column: str, attribute: str, kind: str) -> str:
    value = f"vals[list_position(keys, '{attribute}')]"
    if kind == "str":
        expr = f"{value}.stringValue"
    elif kind == "int":
        # OTLP JSON writes 64-bit integers as strings
        expr = f"TRY_CAST({value}.intValue AS BIGINT)"
    else:
        expr = f"coalesce({value}.doubleValue, TRY_CAST({value}.intValue AS DOUBLE))"
    return f"{expr} AS {column}"


#: what json_transform makes of a span's scalars and of its attribute values
_HEAD = '{"traceId":"VARCHAR","spanId":"VARCHAR","name":"VARCHAR","startTimeUnixNano":"VARCHAR"}'
_VALUES = '[{"stringValue":"VARCHAR","intValue":"VARCHAR","doubleValue":"DOUBLE"}]'


def expand_paths(paths: Sequence[str]) -> list[str]:
    """The files behind ``paths``; a :class:`SourceError` for one that matches nothing."""
    files: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            found = sorted(
                os.path.join(path, name)
                for name in os.listdir(path)
                if ".json" in name and os.path.isfile(os.path.join(path, name))
            )
            if not found:
                raise SourceError(f"--spans {path}: no *.json* files in this directory")
        elif any(c in path for c in "*?["):
            found = sorted(p for p in glob.glob(path) if os.path.isfile(p))
            if not found:
                raise SourceError(f"--spans {path}: no file matches")
        elif os.path.isfile(path):
            found = [path]
        else:
            raise SourceError(f"--spans {path}: no such file or directory")
        files += [f for f in found if f not in files]
    return files


@dataclass(frozen=True)
class SpanTable:
    """The calls read from span files, in a DuckDB table ``calls``."""

    connection: Any
    files: list[str]

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        return self.connection.execute(sql, list(params)).fetchall()

    def count(self) -> int:
        return int(self.query("SELECT count(*) FROM calls")[0][0])


def _query(max_line: int) -> str:
    """The calls table; each span's JSON is parsed into typed values once (json_transform),
    its attribute keys once, and a column is the value at its key's position."""
    columns = ",\n  ".join(_value(c, a, k) for c, (a, k) in _ATTRIBUTES.items())
    return f"""
CREATE TEMP TABLE calls AS
WITH spans AS (
  SELECT unnest(json_extract(json, '{_SPANS}')) AS span
  FROM read_ndjson_objects(?, maximum_object_size = {max_line}, ignore_errors = false)
), parts AS (
  SELECT json_transform(span, '{_HEAD}') AS head,
         json_extract_string(span, '$.attributes[*].key') AS keys,
         json_transform(json_extract(span, '$.attributes[*].value'), '{_VALUES}') AS vals
  FROM spans
), calls AS (
  SELECT head.traceId AS trace_id, head.spanId AS span_id, head.name AS name,
         TRY_CAST(head.startTimeUnixNano AS UBIGINT) AS start_ns, keys, vals
  FROM parts
  WHERE list_contains(keys, 'tokentrail.cost.status')
)
SELECT trace_id, span_id, name, start_ns,
  {columns}
FROM calls
WHERE start_ns BETWEEN ? AND ?
"""


#: DuckDB's default longest line (16 MB) keeps its buffers small and the scan fast; a batch
#: of spans with message content can be longer, and is read on a second try
_LINE_LIMITS = (16 << 20, 1 << 30)


def load(paths: Sequence[str], start: float, end: float) -> SpanTable:
    """Read the calls that started in ``[start, end]`` from the span files."""
    try:
        import duckdb
    except ImportError:
        raise SourceError('--spans needs DuckDB: pip install "tokentrail[report]"') from None
    files = expand_paths(paths)
    connection = duckdb.connect()
    params = [files, int(start * 1e9), int(end * 1e9)]
    for max_line in _LINE_LIMITS:
        try:
            connection.execute(_query(max_line), params)
            break
        except duckdb.Error as exc:
            if "maximum_object_size" in str(exc) and max_line != _LINE_LIMITS[-1]:
                continue
            raise SourceError(
                f"--spans: cannot read {_which(files, exc)}: {_first_line(exc)}"
            ) from None
    return SpanTable(connection, files)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _which(files: list[str], exc: Exception) -> str:
    message = str(exc)
    for f in files:
        if f in message:
            return f
    return files[0] if len(files) == 1 else f"{len(files)} files"
