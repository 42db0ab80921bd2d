"""The accumulator of mistralai streams: it watches each event as it passes to the caller and
says, when the stream is over, what it reported (see ``telemetry.stream``)."""

from __future__ import annotations

from typing import Any

from ...telemetry.records import Response
from ...usage import estimated_usage
from .._content import streamed_output
from . import extractors as ex


class CompletionStreamAccumulator:
    """``CompletionEvent`` items of ``chat.stream`` and ``fim.stream``: each holds a
    ``CompletionChunk`` in ``data``; the last chunk carries the call's ``usage`` (the API
    sends it unasked). A stream that ends before it (the caller stopped reading, the
    connection dropped) is estimated: the prompt's length and one token per content chunk."""

    __slots__ = ("_chunks", "_finish", "_id", "_model", "_prompt", "_text", "_usage")

    def __init__(self, *, prompt: Any, capture_content: bool) -> None:
        self._prompt = prompt
        self._usage: Any = None
        self._model: str | None = None
        self._id: str | None = None
        self._finish: dict[int, str] = {}
        self._chunks = 0
        self._text: list[str] | None = [] if capture_content else None

    def add(self, event: Any) -> bool:
        chunk = event.data
        usage = chunk.usage
        if usage is not None:
            self._usage = usage
        if self._model is None:
            self._model = chunk.model
            self._id = chunk.id
        choices = chunk.choices
        if choices:
            self._chunks += 1
            for choice in choices:
                if choice.finish_reason:
                    self._finish[choice.index] = str(choice.finish_reason)
                if self._text is not None:
                    text = ex.content_text(choice.delta.content)
                    if text:
                        self._text.append(text)
        return True

    def response(self) -> Response:
        usage = ex.completion_usage(self._usage)
        if usage is None and self._chunks:
            usage = estimated_usage(self._prompt, self._chunks)
        attributes = streamed_output(self._text)
        return Response(
            usage,
            model=self._model,
            id=self._id,
            finish_reasons=tuple(self._finish[i] for i in sorted(self._finish)) or None,
            price_context=ex.price_context(self._usage),
            attributes=attributes,
        )
