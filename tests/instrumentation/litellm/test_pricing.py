"""Usage in tokentrail's conventions and prices from genai-prices, whatever the provider behind
LiteLLM; and how those prices compare with LiteLLM's own (``response_cost``, from its cost
map) on the same calls: the same to the last float digit where both price lists agree, and
the differences docs/litellm.md lists where they do not."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import genai_prices
import litellm
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


# -- tokentrail's price and LiteLLM's ---------------------------------------------------------

LONG = "Summarise the quarterly figures. " * 400
CACHED = [
    {"role": "system", "content": [{"type": "text", "text": LONG,
                                    "cache_control": {"type": "ephemeral"}}]},
    {"role": "user", "content": "The totals?"},
]  # fmt: skip


def _both_prices(telemetry, providers, function: str, model: str, messages: Any):
    """(tokentrail's cost, LiteLLM's ``response_cost``) of one call."""
    result = _call(providers, function, model, messages)
    span = telemetry.spans()[-1]
    return Decimal(str(span.attributes["gen_ai.usage.cost"])), result._hidden_params.get(
        "response_cost"
    )


#: calls both price lists price alike: (id, function, model, extra arguments, messages)
AGREE = [
    ("gpt-4o-mini", "completion", "gpt-4o-mini", MESSAGES),
    ("gpt-4o cache hit", "completion", "gpt-4o", [{"role": "system", "content": LONG}]),
    ("o4-mini reasoning", "completion", "o4-mini", MESSAGES),
    ("claude-haiku-4-5", "completion", "anthropic/claude-haiku-4-5", MESSAGES),
    ("claude-sonnet-4-5 cache write, read", "completion", "anthropic/claude-sonnet-4-5", CACHED),
    ("gemini-2.5-flash thinking", "completion", "gemini/gemini-2.5-flash", MESSAGES),
    ("gemini-2.5-pro", "completion", "gemini/gemini-2.5-pro", MESSAGES),
    ("mistral-small-latest", "completion", "mistral/mistral-small-latest", MESSAGES),
    ("text-embedding-3-small", "embedding", "text-embedding-3-small", None),
    ("mistral-embed", "embedding", "mistral/mistral-embed", None),
    ("gemini-embedding-001", "embedding", "gemini/gemini-embedding-001", None),
]


def _call(providers, function: str, model: str, messages: Any):
    route = providers.route(model, max_retries=0)
    if model in ("gpt-4o-mini", "gpt-4o", "o4-mini", "text-embedding-3-small"):
        # api.openai.com, where the fake serves the OpenAI prompt cache as the API does
        route = {"model": model, "client": providers.openai.client(), "max_retries": 0}
    if function == "embedding":
        return litellm.embedding(input=["rotate keys", "billing FAQ", "invoices"], **route)
    return litellm.completion(messages=messages, max_tokens=500, **route)


@pytest.mark.parametrize(("function", "model", "messages"), [a[1:] for a in AGREE],
                         ids=[a[0] for a in AGREE])  # fmt: skip
def test_where_both_price_lists_agree_the_costs_are_the_same(
    providers, instrumented, function, model, messages
):
    """Twice, so that cached prompts are read the second time. tokentrail's cost is exact
    (``Decimal``); LiteLLM's is a float: they agree to float precision."""
    for _ in range(2):
        ours, theirs = _both_prices(instrumented, providers, function, model, messages)
        assert ours > 0
        assert float(ours) == pytest.approx(theirs, rel=1e-12, abs=1e-15)


def test_litellm_prices_an_alias_it_does_not_list_at_zero(providers, instrumented):
    """``claude-opus-4-1`` (the alias Anthropic documents) is not in LiteLLM's cost map: its
    ``response_cost`` is 0.0. genai-prices matches the alias to its snapshot."""
    model = "anthropic/claude-opus-4-1"
    ours, theirs = _both_prices(instrumented, providers, "completion", model, MESSAGES)
    assert theirs == 0.0
    assert ours > 0


def test_litellm_has_no_price_for_gemini_2_0_flash(providers, instrumented):
    model = "gemini/gemini-2.0-flash"
    ours, theirs = _both_prices(instrumented, providers, "completion", model, MESSAGES)
    assert theirs is None
    assert ours > 0


def test_mistral_large_latest_has_two_different_prices(providers, instrumented):
    """LiteLLM prices ``mistral-large-latest`` at Mistral Large 3's $0.50/$1.50 per million
    tokens, genai-prices at Mistral Large 2's $2/$6: four times as much."""
    result = _call(providers, "completion", "mistral/mistral-large-latest", MESSAGES)
    ours = Decimal(str(instrumented.spans()[-1].attributes["gen_ai.usage.cost"]))
    usage = result.usage
    per_million = Decimal(1_000_000)
    assert ours == (usage.prompt_tokens * 2 + usage.completion_tokens * 6) / per_million
    theirs = result._hidden_params["response_cost"]
    expected = usage.prompt_tokens * Decimal("0.5") + usage.completion_tokens * Decimal("1.5")
    assert theirs == pytest.approx(float(expected / per_million), rel=1e-12)


def test_litellm_prices_long_claude_prompts_at_the_short_prompt_rate(api, instrumented):
    """Claude Sonnet 4.5 costs $6/$22.50 per million tokens when the prompt is longer than
    200k tokens (else $3/$15): genai-prices has the tier, LiteLLM's cost map does not."""
    fake = FakeAnthropic(usage={"input_tokens": 250_000, "output_tokens": 400})
    with serve(fake) as server:
        result = litellm.completion(
            model="anthropic/claude-sonnet-4-5", messages=MESSAGES, max_tokens=500,
            api_base=server.url, api_key="k",
        )  # fmt: skip

    ours = Decimal(str(instrumented.span().attributes["gen_ai.usage.cost"]))
    assert ours == (250_000 * Decimal(6) + 400 * Decimal("22.5")) / 1_000_000
    theirs = result._hidden_params["response_cost"]
    assert theirs == pytest.approx((250_000 * 3 + 400 * 15) / 1_000_000, rel=1e-12)
