"""Mistral traffic of the demo (mistralai): a support assistant whose long system prompt is
served from the prompt cache, a streamed answer, code completion (fill-in-the-middle with
Codestral) and document embeddings."""

from __future__ import annotations

import inspect
from typing import Any

from ...fakes.mistral import FakeMistral
from .workload import Step

#: the support assistant's stable instructions, sent with a prompt cache key: read from the
#: cache on every call after the first
SUPPORT_PROMPT = (
    "You are the support assistant of Acme Cloud. Answer in the customer's language, cite the "
    "runbook section you used, and escalate billing disputes to a human. "
) * 30

DOCUMENTS = [
    "Runbook 4.2: restart the ingestion worker after a schema change.",
    "Runbook 7.1: a 502 on checkout usually means the payment gateway timed out.",
    "Policy: refunds above 500 EUR need a second approval.",
]


def steps(fake: FakeMistral) -> list[Step]:
    client = fake.client()
    # a cache key routes the calls to the same cache (mistralai >= 2.x takes it)
    cache_key = (
        {"prompt_cache_key": "support-assistant"}
        if "prompt_cache_key" in inspect.signature(client.chat.complete).parameters
        else {}
    )

    def support() -> Any:
        return client.chat.complete(
            model="mistral-medium-latest",
            max_tokens=400,
            **cache_key,
            messages=[
                {"role": "system", "content": SUPPORT_PROMPT},
                {"role": "user", "content": "Mon paiement a échoué deux fois, que faire ?"},
            ],
        )

    def live_answer() -> Any:
        stream = client.chat.stream(
            model="mistral-small-latest",
            messages=[{"role": "user", "content": "Summarise ticket #4411 for the on-call."}],
        )
        for _ in stream:
            pass

    async def autocomplete() -> Any:
        return await client.fim.complete_async(
            model="codestral-latest",
            prompt="def monthly_total(invoices):\n    ",
            suffix="\n    return total",
            max_tokens=64,
        )

    def index() -> Any:
        return client.embeddings.create(model="mistral-embed", inputs=DOCUMENTS)

    return [
        Step(
            "support · cached system prompt",
            {"feature": "support", "team": "customer", "endpoint": "/api/support"},
            support,
            weight=3,
        ),
        Step(
            "on-call summary · Mistral stream",
            {"feature": "oncall", "team": "sre", "user_id": "u-19"},
            live_answer,
        ),
        Step(
            "autocomplete · async Codestral FIM",
            {"feature": "ide-autocomplete", "team": "platform", "endpoint": "/api/complete"},
            acall=autocomplete,
            weight=2,
        ),
        Step(
            "knowledge base · Mistral embeddings",
            {"feature": "kb-index", "team": "customer"},
            index,
        ),
    ]
