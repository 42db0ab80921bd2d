"""Bedrock's streams and bodies: the accumulators of the two streaming calls (their
``EventStream`` is watched by the shared ``StreamProxy``), and the proxy of an
``InvokeModel`` answer's ``StreamingBody``, which the caller reads while tokentrail looks on.
"""

from __future__ import annotations

from typing import Any

import wrapt

from ... import _guard
from ... import names as sc
from ..._background import defer
from ...telemetry.emitter import Call
from ...telemetry.records import Response
from ...usage import Usage, estimated_usage
from . import extractors as ex

_BODY_RESPONSE = _guard.site(
    "bedrock.invoke_model.body", "tokentrail.instrumentation.bedrock.streams:InvokeAnswer.response"
)
_BODY_END = _guard.site("bedrock.invoke_model.end", "tokentrail.telemetry.emitter:Call.end")

#: bodies larger than this (images, long embeddings) are not parsed for a finish reason
_PARSE_LIMIT = 1 << 22


def _decoded(data: Any) -> dict[str, Any] | None:
    return ex.parse_body(data, _PARSE_LIMIT)


class ConverseStreamAccumulator:
    """ConverseStream events: text deltas are counted (and kept with content capture); usage
    is in the last event, ``metadata``; the stop reason in ``messageStop``. A stream left
    before ``metadata`` is estimated: the prompt and one token per text delta."""

    __slots__ = ("_deltas", "_metadata", "_prompt", "_request_id", "_stop", "_text")

    def __init__(self, *, request_id: str | None, prompt: Any, capture_content: bool) -> None:
        self._request_id = request_id
        self._prompt = prompt
        self._deltas = 0
        self._metadata: Any = None
        self._stop: Any = None
        self._text: list[str] | None = [] if capture_content else None

    def add(self, event: Any) -> bool:
        delta = event.get("contentBlockDelta")
        if delta is not None:
            self._deltas += 1
            if self._text is not None:
                text = (delta.get("delta") or {}).get("text")
                if isinstance(text, str):
                    self._text.append(text)
        elif "metadata" in event:
            self._metadata = event["metadata"]
        elif "messageStop" in event:
            self._stop = event["messageStop"].get("stopReason")
        return True

    def response(self) -> Response:
        metadata = self._metadata
        usage = ex.converse_usage(metadata.get("usage")) if metadata is not None else None
        if usage is None and self._deltas:
            usage = estimated_usage(self._prompt, self._deltas)
        stop = self._stop if isinstance(self._stop, str) and self._stop else None
        attributes = None
        if self._text:
            attributes = {sc.GEN_AI_OUTPUT_MESSAGES: ex.output_messages("".join(self._text), stop)}
        return Response(
            usage,
            id=self._request_id,
            finish_reasons=(stop,) if stop else None,
            attributes=attributes,
        )


class InvokeStreamAccumulator:
    """InvokeModelWithResponseStream chunks, in the model family's own JSON. Per chunk only
    references are kept (the last two: the finish reason is in the last or, for Anthropic and
    Nova, the one before); they are decoded once, at the end. The last chunk's
    ``amazon-bedrock-invocationMetrics`` has the usage; a stream left before it is estimated
    (the prompt and one token per chunk)."""

    __slots__ = ("_chunks", "_family", "_last", "_previous", "_prompt", "_request_id", "_text")

    def __init__(
        self, *, family: str, request_id: str | None, prompt: Any, capture_content: bool
    ) -> None:
        self._family = family
        self._request_id = request_id
        self._prompt = prompt
        self._chunks = 0
        self._last: Any = None
        self._previous: Any = None
        self._text: list[str] | None = [] if capture_content else None

    def add(self, event: Any) -> bool:
        chunk = event.get("chunk")
        if chunk is not None:
            self._chunks += 1
            self._previous = self._last
            self._last = chunk.get("bytes")
            if self._text is not None:
                decoded = _decoded(self._last)
                text = ex.native_text(self._family, decoded) if decoded else None
                if text:
                    self._text.append(text)
        return True

    def response(self) -> Response:
        last = _decoded(self._last) or {}
        usage = ex.invocation_metrics_usage(last.get(ex.INVOCATION_METRICS))
        if usage is None and self._chunks:
            usage = estimated_usage(self._prompt, self._chunks)
        reason = ex.native_finish_reason(self._family, last)
        if reason is None and self._previous is not None:
            reason = ex.native_finish_reason(self._family, _decoded(self._previous) or {})
        attributes = None
        if self._text:
            attributes = {
                sc.GEN_AI_OUTPUT_MESSAGES: ex.output_messages("".join(self._text), reason)
            }
        return Response(
            usage,
            id=self._request_id,
            finish_reasons=(reason,) if reason else None,
            attributes=attributes,
        )


class InvokeAnswer:
    """Ends an ``InvokeModel`` call once its body has been read (or closed, or dropped):
    the usage of the token-count headers, known when the answer arrived, and what the body
    says (finish reason, the usage when there were no headers, the output with content
    capture). The call ends at ``end_time``, when the answer arrived."""

    __slots__ = ("call", "capture_content", "end_time", "family", "request_id", "usage")

    def __init__(
        self,
        call: Call,
        *,
        family: str,
        usage: Usage | None,
        request_id: str | None,
        end_time: int,
        capture_content: bool,
    ) -> None:
        self.call = call
        self.family = family
        self.usage = usage
        self.request_id = request_id
        self.end_time = end_time
        self.capture_content = capture_content

    @property
    def ended(self) -> bool:
        return self.call.ended

    def response(self, body: bytes | None) -> Response:
        usage, reason, attributes = self.usage, None, None
        wanted = usage is None or self.call.request.operation != sc.OP_EMBEDDINGS
        decoded = _decoded(body) if body and wanted else None
        if decoded is not None:
            if usage is None:
                usage = ex.native_usage(self.family, decoded)
            reason = ex.native_finish_reason(self.family, decoded)
            if self.capture_content and (text := ex.native_text(self.family, decoded)):
                attributes = {sc.GEN_AI_OUTPUT_MESSAGES: ex.output_messages(text, reason)}
        return Response(
            usage,
            id=self.request_id,
            finish_reasons=(reason,) if reason else None,
            attributes=attributes,
        )

    def end(self, body: bytes | None, error: BaseException | None = None) -> None:
        """``body``: the whole body as read, or None when it was not read to its end."""
        call = self.call
        if call.ended:
            return
        failure = None
        try:
            response = self.response(body)
        except Exception as exc:
            failure, response = exc, Response(self.usage, id=self.request_id)
        try:
            if error is None:
                call.end(response, end_time=self.end_time)
            else:
                call.fail(error, response)
        except Exception as exc:
            _guard.report(_BODY_END, exc)
        if failure is not None:  # after the call has ended (strict mode re-raises)
            _guard.report(_BODY_RESPONSE, failure)


class InvokeBodyProxy(wrapt.ObjectProxy):
    """An ``InvokeModel`` answer's ``StreamingBody``, read by the caller as ever (it is still
    a ``StreamingBody``). What is read is kept until the end of the body; the call ends then,
    or when the body is closed or dropped, or fails when reading it fails.

    ``StreamingBody``'s own helpers (``iter_chunks``, ``iter_lines``, iteration) read through
    ``self.read``, so they run here with the proxy as ``self``."""

    def __init__(self, body: Any, answer: InvokeAnswer) -> None:
        super().__init__(body)
        self._self_answer = answer
        self._self_parts: list[bytes] = []

    def read(self, amt: int | None = None) -> bytes:
        try:
            data = self.__wrapped__.read(amt)
        except BaseException as exc:
            self._self_answer.end(None, exc)
            raise
        if data:
            self._self_parts.append(data)
        if amt is None or not data:
            self._self_answer.end(b"".join(self._self_parts))
        return data

    def readlines(self) -> list[bytes]:
        try:
            lines = self.__wrapped__.readlines()
        except BaseException as exc:
            self._self_answer.end(None, exc)
            raise
        self._self_parts.extend(lines)
        self._self_answer.end(b"".join(self._self_parts))
        return lines

    def iter_chunks(self, *args: Any, **kwargs: Any) -> Any:
        return type(self.__wrapped__).iter_chunks(self, *args, **kwargs)

    def iter_lines(self, *args: Any, **kwargs: Any) -> Any:
        return type(self.__wrapped__).iter_lines(self, *args, **kwargs)

    def __iter__(self) -> Any:
        return type(self.__wrapped__).__iter__(self)

    def __next__(self) -> bytes:
        return type(self.__wrapped__).__next__(self)

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_answer.end(None)

    def __enter__(self) -> InvokeBodyProxy:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(exc_type, exc, tb)
        finally:  # the answer had arrived: an error in the caller's block is not the call's
            self._self_answer.end(None)

    def __del__(self) -> None:
        answer = getattr(self, "_self_answer", None)
        if answer is not None and not answer.ended:
            defer(answer.end, None)
