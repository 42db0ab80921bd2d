"""The anthropic scenario of the span and metric contract tests (tests/contract/scenarios.py)."""

from __future__ import annotations

from typing import Any

import anthropic

from tests.contract.scenarios import PROMPT
from tokentrail.fakes.anthropic import FakeAnthropic


class AnthropicScenario:
    provider = "anthropic"
    operation = "chat"
    model = "claude-sonnet-4-0"
    server = ("api.anthropic.com", 443)
    finish_reasons = ("end_turn",)
    usage = {
        # the API's input excludes the cache: tokentrail's includes reads and writes
        "gen_ai.usage.input_tokens": 200 + 1024 + 256,
        "gen_ai.usage.output_tokens": 400,
        "gen_ai.usage.cache_read.input_tokens": 1024,
        "gen_ai.usage.cache_creation.input_tokens": 256,
        "gen_ai.usage.reasoning.output_tokens": 128,
    }

    def fake(self) -> FakeAnthropic:
        return FakeAnthropic(
            stream_chunks=8,
            usage={
                "input_tokens": 200,
                "output_tokens": 400,
                "cache_read_input_tokens": 1024,
                "cache_creation_input_tokens": 256,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": 256,
                    "ephemeral_1h_input_tokens": 0,
                },
                "output_tokens_details": {"thinking_tokens": 128},
                "service_tier": "standard",
            },
        )

    def client(self, fake: FakeAnthropic) -> Any:
        return fake.client()

    def call(self, client, *, stream=False, max_tokens=None, temperature=None) -> Any:
        kwargs: dict[str, Any] = {"max_tokens": max_tokens or 1024}
        if temperature is not None:  # anthropic >= 1.0 takes it in the body only
            kwargs["extra_body"] = {"temperature": temperature}
        result = client.messages.create(
            model=self.model, messages=[{"role": "user", "content": PROMPT}], stream=stream,
            **kwargs,
        )  # fmt: skip
        return list(result) if stream else result

    def fail_next(self, fake: FakeAnthropic) -> type[BaseException]:
        fake.fail_next(500)
        return anthropic.InternalServerError

    def output_text(self, result: Any) -> str:
        if isinstance(result, list):
            return "".join(
                getattr(e.delta, "text", "") or ""
                for e in result
                if e.type == "content_block_delta"
            )
        return "".join(block.text for block in result.content if block.type == "text")


SCENARIO = AnthropicScenario()
