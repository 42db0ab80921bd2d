"""Attribution of Bedrock calls: ``tokentrail.attribute`` around a call, and around the
creation of a stream (attribution is captured when the call starts, not when it is read)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tokentrail import attribute
from tokentrail.attribution import bind

from .conftest import CONVERSE, converse, invoke

KEYS = ("tokentrail.feature", "tokentrail.team", "tokentrail.endpoint", "user.id")


def attribution_of(span) -> dict:
    return {k: v for k, v in span.attributes.items() if k in KEYS}


def test_a_call_carries_the_attribution_on_its_span_and_metrics(instrumented, client):
    with attribute(feature="search", team="core", endpoint="/ask", user_id="u-42"):
        converse(client)

    assert attribution_of(instrumented.span()) == {
        "tokentrail.feature": "search",
        "tokentrail.team": "core",
        "tokentrail.endpoint": "/ask",
        "user.id": "u-42",
    }
    (point,) = instrumented.points("tokentrail.requests")
    assert point.attributes["tokentrail.feature"] == "search"
    assert "user.id" not in point.attributes


def test_a_stream_and_a_body_keep_the_attribution_of_the_call_start(instrumented, client):
    with attribute(feature="chat"):
        stream = client.converse_stream(**CONVERSE)["stream"]
        response = client.invoke_model(
            modelId="meta.llama3-1-70b-instruct-v1:0", body='{"prompt": "hi", "max_gen_len": 9}'
        )
    with attribute(feature="elsewhere"):
        list(stream)
        response["body"].read()

    assert [attribution_of(s) for s in instrumented.spans()] == [
        {"tokentrail.feature": "chat"},
        {"tokentrail.feature": "chat"},
    ]


def test_thread_pools_carry_it_with_bind(instrumented, client):
    with attribute(feature="batch", team="data"), ThreadPoolExecutor(2) as pool:
        list(pool.map(bind(lambda family: invoke(client, family)), ["meta", "nova"]))

    assert [attribution_of(s) for s in instrumented.spans()] == [
        {"tokentrail.feature": "batch", "tokentrail.team": "data"}
    ] * 2
