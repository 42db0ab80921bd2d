"""A blocking budget refuses a Bedrock call before anything is sent (the fake sees no
request), for each operation; an allowed call settles to its actual cost, cache writes
included."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tokentrail import Budget, BudgetExceededError
from tokentrail.testing import capture

from .conftest import converse, converse_stream, invoke, invoke_stream

CALLS = {
    "converse": converse,
    "converse_stream": converse_stream,
    "invoke_model": invoke,
    "invoke_model_stream": invoke_stream,
}


@pytest.mark.parametrize("call", CALLS)
def test_a_blocking_budget_refuses_before_sending(fake, client, call):
    with capture(budgets=[Budget("cap", "0.000001", "day", action="block")]) as telemetry:
        with pytest.raises(BudgetExceededError):
            CALLS[call](client)

        assert fake.requests == []
        span = telemetry.span()
        assert span.attributes["error.type"] == "BudgetExceededError"
        assert span.attributes["gen_ai.provider.name"] == "aws.bedrock"


@pytest.mark.parametrize("call", CALLS)
def test_an_allowed_call_settles_to_its_cost(client, call):
    system = [{"text": "You answer questions about the annual report. " * 150},
              {"cachePoint": {"type": "default"}}]  # fmt: skip
    kwargs = {"system": system} if call.startswith("converse") else {}
    with capture(budgets=[Budget("cap", "10", "day", action="block")]) as telemetry:
        CALLS[call](client, **kwargs)

        span = telemetry.span()
        cost = span.attributes["gen_ai.usage.cost"]
        spent = telemetry.value("tokentrail.budget.spent.usd", {"tokentrail.budget.name": "cap"})
        assert Decimal(str(spent)) == pytest.approx(Decimal(str(cost)))
        assert cost > 0
        if kwargs:
            assert span.attributes["gen_ai.usage.cache_creation.input_tokens"] > 1024


def test_the_worst_case_reserved_reads_the_native_cap(client):
    """A blocking budget reserves the worst case before sending: the prompt and the output
    cap, read from the family's own body (Llama's ``max_gen_len``). A cap too large for the
    room left is refused, a small one passes."""
    budget = Budget("cap", "0.0003", "day", action="block")
    with capture(budgets=[budget]):
        with pytest.raises(BudgetExceededError):
            invoke(client, "meta", max_gen_len=2000)  # 2000 x $0.72/M = $0.00144
        invoke(client, "meta", max_gen_len=50)
