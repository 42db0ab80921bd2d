"""Usage in tokentrail's conventions and prices from genai-prices, whatever the provider behind
LiteLLM (test_response_cost.py compares them with LiteLLM's own)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import genai_prices
import pytest

from tokentrail.fakes._loopback import serve
from tokentrail.fakes.anthropic import FakeAnthropic

from .conftest import MESSAGES

ANTHROPIC_USAGE = {
    "input_tokens": 200,
    "output_tokens": 400,
    "cache_read_input_tokens": 1024,
    "cache_creation_input_tokens": 256,
    "cache_creation": {"ephemeral_5m_input_tokens": 56, "ephemeral_1h_input_tokens": 200},
    "output_tokens_details": {"thinking_tokens": 128},
    "server_tool_use": {"web_search_requests": 2},
    "service_tier": "standard",
}


def _genai_prices(body: dict[str, Any], provider_id: str) -> Decimal:
    """What genai-prices makes of a provider's own response body."""
    return genai_prices.extract_usage(body, provider_id=provider_id).calc_price().total_price


@pytest.fixture
def anthropic_fake():
    fake = FakeAnthropic(usage=ANTHROPIC_USAGE)
    with serve(fake) as server:
        fake.url = server.url
        yield fake


def test_anthropic_usage_cache_thinking_and_searches(api, instrumented, anthropic_fake):
    """Anthropic's input excludes the cache; tokentrail's (and LiteLLM's) includes it. The
    cost is genai-prices' for Anthropic's own body: 5-minute and 1-hour cache writes each at
    their rate, web searches per request."""
    api.completion(
        model="anthropic/claude-sonnet-4-5", messages=MESSAGES, max_tokens=1000,
        api_base=anthropic_fake.url, api_key="k",
    )  # fmt: skip

    attributes = instrumented.span().attributes
    assert attributes["gen_ai.usage.input_tokens"] == 200 + 1024 + 256
    assert attributes["gen_ai.usage.cache_read.input_tokens"] == 1024
    assert attributes["gen_ai.usage.cache_creation.input_tokens"] == 256
    assert attributes["gen_ai.usage.output_tokens"] == 400
    assert attributes["gen_ai.usage.reasoning.output_tokens"] == 128
    body = {"model": "claude-sonnet-4-5", "usage": ANTHROPIC_USAGE}
    assert Decimal(str(attributes["gen_ai.usage.cost"])) == _genai_prices(body, "anthropic")


def test_gemini_thoughts_are_output(api, instrumented):
    result = api.completion(messages=MESSAGES, **api.route("gemini/gemini-2.5-flash"))

    attributes = instrumented.span().attributes
    reasoning = result.usage.completion_tokens_details.reasoning_tokens
    assert reasoning > 0
    assert attributes["gen_ai.usage.reasoning.output_tokens"] == reasoning
    # thoughts are billed as output: they are part of it
    assert attributes["gen_ai.usage.output_tokens"] == result.usage.completion_tokens > reasoning
    usage = genai_prices.Usage(
        input_tokens=result.usage.prompt_tokens, output_tokens=result.usage.completion_tokens
    )
    expected = genai_prices.calc_price(usage, "gemini-2.5-flash", provider_id="google")
    assert Decimal(str(attributes["gen_ai.usage.cost"])) == expected.total_price


def test_openai_cached_prompt(api, instrumented):
    """The second call of a long prompt is served from the cache (the fake does it as OpenAI
    does, in 128-token blocks): fewer dollars, same input tokens."""
    long_prompt = [{"role": "system", "content": "The figures follow. " * 400}, *MESSAGES]
    api.completion(messages=long_prompt, **api.openai("gpt-4o"))
    api.completion(messages=long_prompt, **api.openai("gpt-4o"))

    first, second = (s.attributes for s in instrumented.spans())
    assert "gen_ai.usage.cache_read.input_tokens" not in first
    assert second["gen_ai.usage.cache_read.input_tokens"] > 0
    assert second["gen_ai.usage.input_tokens"] == first["gen_ai.usage.input_tokens"]
    assert second["gen_ai.usage.cost"] < first["gen_ai.usage.cost"]


def test_an_answer_from_litellms_cache_cost_nothing():
    """LiteLLM's response cache answers with the usage of the call it stored; this call
    consumed nothing. (The extractor on LiteLLM's own response object: the cache needs
    LiteLLM's proxy dependencies.)"""
    from litellm.types.utils import ModelResponse, Usage

    from tokentrail.instrumentation.litellm.extractors import completion_response

    stored = ModelResponse(model="gpt-4o", usage=Usage(prompt_tokens=900, completion_tokens=80))
    assert completion_response(stored, "openai", capture_content=False).usage.input_tokens == 900

    stored._hidden_params["cache_hit"] = True
    response = completion_response(stored, "openai", capture_content=False)

    assert response.usage.input_tokens == response.usage.output_tokens == 0
    assert response.model == "gpt-4o"
