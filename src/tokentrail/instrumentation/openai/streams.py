"""Accumulators for openai streams: they watch each item as it passes to the caller and say,
when the stream is over, what it reported (see ``telemetry.stream``)."""

from __future__ import annotations

from typing import Any

from ...names import GEN_AI_OUTPUT_MESSAGES
from ...telemetry.records import Response
from ...usage import estimated_usage
from .._content import input_messages, streamed_output
from . import extractors as ex

_FINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})


def usage_only(chunk: Any) -> bool:
    """The last chunk of a stream with ``stream_options.include_usage``: usage, no choices
    (hidden from a caller who did not ask for it, when tokentrail did)."""
    return not chunk.choices and chunk.usage is not None


class CompletionStreamAccumulator:
    """Chat completions and legacy completions chunks.

    Usage arrives on a last chunk with ``choices == []`` when ``stream_options.include_usage``
    is set; when tokentrail set it (the caller did not), that chunk is hidden from the caller.
    Some hosts send it unasked: on the chunk that finishes (Together, Fireworks), on a last
    chunk of its own (OpenRouter), or in ``x_groq.usage`` of the finishing chunk (Groq).
    Without usage (the caller broke out first, or the host does not send it) the usage is
    estimated: the prompt's length and one token per content chunk, marked ``estimated``.

    Per chunk it keeps a reference and a count; the model, the id and the service tier are read
    from the last chunk at the end (every chunk carries them), finish reasons as they come (on
    a choice's last chunk).
    """

    __slots__ = ("_chunks", "_finish", "_hide_usage_chunk", "_last", "_prompt", "_usage")

    def __init__(self, *, hide_usage_chunk: bool, prompt: Any) -> None:
        self._hide_usage_chunk = hide_usage_chunk
        self._prompt = prompt
        self._usage: Any = None
        self._last: Any = None
        self._finish: dict[int, str] | None = None
        self._chunks = 0

    def add(self, chunk: Any) -> bool:
        usage = chunk.usage
        if usage is not None:
            self._usage = usage
            if self._hide_usage_chunk and not chunk.choices:
                return False
        self._last = chunk
        choices = chunk.choices
        if choices:
            self._chunks += 1
            if choices[0].finish_reason is not None or len(choices) > 1:
                self._note_finish(chunk, choices)
        return True

    def _note_finish(self, chunk: Any, choices: Any) -> None:
        finish = self._finish
        if finish is None:
            finish = self._finish = {}
        for choice in choices:
            if choice.finish_reason:
                finish[choice.index] = choice.finish_reason
                if self._usage is None:  # Groq's, unasked, on the finishing chunk
                    self._usage = ex.groq_stream_usage(chunk)

    def response(self) -> Response:
        usage = ex.chat_usage(self._usage)
        if usage is None and self._chunks:
            usage = estimated_usage(self._prompt, self._chunks)
        last, finish = self._last, self._finish
        return Response(
            usage,
            model=getattr(last, "model", None),
            id=getattr(last, "id", None),
            finish_reasons=tuple(finish[i] for i in sorted(finish)) if finish else None,
            price_context=ex.price_context(getattr(last, "service_tier", None)),
        )


class CompletionStreamTail:
    """The usual chat (or legacy completions) stream: one choice, no chunk to hide. Per chunk
    it keeps the last two chunks and a count, nothing else (reading a field of a chunk costs
    more than that); at the end the two are the finishing chunk and the usage chunk after it
    (the caller's ``include_usage``), or the finishing chunk and the one before (usage on the
    finishing chunk, Groq's ``x_groq``, or none). Every chunk carries the model, the id and
    the service tier. Without usage, the estimate counts the chunks with a choice, as
    ``CompletionStreamAccumulator`` does.
    """

    __slots__ = ("_count", "_last", "_previous", "_prompt")

    def __init__(self, *, prompt: Any) -> None:
        self._prompt = prompt
        self._last: Any = None
        self._previous: Any = None
        self._count = 0

    def add(self, chunk: Any) -> bool:
        self._previous = self._last
        self._last = chunk
        self._count += 1
        return True

    def response(self) -> Response:
        last = self._last
        if last is None:
            return Response()
        usage = finishing = None
        chunks = self._count
        for chunk in (last, self._previous):
            if chunk is None:
                continue
            if chunk.choices:
                finishing = finishing or chunk
            else:
                chunks -= 1  # the usage-only chunk: no content
            if usage is None:
                usage = chunk.usage
        if usage is None and finishing is not None:
            usage = ex.groq_stream_usage(finishing)
        reasons = ex.finish_reasons(finishing.choices) if finishing is not None else None
        found = ex.chat_usage(usage)
        if found is None and chunks > 0:
            found = estimated_usage(self._prompt, chunks)
        return Response(
            found,
            model=getattr(last, "model", None),
            id=getattr(last, "id", None),
            finish_reasons=reasons,
            price_context=ex.price_context(getattr(last, "service_tier", None)),
        )


class CapturingCompletionStreamAccumulator(CompletionStreamAccumulator):
    """The same, keeping the text of the answer (``capture_content=True``)."""

    __slots__ = ("_text",)

    def __init__(self, *, hide_usage_chunk: bool, prompt: Any) -> None:
        super().__init__(hide_usage_chunk=hide_usage_chunk, prompt=prompt)
        self._text: list[str] = []

    def add(self, chunk: Any) -> bool:
        for choice in chunk.choices or ():
            delta = getattr(choice, "delta", None)
            text = getattr(delta, "content", None) if delta is not None else choice.text
            if text:
                self._text.append(text)
        return super().add(chunk)

    def response(self) -> Response:
        response = super().response()
        attributes = streamed_output(self._text)
        return response if attributes is None else response.changed(attributes=attributes)


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
