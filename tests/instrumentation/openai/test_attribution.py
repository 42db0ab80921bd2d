"""Attribution of openai calls: ``tokentrail.attribute`` as a context manager and a decorator,
nesting, removal, capture at call start, thread pools (``bind``) and asyncio tasks."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from tokentrail import attribute
from tokentrail.attribution import bind

from .conftest import MESSAGES

KEYS = ("tokentrail.feature", "tokentrail.team", "tokentrail.endpoint", "user.id")


def chat(client, **kwargs):
    return client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, **kwargs)


def attribution_of(span):
    return {k: v for k, v in span.attributes.items() if k in KEYS or k.startswith("tokentrail.x")}


def test_context_manager_attributes_spans_and_metrics(instrumented, client):
    with attribute(feature="search", team="core", endpoint="/ask", user_id="u-42", x_tenant="a"):
        chat(client)

    assert attribution_of(instrumented.span()) == {
        "tokentrail.feature": "search",
        "tokentrail.team": "core",
        "tokentrail.endpoint": "/ask",
        "user.id": "u-42",
        "tokentrail.x_tenant": "a",
    }
    (point,) = instrumented.points("tokentrail.requests")
    assert point.attributes["tokentrail.feature"] == "search"
    assert "user.id" not in point.attributes
    assert "tokentrail.x_tenant" not in point.attributes


def test_nesting_inherits_overrides_and_restores(instrumented, client):
    with attribute(feature="search", team="core"):
        with attribute(feature="rerank", user_id="u-1"):
            chat(client)
        chat(client)
    chat(client)

    inner, outer, outside = (attribution_of(s) for s in instrumented.spans())
    assert inner == {"tokentrail.feature": "rerank", "tokentrail.team": "core", "user.id": "u-1"}
    assert outer == {"tokentrail.feature": "search", "tokentrail.team": "core"}
    assert outside == {}


def test_none_removes_a_key(instrumented, client):
    with attribute(feature="search", team="core"), attribute(team=None):
        chat(client)

    assert attribution_of(instrumented.span()) == {"tokentrail.feature": "search"}


def test_decorator_on_sync_and_async_functions(instrumented, client, async_client):
    @attribute(feature="digest")
    def summarise():
        return chat(client)

    @attribute(feature="digest-async", team="core")
    async def summarise_async():
        return await async_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    summarise()
    asyncio.run(summarise_async())
    chat(client)

    assert [attribution_of(s) for s in instrumented.spans()] == [
        {"tokentrail.feature": "digest"},
        {"tokentrail.feature": "digest-async", "tokentrail.team": "core"},
        {},
    ]


def test_attribution_is_captured_when_the_call_starts(instrumented, client):
    """A stream opened in a block and read after it keeps the block's attribution."""
    with attribute(feature="chat-ui", user_id="u-7"):
        stream = chat(client, stream=True)
    with attribute(feature="something-else"):
        list(stream)

    assert attribution_of(instrumented.span()) == {
        "tokentrail.feature": "chat-ui",
        "user.id": "u-7",
    }


def test_async_stream_read_outside_the_block_keeps_attribution(instrumented, async_client):
    async def main():
        with attribute(feature="chat-ui"):
            stream = await async_client.chat.completions.create(
                model="gpt-4o-mini", messages=MESSAGES, stream=True
            )
        return [chunk async for chunk in stream]

    assert asyncio.run(main())
    assert attribution_of(instrumented.span()) == {"tokentrail.feature": "chat-ui"}


def test_bind_carries_attribution_into_a_thread_pool(instrumented, client):
    """A bare ``executor.submit`` does not copy the context; ``bind()`` does."""
    with attribute(feature="batch"), ThreadPoolExecutor(max_workers=2) as pool:
        pool.submit(bind(chat), client).result()
        pool.submit(chat, client).result()

    bound, bare = instrumented.spans()
    assert attribution_of(bound) == {"tokentrail.feature": "batch"}
    assert attribution_of(bare) == {}


def test_asyncio_tasks_inherit_attribution(instrumented, async_client):
    async def ask(user):
        with attribute(user_id=user):
            await async_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    async def main():
        with attribute(feature="fan-out"):
            await asyncio.gather(*(asyncio.create_task(ask(u)) for u in ("u-1", "u-2")))

    asyncio.run(main())

    assert sorted(
        (s.attributes["tokentrail.feature"], s.attributes["user.id"]) for s in instrumented.spans()
    ) == [("fan-out", "u-1"), ("fan-out", "u-2")]
