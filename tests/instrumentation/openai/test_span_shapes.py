"""What the span contract means for openai's call shapes (the contract itself is
tests/contract/test_span_contract.py): where ``gen_ai.request.max_tokens`` comes from, and the
content of legacy completions and embeddings."""

from __future__ import annotations

import json

import pytest

import tokentrail

from .conftest import MESSAGES


@pytest.mark.parametrize(
    ("method", "kwargs", "expected"),
    [
        pytest.param(
            "chat.completions.create",
            {"model": "gpt-4o", "messages": MESSAGES, "max_tokens": 300},
            300,
            id="chat-max_tokens",
        ),
        pytest.param(
            "chat.completions.create",
            {"model": "o4-mini", "messages": MESSAGES, "max_completion_tokens": 700},
            700,
            id="chat-max_completion_tokens",
        ),
        pytest.param(
            "responses.create",
            {"model": "gpt-4o", "input": "hi", "max_output_tokens": 250},
            250,
            id="responses-max_output_tokens",
        ),
        pytest.param(
            "completions.create",
            {"model": "gpt-3.5-turbo-instruct", "prompt": "hi", "max_tokens": 64},
            64,
            id="legacy-max_tokens",
        ),
        pytest.param(
            "chat.completions.create", {"model": "gpt-4o", "messages": MESSAGES}, None, id="absent"
        ),
    ],
)
def test_request_max_tokens(api, instrumented, method, kwargs, expected):
    """``gen_ai.request.max_tokens`` comes from ``max_tokens``/``max_completion_tokens``
    (chat) and ``max_output_tokens`` (responses); absent when the request has none."""
    api.call(method, **kwargs)

    assert instrumented.span().attributes.get("gen_ai.request.max_tokens") == expected


def test_capture_content_of_legacy_completions_and_embeddings(telemetry, fake):
    """Legacy completions: the prompt(s) and the completion text; embeddings: the inputs
    (a batch of strings is a batch of user messages)."""
    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        capture_content=True,
    )
    try:
        client = fake.client()
        completion = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Say hi")
        client.embeddings.create(model="text-embedding-3-small", input=["first", "second"])
        client.embeddings.create(model="text-embedding-3-small", input=[[101, 2023]])
    finally:
        tokentrail.uninstrument()

    legacy, embeddings, token_ids = (s.attributes for s in telemetry.spans())
    assert json.loads(legacy["gen_ai.output.messages"]) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": completion.choices[0].text}],
            "finish_reason": "length",
        }
    ]
    assert json.loads(embeddings["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "first"}]},
        {"role": "user", "parts": [{"type": "text", "content": "second"}]},
    ]
    assert "gen_ai.input.messages" not in token_ids
