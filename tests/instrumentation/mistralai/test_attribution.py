"""Attribution of mistralai calls: spans and metrics carry the ``tokentrail.attribute`` block's
keys (never ``user.id`` on metrics), captured when the call starts, across asyncio tasks."""

from __future__ import annotations

import asyncio

from tokentrail import attribute

from .conftest import CHAT, EMBEDDINGS

KEYS = ("tokentrail.feature", "tokentrail.team", "tokentrail.endpoint", "user.id")


def attribution_of(span):
    return {k: v for k, v in span.attributes.items() if k in KEYS}


def test_calls_in_a_block_are_attributed_on_spans_and_metrics(api, instrumented):
    with attribute(feature="search", team="core", endpoint="/ask", user_id="u-42"):
        api.call("chat.complete", **CHAT)
        api.call("embeddings.create", **EMBEDDINGS)

    for span in instrumented.spans():
        assert attribution_of(span) == {
            "tokentrail.feature": "search",
            "tokentrail.team": "core",
            "tokentrail.endpoint": "/ask",
            "user.id": "u-42",
        }
    for point in instrumented.points("tokentrail.requests"):
        assert point.attributes["tokentrail.feature"] == "search"
        assert "user.id" not in point.attributes
    assert instrumented.value("tokentrail.cost.usd", {"tokentrail.team": "core"}) > 0


def test_a_stream_read_after_its_block_keeps_the_attribution(api, instrumented):
    with attribute(feature="chat-ui", user_id="u-7"):
        stream = api.call("chat.stream", **CHAT)
    with attribute(feature="something-else"):
        api.drain(stream)

    assert attribution_of(instrumented.span()) == {
        "tokentrail.feature": "chat-ui",
        "user.id": "u-7",
    }


def test_asyncio_tasks_keep_their_own_attribution(fake, instrumented):
    client = fake.client()

    async def ask(user):
        with attribute(user_id=user):
            return await client.chat.complete_async(**CHAT)

    async def main():
        with attribute(feature="assistant"):
            await asyncio.gather(*(ask(f"u-{i}") for i in range(4)))

    asyncio.run(main())

    users = sorted(s.attributes["user.id"] for s in instrumented.spans())
    assert users == ["u-0", "u-1", "u-2", "u-3"]
    assert {s.attributes["tokentrail.feature"] for s in instrumented.spans()} == {"assistant"}
