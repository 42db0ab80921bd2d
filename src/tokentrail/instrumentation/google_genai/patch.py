"""The google-genai methods tokentrail wraps, and how each call is read.

Patched on ``Models`` and ``AsyncModels`` (``client.models``, ``client.aio.models``):

* ``generate_content`` and ``generate_content_stream``: the user's call, span
  ``generate_content {model}``. Chats (``send_message[_stream]``) call these, once per model
  request, so they are counted through them and not patched themselves.
* ``_generate_content`` and ``_generate_content_stream`` (private): each sends one model
  request; a call that may make several (automatic function calling) reads each request's own
  usage through them (``requests``). Without them (a future SDK that renamed them) the public
  result is read instead, as well as it can be.
* ``embed_content`` (``embeddings``).

``count_tokens`` is not billed and not patched.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any, ClassVar

from ... import _guard
from ... import names as sc
from ...telemetry.emitter import Call
from ...telemetry.records import EMPTY_RESPONSE, Request, Response
from ...telemetry.stream import ActiveStreamProxy, AsyncStreamProxy
from ...usage import Usage, estimate_tokens
from .._base import Operation, Patch, async_wrapper, sync_wrapper
from .._sdk import given_float, given_int
from . import extractors as ex
from .requests import PER_REQUEST_METHODS, Hops, RequestLog, log_of, per_request_wrapper
from .streams import ChunkAccumulator, accumulator

MODULE = "google.genai.models"
_HERE = "tokentrail.instrumentation.google_genai"
_CHUNK = _guard.site("google_genai.stream.chunk", f"{_HERE}.streams:ChunkAccumulator.add")
_END = _guard.site("google_genai.stream.end", f"{_HERE}.patch:UserStream._end")


class _GeminiOperation(Operation):
    operation: ClassVar[str] = sc.OP_GENERATE_CONTENT
    stream: ClassVar[bool] = False

    def __init__(self, runtime: Any, asynchronous: bool = False, *, per_request: bool = False):
        super().__init__(runtime, asynchronous)
        #: the per-request methods are patched: a call that may make several requests
        #: reads each one's usage through them
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
        max_tokens = temperature = None
        if config is not None:  # most calls have none
            max_tokens = given_int(ex.config_value(config, "max_output_tokens", "maxOutputTokens"))
            temperature = given_float(ex.config_value(config, "temperature", "temperature"))
        return Request(
            self.operation,
            endpoint.provider,
            ex.model_name(kwargs.get("model")),
            server_address=endpoint.address,
            server_port=endpoint.port,
            stream=self.stream,
            max_tokens=max_tokens,
            temperature=temperature,
            attributes=attributes,
            prompt=contents,
        )


def _capped_config(config: Any, max_tokens: int) -> Any:
    """A copy of a ``GenerateContentConfig`` (or config dict, or None) with the output cap."""
    if config is None:
        return {"max_output_tokens": max_tokens}
    if isinstance(config, dict):
        capped = {k: v for k, v in config.items() if k != "maxOutputTokens"}
        capped["max_output_tokens"] = max_tokens
        return capped
    return config.model_copy(update={"max_output_tokens": max_tokens})


class GenerateContent(_GeminiOperation):
    """``generate_content``: the user's call. When it may make several model requests, they
    report to its ``RequestLog``; otherwise its result tells (the fast path)."""

    site = "google_genai.generate_content"

    def apply(self, request: Request, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The model argument and ``config.max_output_tokens`` (a copy of the config: the
        caller's object is left as it was). Every request of an automatic-function-calling
        loop is sent with this config, so each gets the same decision."""
        changed = dict(kwargs)
        if request.model and ex.model_name(kwargs.get("model")) != request.model:
            changed["model"] = request.model
        if request.max_tokens is not None:
            changed["config"] = _capped_config(kwargs.get("config"), request.max_tokens)
        return changed

    def prepare(
        self, request: Request, instance: Any, kwargs: dict[str, Any]
    ) -> tuple[dict[str, Any], Any]:
        """A ``RequestLog`` when the call may call functions (several requests), else the
        fast path's ``Hops`` counter; just the price tier without the per-request methods."""
        config = kwargs.get("config")
        if config is None:  # most calls: no tier, no functions
            if not self.per_request:
                return kwargs, None
            return kwargs, Hops(None, self.capture_content, request.prompt)
        tier = ex.request_tier(config)
        if not self.per_request:
            return kwargs, tier
        if ex.may_call_functions(config):
            return kwargs, RequestLog(tier, self.capture_content, request.prompt)
        return kwargs, Hops(tier, self.capture_content, request.prompt)

    def tier(self, call: Call) -> str | None:
        state = call.state
        return state.tier if type(state) in (RequestLog, Hops) else state

    def result(self, call: Call, result: Any) -> Any:
        state = call.state
        if type(state) is Hops and state.log is None:  # the fast path: one request
            call.end(
                ex.generate_response(result, tier=state.tier, capture_content=self.capture_content)
            )
            return result
        if self.reported_per_request(call):
            call.end(EMPTY_RESPONSE, container=True)
            return result
        log = log_of(call)
        settled = log.settle(call) if log is not None else None
        if settled is None:
            response = ex.generate_response(
                result, tier=self.tier(call), capture_content=self.capture_content
            )
            call.end(response)
        else:
            call.end(settled[0], container=settled[1])
        return result

    def failed(self, call: Call, exc: BaseException) -> None:
        if self.reported_per_request(call):
            call.fail(exc, container=True)
            return
        log = log_of(call)
        settled = log.settle(call) if log is not None else None
        if settled is None:
            call.fail(exc)
        else:
            call.fail(exc, settled[0], container=settled[1])

    def reported_per_request(self, call: Call) -> bool:
        """Without its state (``prepare`` failed, reported) a call's requests reported
        themselves as calls of their own: the user's call is then only their container."""
        return self.per_request and call.state is None


class GenerateContentStream(GenerateContent):
    """``generate_content_stream``: a generator (async: a coroutine returning an async
    generator) that sends its requests as it is read."""

    site = "google_genai.generate_content_stream"
    stream = True

    def result(self, call: Call, result: Any) -> Any:
        chunks = None
        if type(call.state) is not RequestLog:
            chunks = accumulator(
                prompt=call.request.prompt,
                tier=self.tier(call),
                capture_content=self.capture_content,
            )
            if type(call.state) is Hops:
                call.state.chunks = chunks  # the first request's chunks, should it be logged
        observer = UserStream(call, chunks, self.reported_per_request(call))
        # the generator sends its requests inside next(): the call is current around each
        if self.asynchronous:
            return AsyncStreamProxy(result, observer, activate=call)
        # the fast path sends its one request in the first read
        return ActiveStreamProxy(result, observer, call, type(call.state) is not Hops)


class UserStream:
    """The observer of the user's stream: its requests report the usage (a call with a log),
    or its chunks do (the fast path: ``add`` is the accumulator's own, one call per chunk;
    the stream proxy reports its errors at ``chunk_site``). A stream dropped before its
    first chunk sent nothing: its call ends as a container, billed nothing."""

    __slots__ = ("_call", "_chunks", "_read", "_reported_per_request", "add")
    chunk_site = _CHUNK

    def __init__(self, call: Call, chunks: ChunkAccumulator | None, reported_per_request: bool):
        self._call = call
        call.observed_by(self)
        self._chunks = chunks
        self._reported_per_request = reported_per_request
        self._read = False
        self.add = chunks.add if chunks is not None else _keep

    @property
    def ended(self) -> bool:
        return self._call.ended

    def started(self) -> None:
        self._read = True
        self._call.first_chunk()

    def end(self, error: BaseException | None) -> None:
        if self._call.ended:
            return
        try:
            self._end(error)
        except Exception as exc:
            # end the call anyway (reported after: strict mode re-raises); a fault in ending
            # it is the one just caught, reported once
            try:
                if error is None:
                    self._call.end(EMPTY_RESPONSE)
                else:
                    self._call.fail(error)
            except Exception:
                pass
            _guard.report(_END, exc)

    def _end(self, error: BaseException | None) -> None:
        call = self._call
        container = False
        log = log_of(call)
        if self._reported_per_request:  # its requests reported themselves
            response, container = EMPTY_RESPONSE, True
        elif log is not None:
            settled = log.settle(call)
            response, container = settled if settled is not None else (EMPTY_RESPONSE, True)
        elif self._chunks is not None and (self._read or error is not None):
            response = self._chunks.response()
        else:  # never read: no request was sent
            response, container = EMPTY_RESPONSE, True
        if error is None:
            call.end(response, container=container)
        else:
            call.fail(error, response, container=container)


def _keep(chunk: Any) -> bool:
    """What a stream whose requests report themselves does with a chunk: passes it on."""
    return True


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
            per_request_wrapper(
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
    # 3.x; a test fails loudly if a release renames them); the public calls then leave the
    # usage of calls that may make several requests to them
    for cls, asynchronous in (("Models", False), ("AsyncModels", True)):
        yield _public(cls, "generate_content", GenerateContent, asynchronous, True)
        yield _public(cls, "generate_content_stream", GenerateContentStream, asynchronous, True)
        yield _public(cls, "embed_content", EmbedContent, asynchronous)
        yield _private(cls, "_generate_content", GenerateContent, asynchronous, False)
        yield _private(cls, "_generate_content_stream", GenerateContentStream, asynchronous,
                       True)  # fmt: skip
