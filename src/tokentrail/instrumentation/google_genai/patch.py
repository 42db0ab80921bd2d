"""The google-genai methods tokentrail wraps, and how each call is read.

Patched on ``Models`` and ``AsyncModels`` (``client.models``, ``client.aio.models``):

* ``generate_content`` and ``generate_content_stream``: the user's call, span
  ``generate_content {model}``. Chats (``send_message[_stream]``) call these, once per model
  request, so they are counted through them and not patched themselves.
* ``_generate_content`` and ``_generate_content_stream`` (private; the same names from 1.0 to
  3.4): each sends one model request. Automatic function calling and automatic continuation
  make one user call send several, and the SDK then returns only the last request's usage (or a
  sum); these methods tell each request's own usage. Without them (a future SDK that renamed
  them) the public result is read instead, as well as it can be.
* ``embed_content`` (``embeddings``).

``count_tokens`` is not billed and not patched. How a user call that sent several requests is
reported: see ``RequestLog``.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Callable, Iterable, Iterator
from time import time_ns
from typing import Any, ClassVar

from ... import _guard
from ...telemetry import semconv as sc
from ...telemetry.emitter import Call, current_call
from ...telemetry.records import EMPTY_RESPONSE, Request, Response
from ...telemetry.stream import watch_async, watch_sync
from ...usage import Usage, estimate_tokens
from .._base import Operation, Patch, async_wrapper, sync_wrapper
from .._sdk import given_float, given_int
from . import extractors as ex
from .streams import ChunkAccumulator

__all__ = ["PER_REQUEST_METHODS", "RequestLog", "patches"]

MODULE = "google.genai.models"
#: the private ``Models``/``AsyncModels`` methods that send one model request each
PER_REQUEST_METHODS = ("_generate_content", "_generate_content_stream")


# -- the model requests of one user call ----------------------------------------------------


class ModelRequest:
    """One model request (one HTTP call) inside a user's call, as it happened."""

    __slots__ = ("chunks", "end_time", "error", "first_chunk_time", "log", "response",
                 "start_time")  # fmt: skip

    def __init__(self, log: RequestLog, chunks: ChunkAccumulator | None) -> None:
        self.log = log
        #: a streamed request's chunks
        self.chunks = chunks
        self.start_time = time_ns()
        self.end_time: int | None = None
        self.first_chunk_time: int | None = None
        self.response: Response = EMPTY_RESPONSE
        self.error: BaseException | None = None

    def add(self, chunk: Any) -> None:
        if self.first_chunk_time is None:
            self.first_chunk_time = time_ns()
        self.chunks.add(chunk)  # type: ignore[union-attr]

    def close(self, result: Any = None, exc: BaseException | None = None) -> None:
        """The request is over: ``result`` arrived (not streamed), ``exc`` was raised, or its
        stream ended. Once only."""
        if self.end_time is not None:
            return
        self.end_time = time_ns()
        self.error = exc
        if self.chunks is not None:
            self.response = self.chunks.response()
        elif result is not None:
            log = self.log
            self.response = ex.generate_response(
                result, tier=log.tier, capture_content=log.capture_content
            )


class RequestLog:
    """The model requests that one user call sent (the user call's ``Call.state``).

    The per-request methods append to it while the SDK works; when the user's call ends:

    * one request (the usual case): the user's span carries its usage and cost, like any
      other provider's call: one span, and nothing more on the hot path than a record;
    * several (automatic function calling, continuation): each request becomes a child span,
      with the time it ran, its own usage, cost and metrics; the user's span is a container
      that carries none, and records no metrics, so that nothing is counted twice.
    """

    __slots__ = ("capture_content", "prompt", "requests", "tier")

    def __init__(self, tier: str | None, capture_content: bool, prompt: Any) -> None:
        self.tier = tier
        self.capture_content = capture_content
        self.prompt = prompt
        self.requests: list[ModelRequest] = []

    def open(self, streamed: bool) -> ModelRequest:
        chunks = None
        if streamed:
            chunks = ChunkAccumulator(
                prompt=self.prompt, tier=self.tier, capture_content=self.capture_content
            )
        request = ModelRequest(self, chunks)
        self.requests.append(request)
        return request

    def settle(self, call: Call) -> Response:
        """Report the requests; return what the user's ``call`` ends with."""
        requests = self.requests
        for request in requests:
            request.close()  # a stream left unfinished (dropped, or closed with its parent)
        if len(requests) == 1:
            return requests[0].response
        parent_request = call.request
        child_request = Request(  # content, if captured, stays on the user's span
            parent_request.operation,
            parent_request.provider,
            parent_request.model,
            server_address=parent_request.server_address,
            server_port=parent_request.server_port,
            stream=parent_request.stream,
            max_tokens=parent_request.max_tokens,
            temperature=parent_request.temperature,
        )
        emitter = call.emitter
        for request in requests:
            child = emitter.start(
                child_request, call.attribution, parent=call, start_time=request.start_time
            )
            if request.first_chunk_time is not None:
                child.time_to_first_chunk = (request.first_chunk_time - request.start_time) / 1e9
            response = request.response
            response = Response(
                response.usage,
                model=response.model,
                id=response.id,
                finish_reasons=response.finish_reasons,
                price_context=response.price_context,
            )
            if request.error is None:
                child.end(response, end_time=request.end_time)
            else:
                child.fail(request.error, response, end_time=request.end_time)
        call.container = True
        last = requests[-1].response
        return Response(
            model=last.model,
            id=last.id,
            finish_reasons=last.finish_reasons,
            attributes=last.attributes,
        )


def _current_log() -> RequestLog | None:
    """The log of the Gemini user call in progress, if any."""
    call = current_call()
    state = call.state if call is not None else None
    return state if type(state) is RequestLog else None


def _open(log: RequestLog, streamed: bool) -> ModelRequest | None:
    try:
        return log.open(streamed)
    except Exception as exc:
        _guard.report("google_genai.request.open", exc)
        return None


def _close(
    request: ModelRequest | None, result: Any = None, exc: BaseException | None = None
) -> None:
    if request is None:
        return
    try:
        request.close(result, exc)
    except Exception as error:
        _guard.report("google_genai.request.close", error)


def _add(request: ModelRequest, chunk: Any) -> None:
    try:
        request.add(chunk)
    except Exception as error:
        _guard.report("google_genai.request.chunk", error)


def _request_stream(stream: Iterator[Any], log: RequestLog):
    """One streamed request: the SDK's generator sends it at the first ``next()``."""
    request = _open(log, streamed=True)
    try:
        for chunk in stream:
            if request is not None:
                _add(request, chunk)
            yield chunk
    except GeneratorExit:
        try:
            stream.close()  # type: ignore[attr-defined]
        finally:
            _close(request)
        raise
    except BaseException as exc:
        _close(request, exc=exc)
        raise
    _close(request)


async def _request_stream_async(stream: Any, request: ModelRequest | None):
    """One streamed request (async): sent already, when the SDK's coroutine was awaited."""
    try:
        async for chunk in stream:
            if request is not None:
                _add(request, chunk)
            yield chunk
    except GeneratorExit:
        try:
            await stream.aclose()
        finally:
            _close(request)
        raise
    except BaseException as exc:
        _close(request, exc=exc)
        raise
    _close(request)


Wrapper = Callable[..., Any]


def _per_request_wrapper(standalone: Wrapper, *, streamed: bool, asynchronous: bool) -> Wrapper:
    """The wrapper of a private per-request method. Inside a Gemini user call, it records the
    request in the call's ``RequestLog``; called on its own, it is an ordinary call
    (``standalone``)."""

    def sync_request(wrapped: Wrapper, instance: Any, args: tuple, kwargs: dict) -> Any:
        log = _current_log()
        if log is None:
            return standalone(wrapped, instance, args, kwargs)
        if streamed:
            return _request_stream(wrapped(*args, **kwargs), log)
        request = _open(log, streamed=False)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            _close(request, exc=exc)
            raise
        _close(request, result)
        return result

    async def run(wrapped: Wrapper, args: tuple, kwargs: dict, log: RequestLog) -> Any:
        request = _open(log, streamed)
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            _close(request, exc=exc)
            raise
        if streamed:
            return _request_stream_async(result, request)
        _close(request, result)
        return result

    def async_request(wrapped: Wrapper, instance: Any, args: tuple, kwargs: dict) -> Any:
        log = _current_log()
        if log is None:
            return standalone(wrapped, instance, args, kwargs)
        return run(wrapped, args, kwargs, log)

    wrapper = async_request if asynchronous else sync_request
    wrapper._tokentrail = True  # type: ignore[attr-defined]
    return wrapper


# -- operations -----------------------------------------------------------------------------


class _GeminiOperation(Operation):
    operation: ClassVar[str] = sc.OP_GENERATE_CONTENT
    stream: ClassVar[bool] = False

    def __init__(self, runtime: Any, asynchronous: bool = False, *, per_request: bool = False):
        super().__init__(runtime, asynchronous)
        #: the per-request methods are patched: they report the usage, not the result
        self.per_request = per_request

    def request(self, instance: Any, args: tuple, kwargs: dict[str, Any]) -> Request:
        endpoint = ex.endpoint_of(instance._api_client)
        config = kwargs.get("config")
        contents = kwargs.get("contents")
        attributes = None
        if self.capture_content:
            attributes = {}
            if messages := ex.input_messages(contents):
                attributes[sc.GEN_AI_INPUT_MESSAGES] = messages
            if instructions := ex.system_instructions(config):
                attributes[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = instructions
        return Request(
            self.operation,
            endpoint.provider,
            ex.model_name(kwargs.get("model")),
            server_address=endpoint.address,
            server_port=endpoint.port,
            stream=self.stream,
            max_tokens=given_int(ex.config_value(config, "max_output_tokens", "maxOutputTokens")),
            temperature=given_float(ex.config_value(config, "temperature", "temperature")),
            attributes=attributes,
            prompt=contents,
        )


class GenerateContent(_GeminiOperation):
    """``generate_content``: the user's call. Its requests report to its ``RequestLog``."""

    site = "google_genai.generate_content"

    def prepare(self, call: Call, instance: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        call.state = RequestLog(
            ex.request_tier(kwargs.get("config")), self.capture_content, call.request.prompt
        )
        return kwargs

    def settle(self, call: Call) -> Response | None:
        """What the requests reported, or None when the result must tell."""
        log = call.state
        if type(log) is RequestLog:
            return log.settle(call) if log.requests else None
        if self.per_request:
            # no log (an internal error before the call): each request reported itself
            call.container = True
            return EMPTY_RESPONSE
        return None

    def result(self, call: Call, result: Any) -> Any:
        response = self.settle(call)
        if response is None:
            log = call.state
            response = ex.generate_response(
                result,
                tier=log.tier if type(log) is RequestLog else None,
                capture_content=self.capture_content,
            )
        call.end(response)
        return result

    def failed(self, call: Call, exc: BaseException) -> Response:
        return self.settle(call) or EMPTY_RESPONSE


class GenerateContentStream(GenerateContent):
    """``generate_content_stream``: a generator (async: a coroutine returning an async
    generator) that sends its requests as it is read."""

    site = "google_genai.generate_content_stream"
    stream = True

    def result(self, call: Call, result: Any) -> Any:
        chunks = None
        if not self.per_request:
            log = call.state
            chunks = ChunkAccumulator(
                prompt=call.request.prompt,
                tier=log.tier if type(log) is RequestLog else None,
                capture_content=self.capture_content,
            )
        watch = watch_async if self.asynchronous else watch_sync
        stream = watch(result, call, _UserStream(self, call, chunks))
        # A generator that is never started is dropped without running any of its code: end
        # the call then (nothing was sent), so that a budget reservation is released.
        weakref.finalize(stream, _never_read, call).atexit = False
        return stream


class _UserStream:
    """The accumulator of the user's stream: its requests report the usage, or (without the
    per-request methods) its chunks do."""

    __slots__ = ("_call", "_chunks", "_op")

    def __init__(self, op: GenerateContent, call: Call, chunks: ChunkAccumulator | None):
        self._op = op
        self._call = call
        self._chunks = chunks

    def add(self, chunk: Any) -> bool:
        if self._chunks is not None:
            self._chunks.add(chunk)
        return True

    def response(self) -> Response:
        response = self._op.settle(self._call)
        if response is None:
            response = self._chunks.response() if self._chunks is not None else EMPTY_RESPONSE
        return response


def _never_read(call: Call) -> None:
    # Also called for a started generator, just before its own ``GeneratorExit`` ends the call
    # (a generator's weak references die first): a started one has had a chunk, or has ended.
    if call.ended or call.time_to_first_chunk is not None:
        return
    try:
        call.container = True  # no request was sent: nothing to bill or count
        call.end(EMPTY_RESPONSE)
    except Exception as exc:
        _guard.report("google_genai.stream.unread", exc)


class EmbedContent(_GeminiOperation):
    """``embed_content``: usage from ``usage_metadata`` (SDK 3.1+) or Vertex's statistics;
    estimated from the contents when the response reports none."""

    site = "google_genai.embed_content"
    operation = sc.OP_EMBEDDINGS

    def result(self, call: Call, result: Any) -> Any:
        usage = ex.embed_usage(result)
        if usage is None:
            usage = Usage(input_tokens=estimate_tokens(call.request.prompt), estimated=True)
        call.end(Response(usage))
        return result


# -- the patch table ------------------------------------------------------------------------


def _has_per_request_methods(cls: str) -> bool:
    """Asked when the patch is applied (``google.genai.models`` is imported by then)."""
    owner = getattr(sys.modules.get(MODULE), cls, None)
    return owner is not None and all(hasattr(owner, name) for name in PER_REQUEST_METHODS)


def _public(cls: str, method: str, operation: type[_GeminiOperation], asynchronous: bool,
            per_request: bool = False) -> Patch:  # fmt: skip
    factory = async_wrapper if asynchronous else sync_wrapper
    return Patch(
        MODULE,
        cls,
        method,
        lambda runtime: factory(
            operation(
                runtime, asynchronous, per_request=per_request and _has_per_request_methods(cls)
            )
        ),
    )


def _private(cls: str, method: str, operation: type[_GeminiOperation], asynchronous: bool,
             streamed: bool) -> Patch:  # fmt: skip
    factory = async_wrapper if asynchronous else sync_wrapper
    return Patch(
        MODULE,
        cls,
        method,
        lambda runtime: (
            _per_request_wrapper(
                factory(operation(runtime, asynchronous)),
                streamed=streamed,
                asynchronous=asynchronous,
            )
            if _has_per_request_methods(cls)
            else None  # renamed in this SDK: the public calls read the usage instead
        ),
    )


def patches() -> Iterable[Patch]:
    # the private per-request methods are patched when the SDK has them (it has from 1.0 to
    # 3.4; a test fails loudly if a release renames them); the public calls then leave the
    # usage to them
    for cls, asynchronous in (("Models", False), ("AsyncModels", True)):
        yield _public(cls, "generate_content", GenerateContent, asynchronous, True)
        yield _public(cls, "generate_content_stream", GenerateContentStream, asynchronous, True)
        yield _public(cls, "embed_content", EmbedContent, asynchronous)
        yield _private(cls, "_generate_content", GenerateContent, asynchronous, False)
        yield _private(cls, "_generate_content_stream", GenerateContentStream, asynchronous,
                       True)  # fmt: skip
