"""The mistralai scenario of the span and metric contract tests (tests/contract/scenarios.py).

Mistral reports prompt-cache reads (``prompt_tokens_details.cached_tokens``, which mistralai
< 1.9.3 drops); it reports no cache writes and no reasoning tokens, so those attributes are
never on its spans."""

from __future__ import annotations

from typing import Any

from tests.contract.scenarios import PROMPT
from tokentrail.fakes.mistral import FakeMistral

from .conftest import KEEPS_CACHE_READS, SDKError


class MistralScenario:
    provider = "mistral_ai"
    operation = "chat"
    model = "mistral-medium-latest"
    server = ("api.mistral.ai", 443)
    finish_reasons = ("stop",)
    usage = {
        "gen_ai.usage.input_tokens": 1800,
        "gen_ai.usage.output_tokens": 400,
        **({"gen_ai.usage.cache_read.input_tokens": 1024} if KEEPS_CACHE_READS else {}),
    }

    def fake(self) -> FakeMistral:
        return FakeMistral(
            stream_chunks=8,
            usage={
                "prompt_tokens": 1800,
                "completion_tokens": 400,
                "total_tokens": 2200,
                "prompt_tokens_details": {"cached_tokens": 1024},
            },
        )

    def client(self, fake: FakeMistral) -> Any:
        return fake.client()

    def call(self, client, *, stream=False, max_tokens=None, temperature=None) -> Any:
        kwargs: dict[str, Any] = {}
        if max_tokens is not None:
            kwargs["max_tokens"] = max_tokens
        if temperature is not None:
            kwargs["temperature"] = temperature
        messages = [{"role": "user", "content": PROMPT}]
        if stream:
            return list(client.chat.stream(model=self.model, messages=messages, **kwargs))
        return client.chat.complete(model=self.model, messages=messages, **kwargs)

    def fail_next(self, fake: FakeMistral) -> type[BaseException]:
        fake.fail_next(500)
        return SDKError

    def output_text(self, result: Any) -> str:
        if isinstance(result, list):
            return "".join(e.data.choices[0].delta.content or "" for e in result)
        return result.choices[0].message.content


SCENARIO = MistralScenario()
