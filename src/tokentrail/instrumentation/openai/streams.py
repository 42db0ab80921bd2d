"""Accumulators for openai streams: they watch each item as it passes to the caller and say,
when the stream is over, what it reported (see ``telemetry.stream``)."""

from __future__ import annotations

from typing import Any

from ...names import GEN_AI_OUTPUT_MESSAGES
from ...telemetry.records import Response
from ...usage import estimated_usage
from .._content import input_messages
from . import extractors as ex

_FINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})


def usage_only(chunk: Any) -> bool:
    """The last chunk of a stream with ``stream_options.include_usage``: usage, no choices
    (hidden from a caller who did not ask for it, when tokentrail did)."""
    return not chunk.choices and chunk.usage is not None


class CompletionStreamAccumulator:
    """Chat completions and legacy completions chunks.

    Usage arrives on a last chunk with ``choices == []`` when ``stream_options.include_usage``
    is set (``usage_only``). Without usage (the caller broke out first, or the host does not
    send it) the usage is estimated: the prompt's length and one token per content chunk,
    marked ``estimated``.
    """

    __slots__ = ("_chunks", "_finish", "_id", "_model", "_prompt", "_service_tier", "_text",
                 "_usage")  # fmt: skip

    def __init__(self, *, prompt: Any, capture_content: bool) -> None:
        self._prompt = prompt
        self._usage: Any = None
        self._model: str | None = None
        self._id: str | None = None
        self._service_tier: Any = None
        self._finish: dict[int, str] = {}
        self._chunks = 0
        self._text: list[str] | None = [] if capture_content else None

    def add(self, chunk: Any) -> bool:
        choices = chunk.choices
        usage = chunk.usage
        if usage is not None:
            self._usage = usage
        if self._model is None:
            self._model = chunk.model
            self._id = chunk.id
            self._service_tier = getattr(chunk, "service_tier", None)
        if choices:
            self._chunks += 1
            for choice in choices:
                if choice.finish_reason:
                    self._finish[choice.index] = choice.finish_reason
                if self._text is not None:
                    delta = getattr(choice, "delta", None)
                    text = getattr(delta, "content", None) if delta is not None else choice.text
                    if text:
                        self._text.append(text)
        return True

    def response(self) -> Response:
        usage = ex.chat_usage(self._usage)
        if usage is None and self._chunks:
            usage = estimated_usage(self._prompt, self._chunks)
        attributes = None
        if self._text:
            attributes = {
                GEN_AI_OUTPUT_MESSAGES: input_messages(
                    [{"role": "assistant", "content": "".join(self._text)}]
                )
            }
        return Response(
            usage,
            model=self._model,
            id=self._id,
            finish_reasons=tuple(self._finish[i] for i in sorted(self._finish)) or None,
            price_context=ex.price_context(self._service_tier),
            attributes=attributes,
        )


class ResponsesStreamAccumulator:
    """Responses API events: usage is on ``response.completed`` (or ``incomplete``/``failed``)."""

    __slots__ = ("_deltas", "_final", "_first", "_prompt", "_text")

    def __init__(self, *, prompt: Any, capture_content: bool) -> None:
        self._prompt = prompt
        self._final: Any = None
        self._first: Any = None
        self._deltas = 0
        self._text: list[str] | None = [] if capture_content else None

    def add(self, event: Any) -> bool:
        kind = event.type
        if kind == "response.output_text.delta":
            self._deltas += 1
            if self._text is not None:
                self._text.append(event.delta)
        elif kind in _FINAL_EVENTS:
            self._final = event.response
        elif self._first is None and kind == "response.created":
            self._first = event.response
        return True

    def response(self) -> Response:
        final = self._final
        if final is not None:
            response = ex.responses_response(final, capture_content=False)
            if self._text:
                response = response.changed(
                    attributes={
                        GEN_AI_OUTPUT_MESSAGES: input_messages(
                            [{"role": "assistant", "content": "".join(self._text)}]
                        )
                    }
                )
            return response
        first = self._first
        usage = None
        if self._deltas:
            usage = estimated_usage(self._prompt, self._deltas)
        return Response(
            usage,
            model=getattr(first, "model", None),
            id=getattr(first, "id", None),
        )
