"""Streams (``completion(stream=True)``, ``acompletion(stream=True)``): the caller gets a
``CustomStreamWrapper`` that yields what LiteLLM yields; the call ends once, when the stream is
drained, closed, left (``with``), dropped, or fails; its usage is the provider's whether or not
the caller asked to see it, and estimated only when the provider sent none."""

from __future__ import annotations

import litellm
import openai
import pytest
from litellm.litellm_core_utils.streaming_handler import CustomStreamWrapper
from opentelemetry.trace import StatusCode

from tests.instrumentation.driver import collected

from .conftest import MESSAGES, ROUTES

ANTHROPIC = ROUTES["anthropic"]


def _plain_usage(api, model: str):
    """The usage of the same request unstreamed (the fakes derive usage from the prompt)."""
    with_litellm = litellm.completion(messages=MESSAGES, **api.route(model))
    return with_litellm.usage


def _usage_attributes(span) -> tuple[int, int]:
    return span.attributes["gen_ai.usage.input_tokens"], span.attributes[
        "gen_ai.usage.output_tokens"
    ]


@pytest.mark.parametrize("route", ["anthropic", "gemini", "mistral"])
def test_a_drained_stream_has_the_providers_usage_without_asking(api, instrumented, route):
    """The caller did not ask for usage and sees none; LiteLLM read it (and kept it in the
    wrapper): the span has it, priced, not estimated."""
    model = ROUTES[route]
    stream = api.completion(messages=MESSAGES, stream=True, **api.route(model))
    assert isinstance(stream, CustomStreamWrapper)
    chunks = api.drain(stream)

    assert chunks
    assert not any(getattr(c, "usage", None) for c in chunks)
    span = instrumented.span()
    assert span.attributes["gen_ai.request.stream"] is True
    assert span.attributes["tokentrail.cost.status"] == "priced"
    instrumented.clear()
    usage = _plain_usage(api, model)
    assert _usage_attributes(span) == (usage.prompt_tokens, usage.completion_tokens)
    assert instrumented.count("gen_ai.client.operation.time_to_first_chunk") == 1


def test_usage_the_caller_asked_for_is_on_its_last_chunk_and_the_span(api, instrumented):
    stream = api.completion(
        messages=MESSAGES, stream=True, stream_options={"include_usage": True},
        **api.route(ANTHROPIC),
    )  # fmt: skip
    chunks = api.drain(stream)

    usage = chunks[-1].usage
    assert usage is not None
    assert _usage_attributes(instrumented.span()) == (usage.prompt_tokens, usage.completion_tokens)


def test_the_openai_route_streams_usage_from_api_openai_com(api, instrumented):
    """LiteLLM asks api.openai.com for stream usage itself."""
    chunks = api.drain(api.completion(messages=MESSAGES, stream=True, **api.openai()))

    span = instrumented.span()
    assert span.attributes["tokentrail.cost.status"] == "priced"
    assert span.attributes["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) >= 8


def test_a_host_that_sends_no_stream_usage_is_estimated(api, instrumented):
    """An OpenAI-compatible host LiteLLM does not ask for usage (the fake then sends none):
    the prompt's estimate and one token per content chunk, marked estimated."""
    api.drain(api.completion(messages=MESSAGES, stream=True, **api.route("gpt-4o-mini")))

    span = instrumented.span()
    assert span.attributes["tokentrail.cost.status"] == "estimated"
    assert span.attributes["gen_ai.usage.input_tokens"] > 0
    assert span.attributes["gen_ai.usage.output_tokens"] >= 8


def test_a_stream_left_early_and_closed_ends_at_close(api, instrumented):
    if not hasattr(CustomStreamWrapper, "aclose" if api.asynchronous else "close"):
        pytest.skip("this LiteLLM's streams cannot be closed this way")
    stream = api.completion(messages=MESSAGES, stream=True, **api.route(ANTHROPIC))
    api.take(stream, 2)
    assert instrumented.spans() == []

    api.close(stream)

    span = instrumented.span()
    assert span.status.status_code is StatusCode.UNSET
    # what arrived: the exact input (Anthropic's first event), the output as received
    assert span.attributes["tokentrail.cost.status"] == "estimated"
    assert (
        span.attributes["gen_ai.usage.input_tokens"] == _plain_usage(api, ANTHROPIC).prompt_tokens
    )
    assert span.attributes["gen_ai.usage.output_tokens"] >= 2


def test_a_stream_read_in_a_with_block_ends_when_it_is_left(api, instrumented):
    if not hasattr(CustomStreamWrapper, "__enter__"):
        pytest.skip("this LiteLLM's streams are no context managers")
    stream = api.completion(messages=MESSAGES, stream=True, **api.route(ANTHROPIC))
    items = api.in_block(stream, n=3, yields_itself=True)

    assert len(items) == 3
    assert len(instrumented.spans()) == 1


def test_a_dropped_stream_is_reported_when_collected(api, instrumented):
    stream = api.completion(messages=MESSAGES, stream=True, **api.route(ANTHROPIC))
    api.take(stream, 1)
    del stream
    collected()

    assert len(instrumented.spans()) == 1


def test_a_connection_lost_mid_stream_is_an_error_with_what_arrived(api, instrumented):
    """The request was sent and partly answered: billed, so its usage is estimated from
    the prompt and the chunks that arrived, never $0."""
    api.providers.anthropic.break_next_stream(after=4)
    stream = api.completion(messages=MESSAGES, stream=True, **api.route(ANTHROPIC))

    with pytest.raises(openai.APIError) as raised:  # LiteLLM's errors subclass openai's
        api.drain(stream)

    span = instrumented.span()
    name = type(raised.value).__qualname__
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == name
    assert span.attributes["tokentrail.cost.status"] == "estimated"
    assert span.attributes["gen_ai.usage.cost"] > 0
