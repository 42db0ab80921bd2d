"""``FakeAnthropic`` behaves like the Messages API where tokentrail's numbers depend on it:
prompt caching (writes, then reads; 5-minute and 1-hour TTLs; a minimum length), thinking
and web-search usage, streams that add up to the same message, token counting."""

from __future__ import annotations

import warnings

import pytest

from tokentrail.fakes.anthropic import FakeAnthropic

from .conftest import MESSAGES, MODEL, REQUEST

LONG = "You answer questions about the attached annual report, citing its sections. " * 150


def cached_system(ttl: str | None = None) -> list[dict]:
    control = {"type": "ephemeral", **({"ttl": ttl} if ttl else {})}
    return [{"type": "text", "text": LONG, "cache_control": control}]


@pytest.fixture
def client():
    return FakeAnthropic().client(open_telemetry=False)


@pytest.mark.parametrize(("ttl", "field"), [(None, "5m"), ("1h", "1h")])
def test_a_cached_prefix_is_written_once_then_read(client, ttl, field):
    first = client.messages.create(**REQUEST, system=cached_system(ttl)).usage
    second = client.messages.create(**REQUEST, system=cached_system(ttl)).usage

    written = first.cache_creation_input_tokens
    assert written > 2048
    assert getattr(first.cache_creation, f"ephemeral_{field}_input_tokens") == written
    assert first.cache_read_input_tokens == 0
    assert second.cache_read_input_tokens == written
    assert second.cache_creation_input_tokens == 0
    assert second.input_tokens == first.input_tokens  # the uncached rest


def test_a_prefix_below_the_minimum_is_not_cached(client):
    short = [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]
    for _ in range(2):
        usage = client.messages.create(**REQUEST, system=short).usage
        assert usage.cache_creation_input_tokens == usage.cache_read_input_tokens == 0


def test_thinking_and_web_search_add_their_usage(client):
    message = client.messages.create(
        **{**REQUEST, "max_tokens": 2000},
        thinking={"type": "enabled", "budget_tokens": 1024},
        tools=[{"type": "web_search_20250305", "name": "web_search", "max_uses": 3}],
    )

    assert message.usage.output_tokens_details.thinking_tokens > 0
    assert message.usage.output_tokens <= 2000
    assert message.usage.server_tool_use.web_search_requests == 1
    assert [block.type for block in message.content] == [
        "thinking", "server_tool_use", "web_search_tool_result", "text",
    ]  # fmt: skip


def test_a_stream_adds_up_to_the_message_it_streams():
    fake = FakeAnthropic(stream_chunks=7)
    client = fake.client(open_telemetry=False)
    request = {**REQUEST, "thinking": {"type": "enabled", "budget_tokens": 100}}
    with client.messages.stream(**request) as stream:
        events = list(stream)
        streamed = stream.get_final_message()

    expected = fake.message_body(request)
    assert sum(1 for e in events if e.type == "text") == 7
    assert streamed.usage.model_dump(exclude_none=True) == expected["usage"]
    assert streamed.content[-1].text.split() == expected["content"][-1]["text"].split()


def test_count_tokens_counts_what_create_would_bill(client):
    counted = client.messages.count_tokens(model=MODEL, messages=MESSAGES)
    usage = client.messages.create(**REQUEST).usage
    assert counted.input_tokens == usage.input_tokens


def test_the_models_it_suggests_are_current_and_raise_no_deprecation_warning(client):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for model in ("claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-1"):
            client.messages.create(**{**REQUEST, "model": model})


def test_vertex_and_bedrock_paths_answer_with_the_model_of_the_path():
    fake = FakeAnthropic()
    vertex = fake.vertex_client().messages.create(
        model="claude-haiku-4-5@20251001", max_tokens=64, messages=MESSAGES
    )
    bedrock = fake.bedrock_client().messages.create(
        model="anthropic.claude-haiku-4-5-20251001-v1:0", max_tokens=64, messages=MESSAGES
    )
    assert vertex.model == "claude-haiku-4-5@20251001"
    assert bedrock.model == "anthropic.claude-haiku-4-5-20251001-v1:0"
    assert [path for path, _ in fake.requests] == [
        "/v1/projects/fake-project/locations/us-east5/publishers/anthropic/models/"
        "claude-haiku-4-5@20251001:rawPredict",
        "/model/anthropic.claude-haiku-4-5-20251001-v1:0/invoke",
    ]
