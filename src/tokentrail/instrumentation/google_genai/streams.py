"""The accumulator for google-genai streams (``telemetry.stream`` explains accumulators).

Within one model request, each chunk's ``usage_metadata`` is the server's running total, so
the last one wins; chunks are never summed. Summing across requests is ``patch.RequestLog``'s
job, never this one's: a stream that the SDK continued over several requests rewrites its
chunks' usage to running sums, which is why tokentrail reads each request's own stream.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ...names import GEN_AI_OUTPUT_MESSAGES
from ...telemetry.records import Response
from ...usage import estimated_usage
from . import extractors as ex


class ChunkAccumulator:
    """``GenerateContentResponse`` chunks of one stream.

    A stream that ended before its final chunk (closed early, failed) reports the server's
    last running total, marked ``estimated``: what the server went on to generate is unknown.
    Without any usage (none arrived) the usage is estimated from the prompt and the chunks.
    """

    __slots__ = ("_chunks", "_finish", "_first", "_prompt", "_text", "_tier", "_usage")

    def __init__(self, *, prompt: Any, tier: str | None, capture_content: bool) -> None:
        self._prompt = prompt
        self._tier = tier
        self._usage: Any = None
        self._first: Any = None
        self._finish: tuple[str, ...] | None = None
        self._chunks = 0
        self._text: list[str] | None = [] if capture_content else None

    def add(self, chunk: Any) -> bool:
        self._chunks += 1
        usage = chunk.usage_metadata
        if usage is not None:
            self._usage = usage
        if self._first is None:
            self._first = chunk
        candidates = chunk.candidates
        if candidates:
            if candidates[0].finish_reason is not None or len(candidates) > 1:
                self._finish = ex.finish_reasons(candidates) or self._finish
            if self._text is not None:
                self._text.extend(_texts(candidates[0]))
        return True

    def response(self) -> Response:
        finished = self._finish is not None
        usage = ex.usage_of(self._usage)
        if usage is not None and not finished:
            usage = replace(usage, estimated=True)
        elif usage is None and self._chunks:
            usage = estimated_usage(self._prompt, self._chunks)
        attributes = None
        if self._text:
            finish = self._finish[0] if self._finish else ""
            attributes = {GEN_AI_OUTPUT_MESSAGES: ex.text_output(self._text, finish)}
        first = self._first
        return Response(
            usage,
            model=getattr(first, "model_version", None),
            id=getattr(first, "response_id", None),
            finish_reasons=self._finish,
            price_context=ex.price_context(self._usage, self._tier),
            attributes=attributes,
        )


def _texts(candidate: Any) -> list[str]:
    content = candidate.content
    parts = content.parts if content is not None else None
    return [p.text for p in parts or () if isinstance(p.text, str) and not p.thought]
