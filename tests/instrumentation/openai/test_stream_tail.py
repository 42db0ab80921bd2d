"""``CompletionStreamTail`` (the usual stream, read from its last chunks) reports what
``CompletionStreamAccumulator`` (chunk by chunk) reports, for every shape of stream it is
used for; streams with several choices go to the latter."""

from __future__ import annotations

import pytest
from openai.types.chat import ChatCompletionChunk

from tokentrail.instrumentation.openai.streams import (
    CompletionStreamAccumulator,
    CompletionStreamTail,
)

USAGE = {
    "prompt_tokens": 120,
    "completion_tokens": 30,
    "total_tokens": 150,
    "prompt_tokens_details": {"cached_tokens": 100},
    "completion_tokens_details": {"reasoning_tokens": 10},
}


def chunk(choices, usage=None, **extra):
    return ChatCompletionChunk.model_validate(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-4o-mini-2024-07-18",
            "service_tier": "default",
            "choices": choices,
            "usage": usage,
            **extra,
        }
    )


def delta(text=None, finish=None, index=0):
    return {"index": index, "delta": {"content": text}, "finish_reason": finish}


def content(n):
    return [chunk([delta("word ")]) for _ in range(n)]


STREAMS = {
    # include_usage: the finishing chunk, then a chunk with the usage and no choice
    "caller's include_usage": [*content(5), chunk([delta(None, "stop")]), chunk([], USAGE)],
    # Together, Fireworks: the usage on the finishing chunk
    "usage on the finishing chunk": [*content(5), chunk([delta(None, "length")], USAGE)],
    # Groq: in x_groq, on the finishing chunk
    "x_groq": [*content(5), chunk([delta(None, "stop")], x_groq={"usage": USAGE})],
    "no usage (estimated)": [*content(5), chunk([delta(None, "stop")])],
    "broken off early (estimated)": content(3),
    "one chunk": [chunk([delta("hi", "stop")], USAGE)],
    "nothing": [],
}


@pytest.mark.parametrize("chunks", STREAMS.values(), ids=STREAMS.keys())
def test_the_tail_reports_what_the_chunks_report(chunks):
    tail = CompletionStreamTail(prompt="Summarize the report.")
    each = CompletionStreamAccumulator(hide_usage_chunk=False, prompt="Summarize the report.")
    for item in chunks:
        assert tail.add(item) is True
        each.add(item)

    got, expected = tail.response(), each.response()

    assert got.usage == expected.usage
    assert (got.model, got.id, got.finish_reasons, got.price_context) == (
        expected.model,
        expected.id,
        expected.finish_reasons,
        expected.price_context,
    )


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"stream_options": {"include_usage": True}}, CompletionStreamTail),
        ({"stream_options": {"include_usage": True}, "n": 2}, CompletionStreamAccumulator),
        ({}, CompletionStreamAccumulator),  # tokentrail asks for usage: a chunk to hide
    ],
    ids=["caller's usage", "two choices", "injected usage"],
)
def test_which_streams_are_read_from_their_tail(client, kwargs, expected):
    """``n=2``: each choice finishes on a chunk of its own, which the tail would miss."""
    from tokentrail.attribution import EMPTY
    from tokentrail.instrumentation.openai.patch import ChatCompletions
    from tokentrail.runtime import Runtime

    runtime = Runtime()
    try:
        op = ChatCompletions(runtime)
        kwargs = {"model": "gpt-4o-mini", "messages": [], "stream": True, **kwargs}
        request = op.request(client.chat.completions, (), kwargs)
        _, state = op.prepare(request, client.chat.completions, kwargs)
        call = op.emitter.start(request, EMPTY, state=state, with_span=False)
        accumulator = op.accumulator(call)
    finally:
        runtime.close()  # a runtime left open keeps tracking web routes for later tests

    assert type(accumulator) is expected
