"""A blocking budget refuses an anthropic call before anything is sent — for ``stream()``
when the manager is entered, since that is where its request goes out — and an allowed call
settles to its actual cost, cache writes included."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tokentrail import Budget, BudgetExceededError
from tokentrail.testing import capture

from .conftest import REQUEST

HOW = ["create", "stream", "helper"]


def call(api, how: str) -> None:
    if how == "create":
        api.call("messages.create", **REQUEST)
    elif how == "stream":
        api.drain(api.call("messages.create", **REQUEST, stream=True))
    else:
        api.final_message(**REQUEST)


@pytest.mark.parametrize("how", HOW)
def test_a_blocking_budget_refuses_before_sending(api, how):
    with capture(budgets=[Budget("cap", "0.000001", "day", action="block")]) as telemetry:
        with pytest.raises(BudgetExceededError):
            call(api, how)

        assert api.fake.requests == []
        assert telemetry.span().attributes["error.type"] == "BudgetExceededError"


@pytest.mark.parametrize("how", HOW)
def test_an_allowed_call_settles_to_its_cost(api, how):
    with capture(budgets=[Budget("cap", "10", "day", action="block")]) as telemetry:
        call(api, how)

        cost = telemetry.span().attributes["gen_ai.usage.cost"]
        spent = telemetry.value("tokentrail.budget.spent.usd", {"tokentrail.budget.name": "cap"})
        assert Decimal(str(spent)) == pytest.approx(Decimal(str(cost)))
        assert cost > 0
