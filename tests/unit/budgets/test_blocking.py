"""Blocking budgets through the real openai SDK: the refusal happens before any byte is sent,
reservations settle to the actual cost, and concurrent callers cannot overspend."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import openai
import pytest

import tokentrail
from tests.budget_hammer import call_until_refused
from tokentrail import Budget, BudgetExceededError, attribute
from tokentrail.testing import capture

from .conftest import FIXED_COST, MESSAGES, MODEL, chat, reservation


def spent(telemetry, name: str) -> Decimal:
    value = telemetry.value("tokentrail.budget.spent.usd", {"tokentrail.budget.name": name})
    return Decimal(str(value))


def test_a_refused_call_sends_nothing_and_says_why(fixed_fake):
    """Two calls of $0.00045 fit in $0.001; the third's reservation does not."""
    budget = Budget("cap", "0.001", "day", action="block")
    with capture(budgets=[budget]) as telemetry:
        client = fixed_fake.client()
        chat(client)
        chat(client)
        with pytest.raises(BudgetExceededError) as info:
            chat(client)
        assert len(fixed_fake.requests) == 2  # the refused call made no HTTP request
        error = info.value
        assert isinstance(error, tokentrail.TokenTrailError)
        assert error.budget == "cap"
        assert error.spent_usd == 2 * FIXED_COST  # settled spend, without the refused call
        assert error.limit_usd == Decimal("0.001")
        assert error.reserved_usd == reservation(500)
        refused = telemetry.spans()[-1]
        assert refused.attributes["error.type"] == "BudgetExceededError"
        assert refused.attributes["gen_ai.usage.cost"] == 0  # nothing was billed


def test_an_async_call_is_refused_when_awaited(fixed_fake):
    budget = Budget("cap", "0.0001", "day", action="block")
    with capture(budgets=[budget]):
        client = fixed_fake.async_client()
        create = client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=500)
        with pytest.raises(BudgetExceededError):
            asyncio.run(create)
        assert fixed_fake.requests == []


def test_the_reservation_assumes_4096_output_tokens_without_max_tokens(fixed_fake):
    budget = Budget("cap", "0.0001", "day", action="block")
    with capture(budgets=[budget]), pytest.raises(BudgetExceededError) as info:
        chat(fixed_fake.client(), max_tokens=None)
    assert info.value.reserved_usd == reservation(None)
    assert info.value.reserved_usd > Decimal(4096) * Decimal("0.6") / 1_000_000


def test_a_failed_call_releases_its_reservation(fixed_fake):
    """The limit holds one reservation: the second call is admitted only if the failed
    first one gave its reservation back."""
    limit = reservation(500) * Decimal("1.5")
    with capture(budgets=[Budget("cap", limit, "day", action="block")]) as telemetry:
        client = fixed_fake.client()
        fixed_fake.fail_next(500)
        with pytest.raises(openai.InternalServerError):
            chat(client)
        assert spent(telemetry, "cap") == 0
        chat(client)
        assert spent(telemetry, "cap") == FIXED_COST


def test_spending_settles_to_the_actual_cost(fake):
    """The budget counts what the spans say each call cost, to the nano-dollar."""
    with capture(budgets=[Budget("cap", 10, "day", action="block")]) as telemetry:
        client = fake.client()
        for i in range(5):
            client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": f"question {i} " * 40}]
            )
        costs = [Decimal(str(s.attributes["gen_ai.usage.cost"])) for s in telemetry.spans()]
        assert len(costs) == 5
        assert sum(costs) - Decimal("1e-9") < spent(telemetry, "cap") <= sum(costs)


def test_per_key_budgets_are_independent_and_skip_calls_without_the_key(fixed_fake):
    budget = Budget("per-user", "0.0006", "day", per="user_id", action="block")
    with capture(budgets=[budget]):
        client = fixed_fake.client()
        with attribute(user_id="alice"):
            chat(client)
            with pytest.raises(BudgetExceededError) as info:
                chat(client)
        assert dict(info.value.key) == {"user_id": "alice"}
        with attribute(user_id="bob"):
            chat(client)  # bob has his own budget
        for _ in range(3):
            chat(client)  # not attributed to a user: not counted by a per-user budget
        assert len(fixed_fake.requests) == 5


def test_match_limits_the_budget_to_matching_calls(fixed_fake):
    budget = Budget("core", "0.0006", "day", match={"team": "core"}, action="block")
    with capture(budgets=[budget]):
        client = fixed_fake.client()
        with attribute(team="core", feature="search"):
            chat(client)
            with pytest.raises(BudgetExceededError):
                chat(client)
        with attribute(team="growth"):
            chat(client)
            chat(client)


def test_a_model_without_a_price_goes_through_with_one_warning(fake, caplog):
    caplog.set_level(logging.WARNING, logger="tokentrail")
    with capture(budgets=[Budget("cap", "0.000001", "day", action="block")]):
        client = fake.client()
        for _ in range(2):
            client.chat.completions.create(model="acme-private-1", messages=MESSAGES)
    assert len(fake.requests) == 2
    warnings = [r for r in caplog.records if "cannot reserve" in r.getMessage()]
    assert len(warnings) == 1
    assert "acme-private-1" in warnings[0].getMessage()


def test_concurrent_threads_and_tasks_never_overspend_by_more_than_one_reservation():
    """8 threads and 8 asyncio tasks call until refused; what they spent in all (the sum of
    the span costs) stays within the limit plus one call's reservation."""
    from tokentrail.fakes.openai import FakeOpenAI

    fake = FakeOpenAI(latency=0.002)  # calls overlap
    one = reservation(100)
    limit = one * 40
    with capture(budgets=[Budget("cap", limit, "day", action="block")]) as telemetry:
        sync_client, async_client = fake.client(), fake.async_client()
        refusals = call_until_refused(
            lambda: chat(sync_client, max_tokens=100),
            lambda: async_client.chat.completions.create(
                model=MODEL, messages=MESSAGES, max_tokens=100
            ),
        )

        costs = [
            Decimal(str(s.attributes["gen_ai.usage.cost"]))
            for s in telemetry.spans()
            if "gen_ai.usage.cost" in s.attributes and "error.type" not in s.attributes
        ]
        total = sum(costs, Decimal(0))
        assert total <= limit + one
        assert len(refusals) == 16
        assert len(costs) == len(fake.requests) > 16  # many calls ran in parallel
        assert total > limit - 2 * one  # and they did use the budget
        assert spent(telemetry, "cap") >= total
