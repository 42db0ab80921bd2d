"""The model requests of one google-genai call, when there may be several.

With automatic function calling (AFC: Python functions in ``config.tools``) one
``generate_content`` sends a request, runs the functions the model asked for, sends another,
and so on; the SDK returns only the last request's usage. So while such a call runs, the
private per-request methods (``Models._generate_content`` and ``_generate_content_stream``,
the same names from 1.0 to 3.x) report each request to the call's ``RequestLog``
(``Call.state``); when the call ends, the log settles it:

* one request (the usual case): the call's span carries its usage and cost, like any other
  provider's call;
* several: each request becomes a child span, with the time it ran, its own usage, cost and
  metrics; the user's span is a container that carries none and records no metrics, so that
  nothing is counted twice.

A call that cannot call functions (no Python functions among its tools, or AFC disabled) —
almost every call — takes the fast path: its state is a ``Hops`` counter, the per-request
wrapper only counts its request, and the call is read from its result (or its stream's
chunks) like any other. Should the SDK send a second request anyway (an automatic
continuation of a long answer), the counter turns into a log on the spot, with the first
request as it was, and the call is settled like one with functions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from time import time_ns
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace

from ... import _guard
from ...names import OP_GENERATE_CONTENT
from ...telemetry.emitter import Call, current_call
from ...telemetry.records import EMPTY_RESPONSE, Request, Response
from ...telemetry.stream import AsyncStreamProxy, StreamProxy
from . import extractors as ex
from .streams import ChunkAccumulator, accumulator

_HERE = "tokentrail.instrumentation.google_genai"
_OPEN = _guard.site("google_genai.request.open", f"{_HERE}.requests:RequestLog.open")
_CLOSE = _guard.site("google_genai.request.close", f"{_HERE}.requests:ModelRequest.read")
_CHUNK = _guard.site("google_genai.request.chunk", f"{_HERE}.streams:ChunkAccumulator.add")
_PROMOTE = _guard.site("google_genai.request.promote", f"{_HERE}.requests:Hops.promote")

#: the private ``Models``/``AsyncModels`` methods that send one model request each
PER_REQUEST_METHODS = ("_generate_content", "_generate_content_stream")


class ModelRequest:
    """One model request (one HTTP call) inside a user's call, as it happened; the observer
    of its stream when it is streamed."""

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

    @property
    def ended(self) -> bool:
        return self.end_time is not None

    def started(self) -> None:
        self.first_chunk_time = time_ns()

    def add(self, chunk: Any) -> bool:
        try:
            self.chunks.add(chunk)  # type: ignore[union-attr]
        except Exception as error:
            _guard.report(_CHUNK, error)
        return True

    def end(self, error: BaseException | None) -> None:
        self.close(exc=error)

    def close(self, result: Any = None, exc: BaseException | None = None) -> None:
        """The request is over: ``result`` arrived (not streamed), ``exc`` was raised, or its
        stream ended. Once only."""
        if self.end_time is not None:
            return
        self.end_time = time_ns()
        self.error = exc
        try:
            self.response = self.read(result)
        except Exception as error:
            _guard.report(_CLOSE, error)

    def read(self, result: Any) -> Response:
        """What the request reported: its stream's chunks, else its result (the guarded part
        of ``close``)."""
        if self.chunks is not None:
            return self.chunks.response()
        if result is not None:
            log = self.log
            return ex.generate_response(result, tier=log.tier, capture_content=log.capture_content)
        return self.response


class RequestLog:
    """The model requests that one user call sent (its ``Call.state``)."""

    __slots__ = ("capture_content", "prompt", "requests", "tier")

    def __init__(self, tier: str | None, capture_content: bool, prompt: Any) -> None:
        self.tier = tier
        self.capture_content = capture_content
        self.prompt = prompt
        self.requests: list[ModelRequest] = []

    def open(self, streamed: bool) -> ModelRequest:
        chunks = None
        if streamed:
            chunks = accumulator(
                prompt=self.prompt, tier=self.tier, capture_content=self.capture_content
            )
        request = ModelRequest(self, chunks)
        self.requests.append(request)
        return request

    def settle(self, call: Call) -> tuple[Response, bool] | None:
        """Report the requests: what the user's ``call`` ends with, and whether it is a
        container of child calls; None when no request was sent."""
        requests = self.requests
        if not requests:
            return None
        for request in requests:
            request.close()  # a stream left unfinished (dropped, or closed with its parent)
        if len(requests) == 1:
            return requests[0].response, False
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
                child.first_chunk((request.first_chunk_time - request.start_time) / 1e9)
            response = request.response.changed(attributes=None)
            if request.error is None:
                child.end(response, end_time=request.end_time)
            else:
                child.fail(request.error, response, end_time=request.end_time)
        last = requests[-1].response
        return last.changed(usage=None, price_context=()), True


class Hops:
    """The fast path's state: the requests of a call that should send one. ``first`` keeps
    what is needed to report the first request on its own should a second one come:
    its start, and its result (non-streamed) or the chunks of the user's stream."""

    __slots__ = ("capture_content", "chunks", "count", "first_end", "first_result",
                 "first_start", "log", "prompt", "tier")  # fmt: skip

    def __init__(self, tier: str | None, capture_content: bool, prompt: Any) -> None:
        self.tier = tier
        self.capture_content = capture_content
        self.prompt = prompt
        self.count = 0
        self.first_start = 0
        self.first_end: int | None = None
        self.first_result: Any = None
        #: the user's stream's accumulator (a streamed call), which saw the first request
        self.chunks: ChunkAccumulator | None = None
        #: the log this call turned into when a second request came
        self.log: RequestLog | None = None

    def promote(self) -> RequestLog:
        """A second request is about to be sent: log the first one as it was."""
        log = self.log = RequestLog(self.tier, self.capture_content, self.prompt)
        first = ModelRequest(log, None)
        first.start_time = self.first_start
        if self.chunks is not None:
            first.response = self.chunks.response()
            first.end_time = time_ns()
        else:
            first.close(self.first_result)
            first.end_time = self.first_end or first.end_time
        log.requests.append(first)
        return log


def log_of(call: Call | None) -> RequestLog | None:
    """The request log of a Gemini user call: its own, or the one its fast path turned into
    (None on the fast path, or outside a call)."""
    state = call.state if call is not None else None
    if type(state) is RequestLog:
        return state
    if type(state) is Hops:
        return state.log
    return None


def _open(log: RequestLog, streamed: bool) -> ModelRequest | None:
    try:
        return log.open(streamed)
    except Exception as exc:
        _guard.report(_OPEN, exc)
        return None


def _close(
    request: ModelRequest | None, result: Any = None, exc: BaseException | None = None
) -> None:
    if request is not None:
        request.close(result, exc)


def _promote(state: Hops) -> None:
    try:
        state.promote()
    except Exception as exc:
        _guard.report(_PROMOTE, exc)


def _in_span(stream: Any, span: Any) -> Iterator[Any]:
    """A continuation's stream read with the user's ``span`` current, so that its request's
    HTTP span nests under it: the fast path's stream makes only its call current once its
    first chunk has arrived (``ActiveStreamProxy``), and a continuation is sent in a later
    read."""
    context = trace.set_span_in_context(span)
    try:
        while True:
            token = otel_context.attach(context)
            try:
                item = next(stream)
            except StopIteration:
                return
            finally:
                otel_context.detach(token)
            yield item
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()


Wrapper = Callable[..., Any]


def per_request_wrapper(standalone: Wrapper, *, streamed: bool, asynchronous: bool) -> Wrapper:
    """The wrapper of a private per-request method: inside a Gemini user call with a log, it
    records the request there; inside any other instrumented call (the fast path) it does
    nothing; called on its own (nobody does, but it is callable), it is an ordinary
    instrumented call (``standalone``)."""

    def sync_request(wrapped: Wrapper, instance: Any, args: tuple, kwargs: dict) -> Any:
        call = current_call()
        if call is None:
            return standalone(wrapped, instance, args, kwargs)
        state = call.state
        if type(state) is Hops:
            if state.log is None:
                state.count += 1
                if state.count == 1:  # the fast path: nothing but the first request's times
                    state.first_start = time_ns()
                    if streamed:
                        return wrapped(*args, **kwargs)
                    result = state.first_result = wrapped(*args, **kwargs)
                    state.first_end = time_ns()
                    return result
                _promote(state)
            log = state.log
        elif type(state) is RequestLog:
            log = state
        elif state is None and call.request.operation == OP_GENERATE_CONTENT:
            # the user's call has no state (an internal error): the request reports itself
            return standalone(wrapped, instance, args, kwargs)
        else:
            return wrapped(*args, **kwargs)
        if log is None:  # the promotion failed (reported): pass through
            return wrapped(*args, **kwargs)
        request = _open(log, streamed)
        if streamed:
            # a generator: the request is sent at its first next()
            stream = wrapped(*args, **kwargs)
            if type(state) is Hops and call.span is not None:
                stream = _in_span(stream, call.span)
            return stream if request is None else StreamProxy(stream, request)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            _close(request, exc=exc)
            raise
        _close(request, result)
        return result

    async def first(wrapped: Wrapper, args: tuple, kwargs: dict, state: Hops) -> Any:
        state.first_start = time_ns()
        result = await wrapped(*args, **kwargs)
        if not streamed:
            state.first_result = result
            state.first_end = time_ns()
        return result

    async def run(wrapped: Wrapper, args: tuple, kwargs: dict, log: RequestLog) -> Any:
        request = _open(log, streamed)
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            _close(request, exc=exc)
            raise
        if streamed:
            # sent already, when the SDK's coroutine was awaited
            return result if request is None else AsyncStreamProxy(result, request)
        _close(request, result)
        return result

    def async_request(wrapped: Wrapper, instance: Any, args: tuple, kwargs: dict) -> Any:
        call = current_call()
        if call is None:
            return standalone(wrapped, instance, args, kwargs)
        state = call.state
        if type(state) is Hops:
            if state.log is None:
                state.count += 1
                if state.count == 1:
                    return first(wrapped, args, kwargs, state)
                _promote(state)
            log = state.log
        elif type(state) is RequestLog:
            log = state
        elif state is None and call.request.operation == OP_GENERATE_CONTENT:
            return standalone(wrapped, instance, args, kwargs)
        else:
            return wrapped(*args, **kwargs)
        if log is None:
            return wrapped(*args, **kwargs)
        return run(wrapped, args, kwargs, log)

    wrapper = async_request if asynchronous else sync_request
    wrapper._tokentrail = True  # type: ignore[attr-defined]
    return wrapper
