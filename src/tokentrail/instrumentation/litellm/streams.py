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

from ...names import GEN_AI_OUTPUT_MESSAGES
from ...telemetry.records import Response
from ...telemetry.stream import AsyncStreamProxy, StreamProxy
from ...usage import estimated_usage
from .._content import input_messages
from .._sdk import field
from . import extractors as ex


class CustomStreamProxy(AsyncStreamProxy):
    """A ``CustomStreamWrapper`` that reports itself, read either way: the async proxy, with
    the sync proxy's iteration, ``close()`` (synchronous on this class) and ``with``."""

    __iter__ = StreamProxy.__iter__
    __next__ = StreamProxy.__next__
    close = StreamProxy.close
    __enter__ = StreamProxy.__enter__
    __exit__ = StreamProxy.__exit__


class ChunkAccumulator:
    """Reads ``ModelResponseStream`` chunks: model and id from the first (the provider's
    model from LiteLLM's ``_hidden_params``: the chunks' ``model`` is the one asked for),
    finish reasons, the last usage a chunk showed. At the end: the usage LiteLLM kept in the
    wrapper if the caller saw none; an estimate (the prompt, one token per content chunk)
    if there is none at all (the caller left early, or the provider sent none), or if the
    stream ended before its finish reason (the usage then is a partial count)."""

    __slots__ = ("_chunks", "_finish", "_first", "_model", "_prompt", "_provider", "_stream",
                 "_text", "_usage")  # fmt: skip

    def __init__(
        self, stream: Any, litellm_provider: str, *, prompt: Any, capture_content: bool
    ) -> None:
        self._stream = stream
        self._provider = litellm_provider
        self._prompt = prompt
        self._usage: Any = None
        self._model: str | None = None
        self._first: Any = None
        self._finish: dict[int, str] = {}
        self._chunks = 0
        self._text: list[str] | None = [] if capture_content else None

    def add(self, chunk: Any) -> bool:
        if self._first is None:
            self._first = chunk
            self._model = ex.response_model(chunk, self._provider)
        choices = field(chunk, "choices")
        if choices:
            self._chunks += 1
            for choice in choices:
                reason = field(choice, "finish_reason")
                if reason:
                    self._finish[field(choice, "index") or 0] = reason
                if self._text is not None:
                    text = field(field(choice, "delta"), "content")
                    if text:
                        self._text.append(text)
        usage = field(chunk, "usage")
        if usage is not None:
            self._usage = usage
        return True

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
        stream = self._stream
        cached = getattr(stream, "custom_llm_provider", None) == "cached_response"
        if cached or ex.answered_from_cache(stream):
            usage = ex.NOTHING_BILLED
        elif usage is None:
            if self._chunks:
                usage = estimated_usage(self._prompt, self._chunks)
        elif not self._finish:
            # over before it finished (closed early, cut off): the usage so far is Anthropic's
            # message_start (exact input, 1 output token); the output is what arrived
            usage = replace(
                usage, output_tokens=max(usage.output_tokens, self._chunks), estimated=True
            )
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
            id=field(self._first, "id"),
            finish_reasons=tuple(self._finish[i] for i in sorted(self._finish)) or None,
            price_context=ex.price_context(self._first, reported),
            attributes=attributes,
        )
