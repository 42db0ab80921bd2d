"""Attribution of LiteLLM calls: what ``tokentrail.attribute`` says when the call starts goes
on its span and metrics, sync and async, also for a stream read later, outside the block, and
for the calls LiteLLM makes from its own threads (``acompletion`` runs ``completion`` in one)."""

from __future__ import annotations

from tokentrail import attribute

from .conftest import MESSAGES, ROUTES

KEYS = ("tokentrail.feature", "tokentrail.team", "tokentrail.endpoint", "user.id")


def attribution_of(span):
    return {k: v for k, v in span.attributes.items() if k in KEYS}


def test_spans_and_metrics_carry_the_attribution(api, instrumented):
    with attribute(feature="search", team="core", endpoint="/ask", user_id="u-42"):
        api.completion(messages=MESSAGES, **api.route(ROUTES["anthropic"]))

    assert attribution_of(instrumented.span()) == {
        "tokentrail.feature": "search",
        "tokentrail.team": "core",
        "tokentrail.endpoint": "/ask",
        "user.id": "u-42",
    }
    (point,) = instrumented.points("tokentrail.requests")
    assert point.attributes["tokentrail.feature"] == "search"
    assert point.attributes["tokentrail.team"] == "core"
    assert "user.id" not in point.attributes


def test_a_stream_keeps_the_attribution_of_its_start(api, instrumented):
    with attribute(feature="chat", team="cx"):
        stream = api.completion(messages=MESSAGES, stream=True, **api.route(ROUTES["gemini"]))
    api.drain(stream)

    assert attribution_of(instrumented.span()) == {
        "tokentrail.feature": "chat",
        "tokentrail.team": "cx",
    }


def test_embeddings_are_attributed(api, instrumented):
    with attribute(feature="indexing"):
        api.embedding(input=["a", "b"], **api.route("mistral/mistral-embed"))

    assert attribution_of(instrumented.span()) == {"tokentrail.feature": "indexing"}
    assert instrumented.value("tokentrail.tokens", {"tokentrail.feature": "indexing"}) > 0
