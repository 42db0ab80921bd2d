"""OpenAI traffic of the demo: what a small product's backend would send."""

from __future__ import annotations

from typing import Any

from ...fakes.openai import FakeOpenAI
from .workload import Step

#: a long, stable system prompt: after the first call it is served from the prompt cache
SUPPORT_PROMPT = (
    "You are the support assistant of Acme Cloud. Answer briefly, cite the docs, never invent "
    "prices, escalate billing disputes to a human. "
) * 60


def steps(fake: FakeOpenAI) -> list[Step]:
    import openai

    client = fake.client()
    aclient = fake.async_client()

    search_calls = 0

    def search() -> Any:
        nonlocal search_calls
        search_calls += 1
        if search_calls == 2:
            fake.fail_next(503)  # the one failing call: the provider has a bad moment
        return client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[
                {"role": "system", "content": "Rewrite the query for a search engine."},
                {"role": "user", "content": "cheapest region for GPU instances in europe"},
            ],
            max_tokens=64,
            temperature=0.2,
        )

    def support() -> Any:
        stream = client.chat.completions.create(
            model="gpt-4o",
            messages=[
                {"role": "system", "content": SUPPORT_PROMPT},
                {"role": "user", "content": "My invoice shows two charges for March."},
            ],
            stream=True,
        )
        return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

    async def summarize() -> Any:
        stream = await aclient.responses.create(
            model="gpt-4.1-mini",
            input="Summarize this incident report for the status page: " + "details " * 300,
            max_output_tokens=300,
            stream=True,
        )
        async for _ in stream:
            pass

    def plan() -> Any:
        return client.responses.create(
            model="o4-mini",
            input="Plan the migration of 40 services to the new cluster, in phases.",
            max_output_tokens=2000,
        )

    def index() -> Any:
        return client.embeddings.create(
            model="text-embedding-3-small",
            input=[f"doc {i}: how to rotate API keys safely" for i in range(8)],
        )

    def experiment() -> Any:
        # a fine-tuned model no price list knows: counted as unpriced, never as $0
        return client.chat.completions.create(
            model="acme-support-ft-v2",
            messages=[{"role": "user", "content": "Classify: 'refund please'"}],
            max_tokens=16,
        )

    user = {"user_id": "u-1042", "endpoint": "/api/search"}
    return [
        Step(
            "search · query rewrite",
            {"feature": "search", "team": "core", **user},
            search,
            weight=3,
            expected_errors=(openai.APIStatusError,),
        ),
        Step(
            "support · streamed answer (cached prompt)",
            {"feature": "support-bot", "team": "cx", "user_id": "u-7", "endpoint": "/api/chat"},
            support,
            weight=2,
        ),
        Step(
            "summarize · async stream",
            {"feature": "summarize", "team": "core", "endpoint": "/api/summarize"},
            acall=summarize,
        ),
        Step("planner · reasoning model", {"feature": "planner", "team": "platform"}, plan),
        Step("indexing · embeddings", {"feature": "indexing", "team": "search-infra"}, index),
        Step(
            "experiments · fine-tuned model",
            {"feature": "experiments", "team": "research"},
            experiment,
        ),
    ]
