"""Usage of streamed chat and legacy completions: tokentrail asks hosts known to accept it for
``stream_options.include_usage`` and hides the extra chunk; elsewhere it estimates."""

from __future__ import annotations

import pytest

import tokentrail
from tokentrail.instrumentation.openai import OpenAIInstrumentor

from .conftest import MESSAGES

VLLM = "http://localhost:8000/v1"


def chat_stream(api, **kwargs):
    stream = api.call(
        "chat.completions.create", model="gpt-4o-mini", messages=MESSAGES, stream=True, **kwargs
    )
    return api.drain(stream)


def sent(api):
    """The body of the last request the fake received."""
    return api.fake.requests[-1][1]


@pytest.mark.parametrize("host", ["openai", "azure"])
def test_usage_is_requested_and_its_chunk_hidden(api, instrumented, host):
    """api.openai.com and Azure: the request carries ``include_usage: true``, the caller never
    sees the usage-only ``choices == []`` chunk, and the call is priced from it."""
    target = api.azure() if host == "azure" else api
    chunks = chat_stream(target)

    assert sent(api)["stream_options"] == {"include_usage": True}
    assert all(chunk.choices for chunk in chunks)
    assert all(chunk.usage is None for chunk in chunks)
    attributes = instrumented.span().attributes
    assert attributes["tokentrail.cost.status"] == "priced"
    assert attributes["gen_ai.usage.input_tokens"] > 0


def test_legacy_completions_stream_usage_is_requested_and_hidden(api, instrumented):
    stream = api.call(
        "completions.create", model="gpt-3.5-turbo-instruct", prompt="Say hi", stream=True
    )
    chunks = api.drain(stream)

    assert sent(api)["stream_options"] == {"include_usage": True}
    assert all(chunk.choices for chunk in chunks)
    assert instrumented.span().attributes["tokentrail.cost.status"] == "priced"


def test_caller_who_asked_for_usage_sees_the_usage_chunk(api, instrumented):
    """When the caller set ``include_usage: true`` the chunk is theirs: it is passed on."""
    chunks = chat_stream(api, stream_options={"include_usage": True})

    assert chunks[-1].choices == []
    assert (
        chunks[-1].usage.prompt_tokens
        == instrumented.span().attributes["gen_ai.usage.input_tokens"]
    )
    assert instrumented.span().attributes["tokentrail.cost.status"] == "priced"


def test_caller_who_declined_usage_is_respected(api, instrumented):
    """``include_usage: false`` is sent as it is; the usage is then estimated."""
    chunks = chat_stream(api, stream_options={"include_usage": False})

    assert sent(api)["stream_options"] == {"include_usage": False}
    assert all(chunk.choices for chunk in chunks)
    assert instrumented.span().attributes["tokentrail.cost.status"] == "estimated"


def test_other_stream_options_are_kept_and_not_mutated(api, instrumented):
    """The caller's ``stream_options`` dict is copied, not changed in place."""
    options = {"include_obfuscation": False}

    chat_stream(api, stream_options=options)

    assert options == {"include_obfuscation": False}
    assert sent(api)["stream_options"] == {"include_obfuscation": False, "include_usage": True}


def test_other_hosts_get_nothing_injected_and_usage_is_estimated(api, instrumented):
    """An OpenAI-compatible server (vLLM on localhost) may reject ``stream_options``: nothing
    is injected, and the usage is estimated from the prompt and the chunks."""
    chunks = chat_stream(api.with_client(base_url=VLLM))

    assert "stream_options" not in sent(api)
    attributes = instrumented.span().attributes
    assert attributes["server.address"] == "localhost"
    assert attributes["server.port"] == 8000
    assert attributes["tokentrail.cost.status"] == "estimated"
    assert attributes["gen_ai.usage.output_tokens"] == sum(1 for c in chunks if c.choices)
    assert attributes["gen_ai.usage.cost"] > 0
    assert instrumented.value("tokentrail.requests", {"tokentrail.cost.status": "estimated"}) == 1


def test_stream_usage_hosts_from_the_environment(api, telemetry, monkeypatch):
    """``TOKENTRAIL_STREAM_USAGE_HOSTS`` adds hosts to the allow-list."""
    monkeypatch.setenv("TOKENTRAIL_STREAM_USAGE_HOSTS", "gpu-box.internal, localhost")
    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    try:
        chunks = chat_stream(api.with_client(base_url=VLLM))
    finally:
        tokentrail.uninstrument()

    assert sent(api)["stream_options"] == {"include_usage": True}
    assert all(chunk.choices for chunk in chunks)
    assert telemetry.span().attributes["tokentrail.cost.status"] == "priced"


def test_stream_usage_hosts_of_the_runtime(api, telemetry):
    """``stream_usage_hosts=`` (instrumentor keyword) adds hosts; ``*`` means any host."""
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        stream_usage_hosts=["*"],
    )
    try:
        chat_stream(api.with_client(base_url="http://127.0.0.1:8080/v1"))
    finally:
        instrumentor.uninstrument()

    assert sent(api)["stream_options"] == {"include_usage": True}
    assert telemetry.span().attributes["tokentrail.cost.status"] == "priced"


def test_allow_list_change_applies_to_a_client_seen_before(api, telemetry, monkeypatch):
    """A client used under one allow-list follows the next ``instrument()``'s list."""
    vllm = api.with_client(base_url=VLLM)
    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    try:
        chat_stream(vllm)
    finally:
        tokentrail.uninstrument()
    assert "stream_options" not in sent(api)

    monkeypatch.setenv("TOKENTRAIL_STREAM_USAGE_HOSTS", "localhost")
    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    try:
        chat_stream(vllm)
    finally:
        tokentrail.uninstrument()
    assert sent(api)["stream_options"] == {"include_usage": True}
