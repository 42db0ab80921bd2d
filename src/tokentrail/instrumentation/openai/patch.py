"""The openai methods tokentrail wraps, and how each call is read.

Patched (sync and async): ``chat.completions.create`` and ``.parse``, ``responses.create``
and ``.parse``, ``embeddings.create`` and the legacy ``completions.create``. The ``.stream()``
helpers are not patched: they call ``create(stream=True)``, which is, so each call is counted
once. ``responses.retrieve`` reads a response that was already billed and is not patched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from ... import names as sc
from ...telemetry.emitter import Call
from ...telemetry.records import EMPTY_RESPONSE, Request, Response
from ...telemetry.stream import filtered, watch
from .._base import Operation, Patch, patch, raw_response_mode
from .._content import input_attributes
from .._sdk import ClientCache, Endpoint, first_given_int, given_float, given_int, given_str
from . import extractors as ex
from .streams import (
    CapturingCompletionStreamAccumulator,
    CompletionStreamAccumulator,
    CompletionStreamTail,
    ResponsesStreamAccumulator,
    usage_only,
)


class Sent:
    """How a call was sent (``Call.state``): through ``with_raw_response`` /
    ``with_streaming_response`` (``raw``: the SDK's marker), whether tokentrail added
    ``stream_options.include_usage`` itself (then the usage-only chunk is hidden), and
    whether a stream has several choices (``n``: each finishes on a chunk of its own)."""

    __slots__ = ("injected_usage", "raw", "several_choices")

    def __init__(
        self, raw: str | None, injected_usage: bool = False, several_choices: bool = False
    ) -> None:
        self.raw = raw
        self.injected_usage = injected_usage
        self.several_choices = several_choices


_PLAIN = Sent(None)
_SEVERAL_CHOICES = Sent(None, several_choices=True)


class _OpenAIOperation(Operation):
    operation: ClassVar[str]
    #: the request argument holding the prompt (for content capture and estimates)
    prompt_argument: ClassVar[str]

    def __init__(self, runtime: Any, asynchronous: bool = False) -> None:
        super().__init__(runtime, asynchronous)
        self._endpoints = ClientCache()

    def endpoint(self, instance: Any) -> Endpoint:
        return ex.endpoint_of(instance._client, self.runtime.stream_usage_hosts, self._endpoints)

    def request(self, instance: Any, args: tuple, kwargs: dict[str, Any]) -> Request:
        endpoint = self.endpoint(instance)
        prompt = kwargs.get(self.prompt_argument)
        attributes = input_attributes(prompt) if self.capture_content else None
        return Request(
            self.operation,
            endpoint.provider,
            given_str(kwargs.get("model")),
            server_address=endpoint.address,
            server_port=endpoint.port,
            stream=kwargs.get("stream") is True,
            max_tokens=first_given_int(kwargs, self.max_tokens_arguments),
            temperature=given_float(kwargs.get("temperature")),
            attributes=attributes,
            prompt=prompt,
        )

    def prepare(
        self, request: Request, instance: Any, kwargs: dict[str, Any]
    ) -> tuple[dict[str, Any], Sent]:
        mode = raw_response_mode(kwargs)
        return kwargs, _PLAIN if mode is None else Sent(mode)

    def result(self, call: Call, result: Any) -> Any:
        sent = call.state or _PLAIN
        mode = sent.raw
        if mode is None:
            if call.request.stream:
                return watch(
                    result,
                    call,
                    self.accumulator(call),
                    asynchronous=self.asynchronous,
                    hidden=self.hidden(call),
                )
            call.end(self.response(result))
        elif mode == "stream" or call.request.stream:
            # with_streaming_response (body unread) or a raw stream the caller reads itself:
            # reading usage would consume it, so this call stays unpriced
            call.end(EMPTY_RESPONSE)
        else:
            # with_raw_response: openai's LegacyAPIResponse.parse() is synchronous (also on the
            # async client) and cached, so the caller's own .parse() gets the same object
            call.end(self.response(result.parse()))
        return result

    def passthrough(self, call: Call, result: Any) -> Any:
        """``result`` could not be read: the usage chunk tokentrail asked for stays hidden."""
        hidden = self.hidden(call)
        if hidden is None or not call.request.stream:
            return result
        return filtered(result, hidden, asynchronous=self.asynchronous)

    def hidden(self, call: Call) -> Any:
        """What the caller must not see of the call's stream: the usage-only chunk, when
        tokentrail asked for it (the caller did not)."""
        state = call.state
        return usage_only if state is not None and state.injected_usage else None

    def accumulator(self, call: Call) -> Any:
        raise NotImplementedError


class ChatCompletions(_OpenAIOperation):
    site = "openai.chat"
    operation = sc.OP_CHAT
    prompt_argument = "messages"
    max_tokens_arguments = ("max_completion_tokens", "max_tokens")

    def prepare(
        self, request: Request, instance: Any, kwargs: dict[str, Any]
    ) -> tuple[dict[str, Any], Sent]:
        """Ask for usage on streams, where the host is known to accept it and the caller did
        not say either way; the extra usage-only chunk is then hidden from the caller."""
        mode = raw_response_mode(kwargs)
        if mode is not None:
            return kwargs, Sent(mode)
        if not request.stream:
            return kwargs, _PLAIN
        several = given_int(kwargs.get("n")) not in (None, 1)
        options = kwargs.get("stream_options")
        if isinstance(options, Mapping) and "include_usage" in options:
            return kwargs, _SEVERAL_CHOICES if several else _PLAIN
        if not self.endpoint(instance).accepts_stream_usage:
            return kwargs, _SEVERAL_CHOICES if several else _PLAIN
        options = (
            {**options, "include_usage": True}
            if isinstance(options, Mapping)
            else {"include_usage": True}
        )
        return {**kwargs, "stream_options": options}, Sent(None, True, several)

    def response(self, result: Any) -> Response:
        return ex.chat_response(result, capture_content=self.capture_content)

    def accumulator(self, call: Call) -> Any:
        """The usual stream (one choice, nothing to hide, no content to keep) is read from
        its last chunks; the others chunk by chunk."""
        sent = call.state or _PLAIN
        hide = sent.injected_usage
        if self.capture_content:
            return CapturingCompletionStreamAccumulator(
                hide_usage_chunk=hide, prompt=call.request.prompt
            )
        if hide or sent.several_choices:
            return CompletionStreamAccumulator(hide_usage_chunk=hide, prompt=call.request.prompt)
        return CompletionStreamTail(prompt=call.request.prompt)


class LegacyCompletions(ChatCompletions):
    site = "openai.completions"
    operation = sc.OP_TEXT_COMPLETION
    prompt_argument = "prompt"
    max_tokens_arguments = ("max_tokens",)


class Responses(_OpenAIOperation):
    site = "openai.responses"
    operation = sc.OP_CHAT
    prompt_argument = "input"
    max_tokens_arguments = ("max_output_tokens",)

    def response(self, result: Any) -> Response:
        return ex.responses_response(result, capture_content=self.capture_content)

    def accumulator(self, call: Call) -> Any:
        return ResponsesStreamAccumulator(
            prompt=call.request.prompt,
            capture_content=self.capture_content,
        )


class Embeddings(_OpenAIOperation):
    site = "openai.embeddings"
    operation = sc.OP_EMBEDDINGS
    prompt_argument = "input"
    max_tokens_arguments = ()

    def response(self, result: Any) -> Response:
        return ex.embeddings_response(result)


def patches() -> Iterable[Patch]:
    chat = "openai.resources.chat.completions"
    beta_chat = "openai.resources.beta.chat.completions"  # parse lived here before 1.92
    for module, target, operation in (
        (chat, "Completions.create", ChatCompletions),
        (chat, "Completions.parse", ChatCompletions),
        (beta_chat, "Completions.parse", ChatCompletions),
        ("openai.resources.completions", "Completions.create", LegacyCompletions),
        ("openai.resources.responses", "Responses.create", Responses),
        ("openai.resources.responses", "Responses.parse", Responses),
        ("openai.resources.embeddings", "Embeddings.create", Embeddings),
    ):
        yield patch(module, target, operation, asynchronous=False)
        yield patch(module, "Async" + target, operation, asynchronous=True)
