"""The LiteLLM scenario of the span and metric contract tests (tests/contract/scenarios.py):
LiteLLM's openai route with a client of the fake, whose usage has every part."""

from __future__ import annotations

from typing import Any

import litellm

from tests.contract.scenarios import PROMPT
from tokentrail.fakes.openai import FakeOpenAI


class LiteLLMScenario:
    provider = "openai"
    operation = "chat"
    model = "gpt-4o"
    server = ("api.openai.com", 443)
    finish_reasons = ("stop",)
    usage = {
        "gen_ai.usage.input_tokens": 1800,
        "gen_ai.usage.output_tokens": 400,
        "gen_ai.usage.cache_read.input_tokens": 1024,
        "gen_ai.usage.cache_creation.input_tokens": 256,
        "gen_ai.usage.reasoning.output_tokens": 128,
    }

    def fake(self) -> FakeOpenAI:
        return FakeOpenAI(
            stream_chunks=8,
            usage={
                "prompt_tokens": 1800,
                "completion_tokens": 400,
                "total_tokens": 2200,
                "prompt_tokens_details": {"cached_tokens": 1024, "cache_write_tokens": 256},
                "completion_tokens_details": {"reasoning_tokens": 128},
            },
        )

    def client(self, fake: FakeOpenAI) -> Any:
        return fake.client()

    def call(self, client, *, stream=False, max_tokens=None, temperature=None) -> Any:
        kwargs: dict[str, Any] = {}
        if max_tokens is not None:
            kwargs["max_tokens"] = max_tokens
        if temperature is not None:
            kwargs["temperature"] = temperature
        result = litellm.completion(
            model=self.model, messages=[{"role": "user", "content": PROMPT}], stream=stream,
            client=client, max_retries=0, **kwargs,
        )  # fmt: skip
        return list(result) if stream else result

    def fail_next(self, fake: FakeOpenAI) -> type[BaseException]:
        fake.fail_next(500)
        return litellm.InternalServerError

    def output_text(self, result: Any) -> str:
        if isinstance(result, list):
            return "".join(c.choices[0].delta.content or "" for c in result if c.choices)
        return result.choices[0].message.content


SCENARIO = LiteLLMScenario()
