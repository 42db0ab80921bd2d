"""openai's metrics beyond the contract (tests/contract/test_metrics_contract.py)."""

from __future__ import annotations


def test_embeddings_record_input_tokens_only(instrumented, client):
    """An embedding has no output tokens: ``gen_ai.client.token.usage`` gets input only."""
    client.embeddings.create(model="text-embedding-3-small", input="quarterly figures")

    points = instrumented.points("gen_ai.client.token.usage")
    assert [p.attributes["gen_ai.token.type"] for p in points] == ["input"]
    assert instrumented.span().attributes["gen_ai.operation.name"] == "embeddings"
