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
    Per chunk it keeps the last chunk, the last usage and a count; the finish reasons, the
    model and the id are read from the last chunk at the end.
    """

    __slots__ = ("_chunks", "_last", "_prompt", "_tier", "_usage")

    def __init__(self, *, prompt: Any, tier: str | None) -> None:
        self._prompt = prompt
        self._tier = tier
        self._usage: Any = None
        self._last: Any = None
        self._chunks = 0

    def add(self, chunk: Any) -> bool:
        self._chunks += 1
        self._last = chunk
        usage = chunk.usage_metadata
        if usage is not None:
            self._usage = usage
        return True

    def response(self) -> Response:
        last = self._last
        finish = ex.finish_reasons(last.candidates) if last is not None else None
        usage = ex.usage_of(self._usage)
        if usage is not None and finish is None:
            usage = replace(usage, estimated=True)
        elif usage is None and self._chunks:
            usage = estimated_usage(self._prompt, self._chunks)
        return Response(
            usage,
            model=getattr(last, "model_version", None),
            id=getattr(last, "response_id", None),
            finish_reasons=finish,
            price_context=ex.price_context(self._usage, self._tier),
        )


class CapturingChunkAccumulator(ChunkAccumulator):
    """The same, keeping the text of the answer (``capture_content=True``)."""

    __slots__ = ("_text",)

    def __init__(self, *, prompt: Any, tier: str | None) -> None:
        super().__init__(prompt=prompt, tier=tier)
        self._text: list[str] = []

    def add(self, chunk: Any) -> bool:
        candidates = chunk.candidates
        if candidates:
            self._text.extend(_texts(candidates[0]))
        return super().add(chunk)

    def response(self) -> Response:
        response = super().response()
        if not self._text:
            return response
        finish = response.finish_reasons[0] if response.finish_reasons else ""
        return response.changed(
            attributes={GEN_AI_OUTPUT_MESSAGES: ex.text_output(self._text, finish)}
        )


def accumulator(*, prompt: Any, tier: str | None, capture_content: bool) -> ChunkAccumulator:
    cls = CapturingChunkAccumulator if capture_content else ChunkAccumulator
    return cls(prompt=prompt, tier=tier)


def _texts(candidate: Any) -> list[str]:
    content = candidate.content
    parts = content.parts if content is not None else None
    return [p.text for p in parts or () if isinstance(p.text, str) and not p.thought]
