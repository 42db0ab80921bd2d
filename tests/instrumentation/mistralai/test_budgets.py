"""A blocking budget refuses a mistralai call before anything is sent (plain, streamed,
fill-in-the-middle, sync and async), and an allowed call settles to its actual cost."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tokentrail import Budget, BudgetExceededError
from tokentrail.testing import capture

from .conftest import CHAT, FIM

HOW = ["chat", "stream", "fim"]


def call(api, how: str) -> None:
    if how == "chat":
        api.call("chat.complete", **CHAT, max_tokens=256)
    elif how == "stream":
        api.drain(api.call("chat.stream", **CHAT, max_tokens=256))
    else:
        api.call("fim.complete", **FIM, max_tokens=256)


@pytest.mark.parametrize("how", HOW)
def test_a_blocking_budget_refuses_before_sending(api, how):
    with capture(budgets=[Budget("cap", "0.000001", "day", action="block")]) as telemetry:
        with pytest.raises(BudgetExceededError) as refused:
            call(api, how)

        assert api.fake.requests == []
        assert refused.value.budget == "cap"
        span = telemetry.span()
        assert span.attributes["error.type"] == "BudgetExceededError"
        assert span.attributes["gen_ai.provider.name"] == "mistral_ai"


@pytest.mark.parametrize("how", HOW)
def test_an_allowed_call_settles_to_its_cost(api, how):
    with capture(budgets=[Budget("cap", "10", "day", action="block")]) as telemetry:
        call(api, how)

        cost = telemetry.span().attributes["gen_ai.usage.cost"]
        spent = telemetry.value("tokentrail.budget.spent.usd", {"tokentrail.budget.name": "cap"})
        assert Decimal(str(spent)) == pytest.approx(Decimal(str(cost)))
        assert cost > 0
