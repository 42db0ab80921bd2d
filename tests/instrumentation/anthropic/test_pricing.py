"""Tokens and cost of anthropic calls equal genai-prices' own reading of the same response
(``extract_usage(body, provider_id="anthropic").calc_price()``): cache reads, 5-minute and
1-hour cache writes, thinking tokens, web searches; plus what genai-prices does not read
(beta compaction iterations) and the price variants (batch, fast)."""

from __future__ import annotations

import genai_prices
import pytest
from anthropic.types import MessageDeltaUsage
from anthropic.types import Usage as AnthropicUsage
from anthropic.types.beta import BetaUsage

from tokentrail import names as sc
from tokentrail.fakes.anthropic import FakeAnthropic
from tokentrail.instrumentation.anthropic import extractors as ex
from tokentrail.pricing import PriceBook
from tokentrail.usage import Usage

from .conftest import MODEL, REQUEST, Api

USAGES = {
    "cache-read": {"input_tokens": 12, "output_tokens": 90, "cache_read_input_tokens": 4096,
                   "cache_creation_input_tokens": 0},
    "cache-write-5m": {"input_tokens": 12, "output_tokens": 90, "cache_read_input_tokens": 0,
                       "cache_creation_input_tokens": 3000,
                       "cache_creation": {"ephemeral_5m_input_tokens": 3000,
                                          "ephemeral_1h_input_tokens": 0}},
    "cache-write-1h": {"input_tokens": 12, "output_tokens": 90, "cache_read_input_tokens": 0,
                       "cache_creation_input_tokens": 3000,
                       "cache_creation": {"ephemeral_5m_input_tokens": 0,
                                          "ephemeral_1h_input_tokens": 3000}},
    "mixed-writes": {"input_tokens": 40, "output_tokens": 700, "cache_read_input_tokens": 1000,
                     "cache_creation_input_tokens": 500,
                     "cache_creation": {"ephemeral_5m_input_tokens": 200,
                                        "ephemeral_1h_input_tokens": 300},
                     "output_tokens_details": {"thinking_tokens": 450}},
    "thinking": {"input_tokens": 30, "output_tokens": 1200,
                 "output_tokens_details": {"thinking_tokens": 1000}},
    "web-search": {"input_tokens": 300, "output_tokens": 200,
                   "server_tool_use": {"web_search_requests": 3, "web_fetch_requests": 1}},
}  # fmt: skip


@pytest.mark.parametrize("shape", ["plain", "stream", "helper"])
@pytest.mark.parametrize("case", USAGES)
def test_tokens_and_cost_equal_genai_prices(instrumented, case, shape):
    api = Api(FakeAnthropic(usage={**USAGES[case], "service_tier": "standard"}), None)
    if shape == "plain":
        api.call("messages.create", **REQUEST)
    elif shape == "stream":
        api.drain(api.call("messages.create", **REQUEST, stream=True))
    else:
        api.final_message(**REQUEST)

    body = {"model": "claude-haiku-4-5-20251001", "usage": USAGES[case]}
    extracted = genai_prices.extract_usage(body, provider_id="anthropic")
    usage, price = extracted.usage, extracted.calc_price().total_price
    attrs = instrumented.span().attributes
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == usage.input_tokens
    assert attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == usage.output_tokens
    assert attrs.get(sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, 0) == (usage.cache_read_tokens or 0)
    assert attrs.get(sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS, 0) == (
        usage.cache_write_tokens or 0
    )
    assert attrs.get(sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, 0) == (
        usage.output_reasoning_tokens or 0
    )
    assert attrs[sc.GEN_AI_USAGE_COST] == float(price)
    assert instrumented.value(sc.METRIC_COST) == pytest.approx(float(price), rel=1e-12)


def test_the_cache_write_rates_differ_by_ttl(instrumented):
    """Guards the test above: a 1-hour write costs more than the same 5-minute write."""
    costs = {}
    for case in ("cache-write-5m", "cache-write-1h"):
        api = Api(FakeAnthropic(usage=USAGES[case]), None)
        api.call("messages.create", **REQUEST)
        costs[case] = instrumented.spans()[-1].attributes[sc.GEN_AI_USAGE_COST]
    assert costs["cache-write-1h"] > costs["cache-write-5m"]


def test_compaction_iterations_are_added_to_the_top_level_usage():
    """Beta ``usage.iterations``: a ``compaction`` entry's tokens are not in the top-level
    fields (per the SDK's docstring) and are billed; ``message`` entries are already in them."""
    usage = {
        "input_tokens": 100, "output_tokens": 50, "cache_read_input_tokens": 10,
        "cache_creation_input_tokens": 0,
        "iterations": [
            {"type": "compaction", "input_tokens": 3000, "output_tokens": 400,
             "cache_read_input_tokens": 200, "cache_creation_input_tokens": 60,
             "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 60}},
            {"type": "message", "model": "claude-opus-4-5", "input_tokens": 100,
             "output_tokens": 50, "cache_read_input_tokens": 10,
             "cache_creation_input_tokens": 0},
        ],
    }  # fmt: skip
    assert ex.message_usage(BetaUsage.model_validate(usage)) == Usage(
        input_tokens=100 + 10 + 3000 + 200 + 60,
        output_tokens=50 + 400,
        cache_read_tokens=10 + 200,
        cache_write_tokens=60,
        cache_write_1h_tokens=60,
    )


def test_a_streams_message_delta_overrides_message_start():
    start = AnthropicUsage.model_validate(
        {"input_tokens": 20, "output_tokens": 1, "cache_read_input_tokens": 100,
         "cache_creation_input_tokens": 8,
         "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 8}}
    )  # fmt: skip
    delta = MessageDeltaUsage.model_validate(
        {"output_tokens": 300, "input_tokens": 25, "cache_read_input_tokens": None,
         "server_tool_use": {"web_search_requests": 2, "web_fetch_requests": 0}}
    )  # fmt: skip
    assert ex.message_usage(start, delta) == Usage(
        input_tokens=25 + 100 + 8,
        output_tokens=300,
        cache_read_tokens=100,
        cache_write_tokens=8,
        cache_write_1h_tokens=8,
        web_search_requests=2,
    )


def test_anthropic_0x_usage_with_cache_fields_as_pydantic_extras_is_read():
    """A ``Usage`` class that declares only input/output tokens (anthropic 0.40's): the cache
    fields arrive as extras (nested objects as plain dicts)."""
    usage = AnthropicUsage.model_construct(input_tokens=5, output_tokens=7)
    usage.__pydantic_extra__ = {
        "cache_read_input_tokens": 1000,
        "cache_creation_input_tokens": 40,
        "cache_creation": {"ephemeral_5m_input_tokens": 10, "ephemeral_1h_input_tokens": 30},
    }
    del usage.__dict__["cache_read_input_tokens"], usage.__dict__["cache_creation_input_tokens"]
    del usage.__dict__["cache_creation"]

    assert ex.message_usage(usage) == Usage(
        input_tokens=1045,
        output_tokens=7,
        cache_read_tokens=1000,
        cache_write_tokens=40,
        cache_write_1h_tokens=30,
    )


@pytest.mark.parametrize(
    ("usage", "context"),
    [
        ({"service_tier": "standard"}, ()),
        ({"service_tier": "priority"}, ()),
        ({"service_tier": "batch"}, (("processing", "batch"),)),
        ({"service_tier": "standard", "speed": "fast"}, (("speed", "fast"),)),
        ({"service_tier": "batch", "speed": "fast"}, (("processing", "batch"), ("speed", "fast"))),
    ],
)
def test_price_context_names_genai_prices_variants(usage, context):
    assert ex.price_context(usage) == context


def test_fast_mode_is_priced_at_its_own_rate(instrumented):
    """A model with a fast variant in genai-prices costs more with ``speed: fast``."""
    base = {"input_tokens": 1000, "output_tokens": 1000}
    for speed in ("standard", "fast"):
        api = Api(FakeAnthropic(usage={**base, "speed": speed}), None)
        api.call("messages.create", **{**REQUEST, "model": "claude-opus-4-8"})
    standard, fast = (s.attributes[sc.GEN_AI_USAGE_COST] for s in instrumented.spans())
    assert fast > standard


@pytest.mark.parametrize(
    ("provider", "model", "genai_provider"),
    [
        ("anthropic", "claude-sonnet-4-5-20250929", "anthropic"),
        ("anthropic", MODEL, "anthropic"),
        ("aws.bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0", "aws"),
        ("aws.bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "aws"),
        ("aws.bedrock", "global.anthropic.claude-haiku-4-5-20251001-v1:0", "aws"),
        ("gcp.vertex_ai", "claude-sonnet-4-5@20250929", "google"),
        ("gcp.vertex_ai", "claude-haiku-4-5@20251001", "google"),
        ("gcp.vertex_ai", "claude-opus-4-1@20250805", "google"),
    ],
)
def test_platform_model_ids_are_priced_like_genai_prices(provider, model, genai_provider):
    usage = Usage(
        input_tokens=5000, output_tokens=800, cache_read_tokens=3000, cache_write_tokens=1000
    )
    expected = genai_prices.calc_price(
        genai_prices.Usage(
            input_tokens=5000, output_tokens=800, cache_read_tokens=3000, cache_write_tokens=1000
        ),
        model,
        provider_id=genai_provider,
    ).total_price

    cost = PriceBook().cost(usage, provider, model)
    assert cost.status == "priced"
    assert cost.amount_usd == expected
