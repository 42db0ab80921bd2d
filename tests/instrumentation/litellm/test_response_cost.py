"""tokentrail's prices (genai-prices) and LiteLLM's own (``response_cost``, from its cost map)
on the same calls: the same to float precision where both price lists agree, and the
differences docs/litellm.md lists where they do not.

These read the cost map of the LiteLLM in the dev environment (the newest release): a change
of either price list shows here first, and docs/litellm.md is updated with it. The SDK
matrix (.ci/sdk_matrix.py) leaves this file out: an older LiteLLM has an older cost map."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import litellm
import pytest

from tokentrail.fakes._loopback import serve
from tokentrail.fakes.anthropic import FakeAnthropic

from .conftest import MESSAGES

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
