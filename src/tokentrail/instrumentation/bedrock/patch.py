"""The botocore method tokentrail wraps for Bedrock, and how each call is read.

boto3 clients are generated at run time, one class per client, so there is no
``BedrockRuntime.converse`` to patch: every operation of every client goes through
``botocore.client.BaseClient._make_api_call(operation_name, api_params)``. That one method is
wrapped; a call is instrumented only when its client is ``bedrock-runtime`` and the operation
is one of ``Converse``, ``ConverseStream``, ``InvokeModel`` and
``InvokeModelWithResponseStream``. Every other boto3 call (S3, DynamoDB, SQS ...) goes
straight through: one dict lookup on the operation name.

botocore retries inside ``_make_api_call``, so a call is one span however many attempts it
took (a throttled attempt is not billed). ``AnthropicBedrock`` (the anthropic SDK) signs its
requests with botocore but sends them itself: it never comes here, and its calls are counted
by the anthropic instrumentation alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from ... import names as sc
from ...runtime import Runtime
from ...telemetry.emitter import Call
from ...telemetry.records import EMPTY_RESPONSE, Request, Response
from ...telemetry.stream import watch
from .._base import Operation, Patch, sync_wrapper
from .._sdk import given_float, given_int, given_str
from . import extractors as ex
from .streams import (
    ConverseStreamAccumulator,
    InvokeAnswer,
    InvokeBodyProxy,
    InvokeStreamAccumulator,
)

SERVICE = "bedrock-runtime"


class _BedrockOperation(Operation):
    """One ``bedrock-runtime`` operation; its keyword arguments are the operation's
    parameters (``modelId``, ``messages``, ``body`` ...)."""

    streams: ClassVar[bool] = False

    def model(self, kwargs: dict[str, Any]) -> str | None:
        return given_str(kwargs.get("modelId"))

    def apply(self, request: Request, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The model into ``modelId``, the output cap where the operation takes it (``cap``);
        the caller's parameters are never modified."""
        changed = dict(kwargs)
        if request.model and kwargs.get("modelId") != request.model:
            changed["modelId"] = request.model
        if request.max_tokens is not None:
            self.cap(changed, request.max_tokens)
        return changed

    def cap(self, params: dict[str, Any], max_tokens: int) -> None:
        """Set the output cap in ``params`` (a copy: replace what is changed inside it)."""
        raise NotImplementedError


class Converse(_BedrockOperation):
    """``converse``: the answer is a dict with ``output``, ``stopReason`` and ``usage``."""

    site = "bedrock.converse"

    def request(self, instance: Any, args: tuple, kwargs: dict[str, Any]) -> Request:
        endpoint = ex.endpoint_of(instance)
        config = kwargs.get("inferenceConfig")
        if not isinstance(config, dict):
            config = {}
        messages, system = kwargs.get("messages"), kwargs.get("system")
        attributes = ex.input_attributes(system, messages) if self.capture_content else None
        return Request(
            sc.OP_CHAT,
            endpoint.provider,
            self.model(kwargs),
            server_address=endpoint.address,
            server_port=endpoint.port,
            stream=self.streams,
            max_tokens=given_int(config.get("maxTokens")),
            temperature=given_float(config.get("temperature")),
            attributes=attributes,
            prompt=[system, messages],
        )

    def cap(self, params: dict[str, Any], max_tokens: int) -> None:
        """In ``inferenceConfig.maxTokens``."""
        config = params.get("inferenceConfig")
        config = dict(config) if isinstance(config, dict) else {}
        if config.get("maxTokens") != max_tokens:
            config["maxTokens"] = max_tokens
            params["inferenceConfig"] = config

    def response(self, result: Any) -> Response:
        return ex.converse_response(result, capture_content=self.capture_content)


class ConverseStream(Converse):
    """``converse_stream``: the answer's ``stream`` is an ``EventStream`` of events; usage
    arrives in the last one (``metadata``). It is watched in place, in the caller's dict."""

    site = "bedrock.converse_stream"
    streams = True

    def result(self, call: Call, result: Any) -> Any:
        accumulator = ConverseStreamAccumulator(
            request_id=ex.request_id(result),
            prompt=call.request.prompt,
            capture_content=self.capture_content,
        )
        return _watch_in_place(result, "stream", call, accumulator)


class InvokeModel(_BedrockOperation):
    """``invoke_model``: the request and the answer are the model family's own JSON bodies.

    The answer's ``body`` is a ``StreamingBody`` that the caller reads (once). Its usage is
    in the ``X-Amzn-Bedrock-*-Token-Count`` headers, known at once; the body is watched as
    the caller reads it (never read here) for the finish reason, and for the usage when the
    headers are missing. The call ends when the body has been read, closed or dropped, with
    the time the answer arrived."""

    site = "bedrock.invoke_model"

    def request(self, instance: Any, args: tuple, kwargs: dict[str, Any]) -> Request:
        endpoint = ex.endpoint_of(instance)
        model = self.model(kwargs)
        family = ex.family_of(model or "")
        body = ex.parse_body(kwargs.get("body")) or {}
        attributes = None
        if self.capture_content:
            prompt = body.get("messages") or body.get("prompt") or body.get("inputText")
            attributes = ex.input_attributes(body.get("system"), prompt)
        return Request(
            ex.operation_of(model or ""),
            endpoint.provider,
            model,
            server_address=endpoint.address,
            server_port=endpoint.port,
            stream=self.streams,
            max_tokens=ex.native_max_tokens(family, model or "", body),
            temperature=ex.native_temperature(family, body),
            attributes=attributes,
            prompt=ex.native_prompt(body),
        )

    def cap(self, params: dict[str, Any], max_tokens: int) -> None:
        """In the family's own field of the body (of the model sent), rewritten as a copy in
        the type it was given (a JSON ``str`` or ``bytes``; a file object is left alone)."""
        original = params.get("body")
        body = ex.parse_body(original)
        if body is None:
            return
        model = self.model(params) or ""
        family = ex.family_of(model)
        if ex.native_max_tokens(family, model, body) != max_tokens:
            capped = ex.with_native_cap(family, model, body, max_tokens)
            params["body"] = ex.encode_body(original, capped)

    def prepare(
        self, request: Request, instance: Any, kwargs: dict[str, Any]
    ) -> tuple[dict[str, Any], str]:
        """The state is the model family (of the model that is sent)."""
        return kwargs, ex.family_of(request.model or "")

    def result(self, call: Call, result: Any) -> Any:
        answer = InvokeAnswer(
            call,
            family=call.state or "",
            usage=ex.header_usage(ex.response_headers(result)),
            request_id=ex.request_id(result),
            end_time=time.time_ns(),
            capture_content=self.capture_content,
        )
        body = result.get("body")
        if body is None or not hasattr(body, "read"):
            answer.end(None)
        else:
            result["body"] = InvokeBodyProxy(body, answer)
        return result


class InvokeModelWithResponseStream(InvokeModel):
    """``invoke_model_with_response_stream``: the answer's ``body`` is an ``EventStream`` of
    ``{"chunk": {"bytes": ...}}`` events in the family's own JSON; the last one carries
    ``amazon-bedrock-invocationMetrics`` (the usage, the same for every family)."""

    site = "bedrock.invoke_model_stream"
    streams = True

    def result(self, call: Call, result: Any) -> Any:
        accumulator = InvokeStreamAccumulator(
            family=call.state or "",
            request_id=ex.request_id(result),
            prompt=call.request.prompt,
            capture_content=self.capture_content,
        )
        return _watch_in_place(result, "body", call, accumulator)


def _watch_in_place(result: dict[str, Any], key: str, call: Call, accumulator: Any) -> Any:
    """The answer's event stream ``result[key]`` replaced, in the caller's dict, by a proxy
    that ends ``call`` from ``accumulator``."""
    stream = result.get(key)
    if stream is None:
        call.end(EMPTY_RESPONSE)
    else:
        result[key] = watch(stream, call, accumulator, asynchronous=False)
    return result


OPERATIONS: dict[str, type[_BedrockOperation]] = {
    "Converse": Converse,
    "ConverseStream": ConverseStream,
    "InvokeModel": InvokeModel,
    "InvokeModelWithResponseStream": InvokeModelWithResponseStream,
}


def _service_of(client: Any) -> Any:
    return client.meta.service_model.service_name


def make_api_call(runtime: Runtime) -> Callable[..., Any]:
    """The wrapper of ``BaseClient._make_api_call``: the four Bedrock operations go through
    the usual instrumented call (``sync_wrapper``), with the operation's parameters as its
    keyword arguments; anything else is sent as it is."""
    instrumented = {name: sync_wrapper(cls(runtime)) for name, cls in OPERATIONS.items()}

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        call = instrumented.get(args[0]) if len(args) == 2 and not kwargs else None
        if call is None or _service_of(instance) != SERVICE:
            return wrapped(*args, **kwargs)
        operation_name, params = args
        if not isinstance(params, dict):
            return wrapped(*args)

        def send(**sent: Any) -> Any:
            return wrapped(operation_name, sent)

        return call(send, instance, (), params)

    wrapper._tokentrail = True  # type: ignore[attr-defined]
    return wrapper


def patches() -> Iterable[Patch]:
    yield Patch("botocore.client", "BaseClient", "_make_api_call", make_api_call)
