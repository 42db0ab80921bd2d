"""The Bedrock scenario of the span and metric contract tests (tests/contract/scenarios.py):
boto3's ``converse`` and ``converse_stream``."""

from __future__ import annotations

from typing import Any

from tests.contract.scenarios import PROMPT
from tokentrail.fakes.bedrock import FakeBedrock


class BedrockScenario:
    provider = "aws.bedrock"
    operation = "chat"
    model = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    finish_reasons = ("end_turn",)
    #: Converse names no model in its answer: the request's modelId is the model
    unreported = ("gen_ai.response.model",)
    usage = {
        # Bedrock's inputTokens excludes the cache: tokentrail's includes reads and writes
        "gen_ai.usage.input_tokens": 200 + 1024 + 256,
        "gen_ai.usage.output_tokens": 400,
        "gen_ai.usage.cache_read.input_tokens": 1024,
        "gen_ai.usage.cache_creation.input_tokens": 256,
    }

    def __init__(self) -> None:
        self._fake: FakeBedrock | None = None

    @property
    def server(self) -> tuple[str, int | None]:
        """The loopback address of the last fake (its port is chosen when it starts)."""
        assert self._fake is not None
        host, port = self._fake.url.rsplit("//", 1)[1].split(":")
        return host, int(port)

    def fake(self) -> FakeBedrock:
        if self._fake is not None:
            self._fake.close()  # the contract tests make a fake per test and close none
        self._fake = FakeBedrock(
            stream_chunks=8, usage={"input": 200, "cache_read": 1024, "cache_write": 256,
                                    "output": 400}
        )  # fmt: skip
        return self._fake

    def client(self, fake: FakeBedrock) -> Any:
        return fake.client()

    def call(self, client, *, stream=False, max_tokens=None, temperature=None) -> Any:
        config: dict[str, Any] = {"maxTokens": max_tokens or 1024}
        if temperature is not None:
            config["temperature"] = temperature
        kwargs = {
            "modelId": self.model,
            "messages": [{"role": "user", "content": [{"text": PROMPT}]}],
            "inferenceConfig": config,
        }
        if stream:
            return list(client.converse_stream(**kwargs)["stream"])
        return client.converse(**kwargs)

    def fail_next(self, fake: FakeBedrock) -> type[BaseException]:
        fake.fail_next(500)
        return fake.client().exceptions.InternalServerException

    def output_text(self, result: Any) -> str:
        if isinstance(result, list):
            return "".join(
                e["contentBlockDelta"]["delta"].get("text", "")
                for e in result
                if "contentBlockDelta" in e
            )
        return "".join(block.get("text", "") for block in result["output"]["message"]["content"])


SCENARIO = BedrockScenario()
