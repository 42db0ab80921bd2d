"""The google-genai scenario of the span and metric contract tests
(tests/contract/scenarios.py)."""

from __future__ import annotations

from typing import Any

from google.genai import errors, types

from tests.contract.scenarios import PROMPT
from tokentrail.fakes.google_genai import FakeGemini


class GeminiScenario:
    provider = "gcp.gemini"
    operation = "generate_content"
    model = "gemini-2.5-flash"
    server = ("generativelanguage.googleapis.com", 443)
    finish_reasons = ("STOP",)
    usage = {
        "gen_ai.usage.input_tokens": 1800,  # the prompt includes the cached content
        "gen_ai.usage.output_tokens": 400 + 128,  # candidates + thoughts
        "gen_ai.usage.cache_read.input_tokens": 1024,
        "gen_ai.usage.reasoning.output_tokens": 128,
    }

    def fake(self) -> FakeGemini:
        return FakeGemini(
            stream_chunks=8,
            usage={
                "promptTokenCount": 1800,
                "cachedContentTokenCount": 1024,
                "candidatesTokenCount": 400,
                "thoughtsTokenCount": 128,
                "totalTokenCount": 2328,
            },
        )

    def client(self, fake: FakeGemini) -> Any:
        return fake.client()

    def call(self, client, *, stream=False, max_tokens=None, temperature=None) -> Any:
        config = types.GenerateContentConfig(max_output_tokens=max_tokens, temperature=temperature)
        if stream:
            return list(
                client.models.generate_content_stream(
                    model=self.model, contents=PROMPT, config=config
                )
            )
        return client.models.generate_content(model=self.model, contents=PROMPT, config=config)

    def fail_next(self, fake: FakeGemini) -> type[BaseException]:
        fake.fail_next(500)
        return errors.ServerError

    def output_text(self, result: Any) -> str:
        if isinstance(result, list):
            return "".join(chunk.text or "" for chunk in result)
        return result.text


SCENARIO = GeminiScenario()
