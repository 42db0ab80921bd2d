"""Budgets on LiteLLM calls: a blocking budget refuses before anything is sent, sync and
async, plain and streamed; an allowed call settles to its cost; the caller gets the refusal
as tokentrail's ``BudgetExceededError`` (LiteLLM does not wrap it: it is raised before
LiteLLM runs)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tokentrail import Budget, BudgetExceededError
from tokentrail.testing import capture

from .conftest import MESSAGES, ROUTES

ANTHROPIC = ROUTES["anthropic"]


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_a_blocking_budget_refuses_before_sending(api, stream):
    with capture(budgets=[Budget("cap", "0.000001", "day", action="block")]) as telemetry:
        with pytest.raises(BudgetExceededError):
            api.completion(messages=MESSAGES, stream=stream, **api.route(ANTHROPIC))

        assert api.providers.anthropic.requests == []
        span = telemetry.span()
        assert span.attributes["error.type"] == "BudgetExceededError"
        assert span.attributes["gen_ai.usage.cost"] == 0


def test_embeddings_are_refused_too(api):
    with capture(budgets=[Budget("cap", "0.0000000001", "day", action="block")]):
        with pytest.raises(BudgetExceededError):
            api.embedding(input=["a" * 4000], **api.route("mistral/mistral-embed"))

        assert api.providers.mistral.requests == []


def test_an_allowed_call_settles_to_its_cost(api):
    with capture(budgets=[Budget("cap", "10", "day", action="block")]) as telemetry:
        api.completion(messages=MESSAGES, max_tokens=300, **api.route(ANTHROPIC))

        cost = telemetry.span().attributes["gen_ai.usage.cost"]
        spent = telemetry.value("tokentrail.budget.spent.usd", {"tokentrail.budget.name": "cap"})
        assert cost > 0
        assert Decimal(str(spent)) == pytest.approx(Decimal(str(cost)))
