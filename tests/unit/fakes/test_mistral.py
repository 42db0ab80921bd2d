"""The fake Mistral API through the real ``mistralai`` client: usage of plain, streamed and
embedding calls, sync and async, errors and a stream cut mid-way."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("mistralai", reason="needs the mistralai extra")

from tokentrail.fakes.mistral import FakeMistral, mistral_class

try:
    from mistralai.client.errors import SDKError
except ImportError:  # mistralai 1.x
    from mistralai.models import SDKError

MESSAGES = [{"role": "user", "content": "Summarise the quarterly figures in two sentences."}]
MODEL = "mistral-small-latest"


@pytest.fixture
def fake():
    return FakeMistral(stream_chunks=4)


def test_the_client_class_is_the_sdks(fake):
    assert isinstance(fake.client(), mistral_class())


def test_a_completion_and_its_stream_report_the_same_usage(fake):
    client = fake.client()
    plain = client.chat.complete(model=MODEL, messages=MESSAGES)
    events = list(client.chat.stream(model=MODEL, messages=MESSAGES))

    usage = plain.usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens > 0
    assert len(events) == 4
    assert [e.data.usage for e in events[:-1]] == [None] * 3
    assert events[-1].data.usage == usage
    assert events[-1].data.choices[0].finish_reason == plain.choices[0].finish_reason
    text = "".join(e.data.choices[0].delta.content for e in events)
    assert text.split() == plain.choices[0].message.content.split()


def test_the_async_calls_answer_the_same(fake):
    client = fake.client()
    plain = client.chat.complete(model=MODEL, messages=MESSAGES)

    async def run():
        completed = await client.chat.complete_async(model=MODEL, messages=MESSAGES)
        stream = await client.chat.stream_async(model=MODEL, messages=MESSAGES)
        return completed, [event async for event in stream]

    completed, events = asyncio.run(run())
    assert completed.usage == plain.usage
    assert events[-1].data.usage == plain.usage


def test_max_tokens_caps_the_completion(fake):
    response = fake.client().chat.complete(model=MODEL, messages=MESSAGES, max_tokens=5)
    assert response.usage.completion_tokens == 5
    assert response.choices[0].finish_reason == "length"


def test_embeddings_report_prompt_tokens(fake):
    response = fake.client().embeddings.create(model="mistral-embed", inputs=["a b c d", "e f"])
    assert len(response.data) == 2
    assert response.usage.prompt_tokens == response.usage.total_tokens > 0


@pytest.mark.parametrize("status", [400, 401, 429, 500, 503])
def test_errors_are_the_sdks_error_with_the_status(fake, status):
    fake.fail_next(status)
    with pytest.raises(SDKError) as raised:
        fake.client().chat.complete(model=MODEL, messages=MESSAGES)
    assert raised.value.status_code == status


def test_a_connection_lost_mid_stream_raises_the_http_librarys_read_error(fake):
    fake.break_next_stream(after=2)
    received = []
    with pytest.raises(fake.http().ReadError):
        received.extend(fake.client().chat.stream(model=MODEL, messages=MESSAGES))
    assert len(received) == 2
