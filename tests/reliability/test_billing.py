"""What a failed call costs, per failure kind and provider (docs/reliability.md, "What a
failed call costs"):

================================  ===========  ==============================================
failure                           status       cost
================================  ===========  ==============================================
HTTP error response (4xx/5xx)     priced       $0: the provider did not bill it
connection refused                priced       $0: the request never left
read timeout                      estimated    input from the prompt estimate, output 0
stream dropped before any chunk   estimated    input from the prompt estimate, output 0
stream cut mid-way                estimated    input, and output from what arrived
task cancelled / Ctrl-C mid-call  estimated    input from the prompt estimate, output 0
================================  ===========  ==============================================

A blocking budget keeps the estimate (its reservation settles to it) instead of releasing it;
``tokentrail.requests`` counts the call with its ``tokentrail.cost.status``. (With Redis:
tests/e2e/test_redis_reliability.py.)
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest

from tokentrail import Budget
from tokentrail.budgets.models import parse_window
from tokentrail.runtime import state
from tokentrail.testing import capture

from .cases import STREAM_FAILURES, provider_cases
from .test_interrupts import slow

CASES = provider_cases()
#: failure kind -> whether the provider may have billed it (then it is estimated)
BILLED = {
    "http_error": False,
    "refused": False,
    "read_timeout": True,
    "dropped": True,
    "cut": True,
    "cancelled": True,
}


def spent(telemetry) -> float:
    return telemetry.value("tokentrail.budget.spent.usd", {"tokentrail.budget.name": "cap"})


def held() -> int:
    """Nano-USD still held by reservations in the ``cap`` budget."""
    store = state().installed[0].tracker.store  # type: ignore[index, union-attr]
    ((_, reserved),) = store.read([("cap:-", parse_window("day", "w").span(time.time()))])
    return reserved


def fail(cases, kind: str) -> None:
    """One call of ``cases`` that fails as ``kind`` says (cancellation: an async task)."""
    fake = cases.fake()
    if kind == "cancelled":
        slow(fake, 30)
        loop = asyncio.new_event_loop()

        async def app():
            task = asyncio.ensure_future(cases.call(cases.client(fake, loop)))
            await asyncio.sleep(0.05)
            task.cancel()
            await task

        try:
            with pytest.raises(asyncio.CancelledError):
                loop.run_until_complete(app())
        finally:
            loop.close()
        return
    cases.fail_next(fake, kind)
    client = cases.client(fake, None)
    streamed = kind in STREAM_FAILURES

    def attempt():
        result = cases.call(client, stream=streamed)
        return list(result) if streamed else result

    with pytest.raises(Exception):  # noqa: B017, PT011 - the SDK's own error, whatever it is
        attempt()


@pytest.mark.parametrize("kind", BILLED)
@pytest.mark.parametrize("provider", sorted(CASES))
def test_a_failed_call_costs_what_it_may_have_been_billed(provider, kind):
    cases = CASES[provider]
    with capture(budgets=[Budget("cap", 100, "day", action="block")]) as telemetry:
        fail(cases, kind)

        span = telemetry.span()
        attributes = span.attributes
        error = attributes["error.type"]
        status = attributes["tokentrail.cost.status"]
        cost = Decimal(repr(attributes.get("gen_ai.usage.cost", 0)))
        if BILLED[kind]:
            assert status == "estimated", (kind, attributes)
            assert attributes["gen_ai.usage.input_tokens"] > 0
            if kind == "cut":
                assert attributes["gen_ai.usage.output_tokens"] > 0  # what arrived
            else:
                assert attributes["gen_ai.usage.output_tokens"] == 0
            assert cost > 0
        else:
            assert status == "priced", (kind, attributes)
            assert "gen_ai.usage.input_tokens" not in attributes
            assert cost == 0
        counted = {"error.type": error, "tokentrail.cost.status": status}
        assert telemetry.value("tokentrail.requests", counted) == 1
        # the blocking budget kept the estimate of a call that may have been billed (its
        # reservation, the worst case, settled to it) and released the rest
        assert spent(telemetry) == pytest.approx(float(cost), abs=1e-9)
        assert held() == 0
