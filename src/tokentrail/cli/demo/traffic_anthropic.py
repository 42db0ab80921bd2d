"""Anthropic traffic of the demo: prompt caching (a 5-minute and a 1-hour cached prefix), the
``messages.stream()`` helper with extended thinking, an async stream, and web search.

The clients keep the SDK's own OpenTelemetry tracing on (its default) and the demo sets the
global tracer provider, as an application would: each call still shows as one span."""

from __future__ import annotations

from typing import Any

from ...fakes.anthropic import FakeAnthropic
from .workload import Step

#: the analyst's long, stable instructions, cached for 5 minutes (read on every later call)
ANALYST_PROMPT = (
    "You are the financial analyst of Acme Cloud. Quote figures from the quarterly report "
    "only, show your arithmetic, and flag any number you cannot trace to a table. "
) * 50

#: a contract the legal assistant works on all day: cached for an hour
CONTRACT = "Clause: the provider shall keep the service available 99.95% of each month. " * 80


def steps(fake: FakeAnthropic) -> list[Step]:
    import anthropic

    client = fake.client()
    aclient = fake.async_client()
    analyst_system = [
        {"type": "text", "text": ANALYST_PROMPT, "cache_control": {"type": "ephemeral"}}
    ]
    contract = {
        "type": "text",
        "text": CONTRACT,
        "cache_control": {"type": "ephemeral", "ttl": "1h"},
    }

    def analyst() -> Any:
        return client.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=512,
            system=analyst_system,
            messages=[{"role": "user", "content": "How did gross margin move in Q3?"}],
        )

    def contracts() -> Any:
        with client.messages.stream(
            model="claude-opus-4-1",
            max_tokens=3000,
            thinking={"type": "enabled", "budget_tokens": 2000},
            messages=[
                {
                    "role": "user",
                    "content": [contract, {"type": "text", "text": "Is the SLA credit capped?"}],
                }
            ],
        ) as stream:
            return stream.get_final_text()

    async def triage() -> Any:
        stream = await aclient.messages.create(
            model="claude-haiku-4-5",
            max_tokens=200,
            messages=[{"role": "user", "content": "Triage: 'checkout page returns 502'"}],
            stream=True,
        )
        async for _ in stream:
            pass

    news_calls = 0

    def news() -> Any:
        nonlocal news_calls
        news_calls += 1
        if news_calls == 2:
            fake.fail_next(529)  # Anthropic is overloaded for a moment
        return client.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=800,
            tools=[{"type": "web_search_20250305", "name": "web_search", "max_uses": 2}],
            messages=[{"role": "user", "content": "Any outage reports for our CDN today?"}],
        )

    return [
        Step(
            "analyst · cached system prompt",
            {"feature": "analyst", "team": "finance", "endpoint": "/api/analyst"},
            analyst,
            weight=3,
        ),
        Step(
            "contracts · stream() with thinking (1h cache)",
            {"feature": "contracts", "team": "legal", "user_id": "u-88"},
            contracts,
            weight=2,
        ),
        Step(
            "triage · async Claude stream",
            {"feature": "triage", "team": "sre", "endpoint": "/api/triage"},
            acall=triage,
        ),
        Step(
            "news · web search",
            {"feature": "news", "team": "sre"},
            news,
            weight=2,
            expected_errors=(anthropic.APIStatusError,),
        ),
    ]
