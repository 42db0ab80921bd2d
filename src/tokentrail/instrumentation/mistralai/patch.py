"""The mistralai methods tokentrail wraps, and how each call is read.

Patched, sync and async (``*_async``), where each major version keeps them: 2.x and 3.x in
``mistralai.client.chat``/``fim``/``embeddings``, 1.x in ``mistralai.chat``/``fim``/
``embeddings``.

- ``chat.complete`` and ``chat.stream``: each sends its own request (``stream`` does not call
  ``complete``), so each is patched; ``chat.parse`` calls ``complete`` and is counted there.
- ``fim.complete`` and ``fim.stream``: fill-in-the-middle code completion (Codestral), billed
  per token like chat (``text_completion``).
- ``embeddings.create``.

Not patched (their calls are not counted): ``beta.conversations.*`` (server-side tools and
hand-offs bill beyond the tokens they report), ``agents.*`` (left for agent semantics),
``ocr.process`` (billed per page), audio transcriptions, classifiers/moderation, batch jobs
and fine-tuning. ``MistralAzure``/``MistralGoogleCloud`` (the ``azure``/``gcp`` clients) are
other products with other prices, not instrumented either.

Also wrapped: the tracer lookup and the span start of the SDK's own tracing hook, so that a
call tokentrail traces has one span (see ``native``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from ... import names as sc
from ...telemetry.emitter import Call
from ...telemetry.records import EMPTY_RESPONSE, Request, Response
from ...telemetry.stream import watch
from .._base import Operation, Patch, patch
from .._content import input_attributes
from .._sdk import ClientCache, given_float, given_int, given_str
from . import extractors as ex
from . import native
from .streams import CompletionStreamAccumulator


class _MistralOperation(Operation):
    operation: ClassVar[str]
    #: the method returns an event stream
    streams: ClassVar[bool] = False

    def __init__(self, runtime: Any, asynchronous: bool = False) -> None:
        super().__init__(runtime, asynchronous)
        self._endpoints = ClientCache()

    def prompt(self, kwargs: dict[str, Any]) -> Any:
        """The request's content (estimates, and content capture)."""
        raise NotImplementedError

    def request(self, instance: Any, args: tuple, kwargs: dict[str, Any]) -> Request:
        endpoint = ex.endpoint_of(instance, kwargs.get("server_url"), self._endpoints)
        prompt = self.prompt(kwargs)
        attributes = input_attributes(prompt) if self.capture_content else None
        return Request(
            self.operation,
            endpoint.provider,
            given_str(kwargs.get("model")),
            server_address=endpoint.address,
            server_port=endpoint.port,
            stream=self.streams,
            max_tokens=given_int(kwargs.get("max_tokens")),
            temperature=given_float(kwargs.get("temperature")),
            attributes=attributes,
            prompt=prompt,
        )

    def result(self, call: Call, result: Any) -> Any:
        if not self.streams:
            call.end(self.response(result))
            return result
        if result is None:  # typed Optional by the SDK; never seen
            call.end(EMPTY_RESPONSE)
            return result
        accumulator = CompletionStreamAccumulator(
            prompt=call.request.prompt, capture_content=self.capture_content
        )
        return watch(result, call, accumulator, asynchronous=self.asynchronous)

    def response(self, result: Any) -> Response:
        return ex.completion_response(result, capture_content=self.capture_content)


class Chat(_MistralOperation):
    site = "mistralai.chat"
    operation = sc.OP_CHAT

    def prompt(self, kwargs: dict[str, Any]) -> Any:
        return ex.plain_messages(kwargs.get("messages"))


class ChatStream(Chat):
    site = "mistralai.chat_stream"
    streams = True


class Fim(_MistralOperation):
    """Fill-in-the-middle: the code before the gap (``prompt``) and after it (``suffix``)."""

    site = "mistralai.fim"
    operation = sc.OP_TEXT_COMPLETION

    def prompt(self, kwargs: dict[str, Any]) -> Any:
        return [t for t in (kwargs.get("prompt"), kwargs.get("suffix")) if isinstance(t, str) and t]


class FimStream(Fim):
    site = "mistralai.fim_stream"
    streams = True


class Embeddings(_MistralOperation):
    site = "mistralai.embeddings"
    operation = sc.OP_EMBEDDINGS
    max_tokens_arguments = ()

    def prompt(self, kwargs: dict[str, Any]) -> Any:
        return kwargs.get("inputs")

    def response(self, result: Any) -> Response:
        return ex.embeddings_response(result)


#: where each major version keeps the resources: 2.x and 3.x, then 1.x (in 1.x
#: ``mistralai.client`` is the retired 0.x client, in 3.x ``mistralai`` is a namespace package)
_PACKAGES = ("mistralai.client", "mistralai")


def patches() -> Iterable[Patch]:
    for package in _PACKAGES:
        for module, cls, methods in (
            ("chat", "Chat", (("complete", Chat), ("stream", ChatStream))),
            ("fim", "Fim", (("complete", Fim), ("stream", FimStream))),
            ("embeddings", "Embeddings", (("create", Embeddings),)),
        ):
            for method, operation in methods:
                target = f"{package}.{module}"
                yield patch(target, f"{cls}.{method}", operation, asynchronous=False)
                yield patch(target, f"{cls}.{method}_async", operation, asynchronous=True)
    for module in native.HOOK_MODULES:
        # skipped where the SDK has no tracing hook (mistralai < 1.10)
        for name, wrapper in (
            (native.TRACER_LOOKUP, native.get_or_create_otel_tracer),
            (native.SPAN_START, native.get_traced_request_and_span),
        ):
            yield Patch(module, native.HOOK_SUBMODULE, name, lambda runtime, w=wrapper: w)
