"""One process of the two-process Redis tests: call the fake OpenAI API under shared budgets
until refused (or ``calls`` times) and print what happened as JSON."""

from __future__ import annotations

import json
import sys
import time
from decimal import Decimal

import redis

import tokentrail
from tokentrail import Budget, RedisBudgetStore
from tokentrail.fakes.openai import FakeOpenAI
from tokentrail.testing import capture


def main(url: str, limit: str, calls: int) -> None:
    # start together with the other process
    client = redis.Redis.from_url(url)
    client.incr("worker-barrier")
    deadline = time.monotonic() + 30
    while int(client.get("worker-barrier") or 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    alerts: list[str] = []
    budgets = [
        Budget("shared-cap", limit, "day", action="block"),
        Budget("shared-watch", Decimal(limit) / 2, "day", warn_at=[0.5]),
    ]
    fake = FakeOpenAI(latency=0.002)
    admitted = refused = 0
    with capture(
        budgets=budgets,
        budget_store=RedisBudgetStore(url),
        alert_sinks=[lambda alert: alerts.append(f"{alert.kind}:{alert.budget}")],
    ) as telemetry:
        openai_client = fake.client()
        for _ in range(calls):
            try:
                openai_client.chat.completions.create(
                    model="gpt-4o-mini",
                    messages=[{"role": "user", "content": "What changed this quarter?"}],
                    max_tokens=100,
                )
                admitted += 1
            except tokentrail.BudgetExceededError:
                refused += 1
        tokentrail.flush(timeout=10)
        spent = sum(
            Decimal(str(span.attributes.get("gen_ai.usage.cost", 0)))
            for span in telemetry.spans()
            if "error.type" not in span.attributes
        )
    print(
        json.dumps(
            {"admitted": admitted, "refused": refused, "alerts": alerts, "spent": str(spent)}
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
