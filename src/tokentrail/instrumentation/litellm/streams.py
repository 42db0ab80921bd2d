"""LiteLLM streams: ``completion(stream=True)`` and ``acompletion(stream=True)`` return a
``CustomStreamWrapper``, one class for both (``__iter__``/``__next__`` and
``__aiter__``/``__anext__``, ``close()`` and ``aclose()``, ``with`` and ``async with``).

The caller sees the usage only when it asks for it (``stream_options={"include_usage":
True}``, on a last chunk without choices). LiteLLM still reads the provider's usage when the
caller does not ask, and keeps the chunks that carried it in the wrapper's ``chunks``: that is
where the usage comes from then, so nothing is added to the request and nothing the caller
sees changes.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ...telemetry.records import Response
from ...telemetry.stream import AsyncStreamProxy, StreamObserver, StreamProxy, sync_reader
from ...usage import estimated_usage
from .._content import streamed_output
from .._sdk import field
from . import extractors as ex


class CustomStreamProxy(AsyncStreamProxy):
    """A ``CustomStreamWrapper`` that reports itself, read either way: the async proxy, with
    the sync proxy's iteration, ``close()`` (synchronous on this class) and ``with``."""

    def __init__(self, wrapped: Any, observer: StreamObserver) -> None:
        super().__init__(wrapped, observer)
        self._self_next = sync_reader(wrapped, observer)

    __iter__ = StreamProxy.__iter__
    __next__ = StreamProxy.__next__
    close = StreamProxy.close
    __enter__ = StreamProxy.__enter__
    __exit__ = StreamProxy.__exit__


class ChunkAccumulator:
    """Reads ``ModelResponseStream`` chunks, keeping per chunk a reference to the first, a
    count, the last usage a chunk showed, and finish reasons as they come (on a choice's last
    chunk). At the end: the provider's model from the first chunk (LiteLLM's
    ``_hidden_params``: the chunks' ``model`` is the one asked for); the usage LiteLLM kept in
    the wrapper if the caller saw none; an estimate (the prompt, one token per content chunk)
    if there is none at all (the caller left early, or the provider sent none) or if the
    stream ended before its finish reason (the usage then is a partial count)."""

    __slots__ = ("_chunks", "_finish", "_first", "_prompt", "_provider", "_stream", "_usage")

    def __init__(self, stream: Any, litellm_provider: str, *, prompt: Any) -> None:
        self._stream = stream
        self._provider = litellm_provider
        self._prompt = prompt
        self._usage: Any = None
        self._first: Any = None
        self._finish: dict[int, str] | None = None
        self._chunks = 0

    def add(self, chunk: Any) -> bool:
        if self._first is None:
            self._first = chunk
        choices = chunk.choices
        if choices:
            self._chunks += 1
            if choices[0].finish_reason is not None or len(choices) > 1:
                self._note_finish(choices)
        usage = field(chunk, "usage")
        if usage is not None:
            self._usage = usage
        return True

    def _note_finish(self, choices: Any) -> None:
        finish = self._finish
        if finish is None:
            finish = self._finish = {}
        for choice in choices:
            if choice.finish_reason:
                finish[choice.index or 0] = choice.finish_reason

    def _kept_usage(self) -> Any:
        """The usage of the last chunk LiteLLM kept (``CustomStreamWrapper.chunks``)."""
        for chunk in reversed(getattr(self._stream, "chunks", None) or ()):
            usage = field(chunk, "usage")
            if usage is not None:
                return usage
        return None

    def response(self) -> Response:
        reported = self._usage if self._usage is not None else self._kept_usage()
        usage = ex.usage_of(reported)
        stream, finish = self._stream, self._finish
        cached = getattr(stream, "custom_llm_provider", None) == "cached_response"
        if cached or ex.answered_from_cache(stream):
            usage = ex.NOTHING_BILLED
        elif usage is None:
            if self._chunks:
                usage = estimated_usage(self._prompt, self._chunks)
        elif not finish:
            # over before it finished (closed early, cut off): the usage so far is Anthropic's
            # message_start (exact input, 1 output token); the output is what arrived
            usage = replace(
                usage, output_tokens=max(usage.output_tokens, self._chunks), estimated=True
            )
        first = self._first
        return Response(
            usage,
            model=ex.response_model(first, self._provider) if first is not None else None,
            id=field(first, "id"),
            finish_reasons=tuple(finish[i] for i in sorted(finish)) if finish else None,
            price_context=ex.price_context(first, reported),
        )


class CapturingChunkAccumulator(ChunkAccumulator):
    """The same, keeping the text of the answer (``capture_content=True``)."""

    __slots__ = ("_text",)

    def __init__(self, stream: Any, litellm_provider: str, *, prompt: Any) -> None:
        super().__init__(stream, litellm_provider, prompt=prompt)
        self._text: list[str] = []

    def add(self, chunk: Any) -> bool:
        for choice in chunk.choices or ():
            text = field(field(choice, "delta"), "content")
            if text:
                self._text.append(text)
        return super().add(chunk)

    def response(self) -> Response:
        response = super().response()
        attributes = streamed_output(self._text)
        return response if attributes is None else response.changed(attributes=attributes)
