"""Gemini traffic of the demo (google-genai): a thinking model, a streamed digest, and a chat
whose assistant calls a tool (automatic function calling: one billed request per round)."""

from __future__ import annotations

from typing import Any

from ...fakes.google_genai import FakeGemini
from .workload import Step

#: the concierge's long, stable instructions: repeated turns hit Gemini's implicit cache
CONCIERGE_PROMPT = (
    "You are the travel concierge of Acme Cloud's offsite. Be brief, check the weather before "
    "suggesting anything outdoors, and never book without a confirmation. "
) * 40


def local_weather(city: str) -> str:
    """Today's weather in a city (the concierge's tool)."""
    return f"{city}: 19 °C, light wind, no rain expected"


def steps(fake: FakeGemini) -> list[Step]:
    from google.genai import types

    client = fake.client()

    def review() -> Any:
        # a thinking model: its thoughts are billed as output tokens
        return client.models.generate_content(
            model="gemini-2.5-pro",
            contents="Review this diff for race conditions: " + "lock.acquire(); " * 120,
            config=types.GenerateContentConfig(max_output_tokens=1024),
        )

    async def digest() -> Any:
        stream = await client.aio.models.generate_content_stream(
            model="gemini-2.5-flash",
            contents="Write today's support digest from these tickets: " + "ticket " * 400,
        )
        async for _ in stream:
            pass

    def concierge() -> Any:
        chat = client.chats.create(
            model="gemini-2.5-flash",
            config=types.GenerateContentConfig(
                system_instruction=CONCIERGE_PROMPT, tools=[local_weather]
            ),
        )
        return chat.send_message("Can we do the team bike ride in Lyon this afternoon?")

    return [
        Step(
            "code review · thinking model",
            {"feature": "code-review", "team": "platform", "endpoint": "/api/review"},
            review,
        ),
        Step(
            "digest · async Gemini stream",
            {"feature": "digest", "team": "cx", "endpoint": "/api/digest"},
            acall=digest,
        ),
        Step(
            "concierge · chat with a tool",
            {"feature": "concierge", "team": "people", "user_id": "u-311"},
            concierge,
            weight=2,
        ),
    ]
