"""LiteLLM traffic of the demo: one library in front of several providers, as many apps use it.
A streamed Mistral call, an async one, embeddings, and a ``Router`` whose OpenAI deployment
fails now and then and falls back to Mistral (each attempt is its own span: the failed one
costs nothing).

LiteLLM talks to the fake providers through their loopback servers. It fetches its price list
from the internet when imported unless ``LITELLM_LOCAL_MODEL_COST_MAP`` says not to: the demo
says so before importing it (no network)."""

from __future__ import annotations

import os
from typing import Any

from ...fakes.litellm import FakeProviders
from .workload import Step

GLOSSARY = "Terms: uptime, credits, egress, reserved capacity, burst, invoice. " * 30


def steps(fakes: FakeProviders) -> list[Step]:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True  # its "Give Feedback" banner on each handled failure
    router = litellm.Router(
        model_list=[
            {"model_name": "moderator", "litellm_params": fakes.route("openai/gpt-4.1-nano")},
            {"model_name": "moderator-backup",
             "litellm_params": fakes.route("mistral/mistral-small-latest")},
        ],
        fallbacks=[{"moderator": ["moderator-backup"]}],
        num_retries=0,
    )  # fmt: skip
    moderations = 0

    def translate() -> Any:
        stream = litellm.completion(
            messages=[
                {"role": "system", "content": GLOSSARY},
                {"role": "user", "content": "Translate the release notes into French."},
            ],
            stream=True,
            **fakes.route("mistral/mistral-small-latest"),
        )
        return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

    async def draft() -> Any:
        return await litellm.acompletion(
            messages=[{"role": "user", "content": "Draft the outage post-mortem summary."}],
            max_tokens=400,
            **fakes.route("mistral/mistral-medium-latest"),
        )

    def moderate() -> Any:
        nonlocal moderations
        moderations += 1
        if moderations % 3 == 2:
            fakes.openai.fail_next(500)  # the primary deployment has a bad moment
        return router.completion(
            model="moderator",
            messages=[{"role": "user", "content": "Is this review spam? 'best deal ever!!!'"}],
            max_tokens=16,
        )

    def embed() -> Any:
        return litellm.embedding(
            input=[f"help article {i}: reset your password" for i in range(6)],
            **fakes.route("mistral/mistral-embed"),
        )

    return [
        Step(
            "translate · LiteLLM stream (Mistral)",
            {"feature": "translate", "team": "intl", "endpoint": "/api/translate"},
            translate,
        ),
        Step("drafts · LiteLLM async (Mistral)", {"feature": "drafts", "team": "sre"}, acall=draft),
        Step(
            "moderation · LiteLLM Router with a fallback",
            {"feature": "moderation", "team": "trust", "endpoint": "/api/reviews"},
            moderate,
            weight=3,
        ),
        Step(
            "semantic search · LiteLLM embeddings",
            {"feature": "semantic-search", "team": "search-infra"},
            embed,
        ),
    ]
