"""Span files as the Collector's ``file`` exporter writes them: one OTLP JSON
``ExportTraceServiceRequest`` per line (64-bit integers as strings, ids in hex)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO


@dataclass(frozen=True)
class Call:
    start_s: float
    cost: float | None  # None: unpriced
    user: str | None
    feature: str = "search"
    model: str = "gpt-4o-mini"
    input_tokens: int = 1000
    output_tokens: int = 200
    trace_id: str = ""
    span_id: str = ""


def _attribute(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    return {"key": key, "value": {"stringValue": value}}


def span(call: Call, index: int) -> dict[str, Any]:
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": call.model,
        "gen_ai.response.model": call.model,
        "gen_ai.request.stream": False,
        "gen_ai.usage.input_tokens": call.input_tokens,
        "gen_ai.usage.output_tokens": call.output_tokens,
        "tokentrail.cost.status": "priced" if call.cost is not None else "unpriced",
        "tokentrail.feature": call.feature,
        "tokentrail.team": "core",
        "server.address": "api.openai.com",
    }
    if call.cost is not None:
        attributes["gen_ai.usage.cost"] = call.cost
    if call.user is not None:
        attributes["user.id"] = call.user
    start = int(call.start_s * 1e9)
    return {
        "traceId": call.trace_id or f"{index + 1:032x}",
        "spanId": call.span_id or f"{index + 1:016x}",
        "name": f"chat {call.model}",
        "kind": 3,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + 800_000_000),
        "attributes": [_attribute(k, v) for k, v in attributes.items()],
        "status": {},
    }


def lines(calls: Iterable[Call], per_line: int = 50, first_index: int = 0) -> Iterator[str]:
    """OTLP JSON lines, ``per_line`` spans each, plus one span of another scope per line
    (an HTTP server span: not a call, never counted)."""
    batch: list[dict[str, Any]] = []
    index = first_index

    def line() -> str:
        other = {
            "traceId": "f" * 32, "spanId": "e" * 16, "name": "GET /api/search", "kind": 2,
            "startTimeUnixNano": batch[0]["startTimeUnixNano"],
            "endTimeUnixNano": batch[0]["endTimeUnixNano"],
            "attributes": [_attribute("http.route", "/api/search")], "status": {},
        }  # fmt: skip
        ours = {"scope": {"name": "tokentrail", "version": "0.1"}, "spans": batch}
        theirs = {"scope": {"name": "opentelemetry.instrumentation.asgi"}, "spans": [other]}
        resource = {"attributes": [_attribute("service.name", "shop")]}
        request = {"resourceSpans": [{"resource": resource, "scopeSpans": [ours, theirs]}]}
        return json.dumps(request, separators=(",", ":")) + "\n"

    for call in calls:
        batch.append(span(call, index))
        index += 1
        if len(batch) == per_line:
            yield line()
            batch = []
    if batch:
        yield line()


def write(path: Path, calls: Iterable[Call], per_line: int = 50, first_index: int = 0) -> Path:
    opener: Any = gzip.open if path.suffix == ".gz" else open
    out: TextIO
    with opener(path, "wt", encoding="utf-8") as out:
        out.writelines(lines(calls, per_line, first_index))
    return path
