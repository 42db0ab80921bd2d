"""Bedrock usage in tokentrail's conventions (input includes cache reads and writes) and its
price: genai-prices' AWS prices for every family, cache included; inference profiles
(``us.``, ``global.``) and ARNs priced as the model id they name; ``AnthropicBedrock`` and
boto3 priced the same for the same model; the family's own body when an answer has no
token-count headers."""

from __future__ import annotations

import json
from decimal import Decimal

import genai_prices
import pytest

from tokentrail import names as sc
from tokentrail.fakes.anthropic import FakeAnthropic
from tokentrail.fakes.bedrock import FakeBedrock
from tokentrail.pricing import PriceBook
from tokentrail.usage import Usage

from .conftest import FAMILIES, MESSAGES, PROMPT, converse, invoke, invoke_request

HAIKU = "anthropic.claude-haiku-4-5-20251001-v1:0"
#: a system prompt long enough to cache (the fake caches from 1024 tokens)
LONG_SYSTEM = "You answer questions about the attached annual report. " * 120
#: fixed counts (Bedrock's: input without the cache)
USAGE = {"input": 300, "cache_read": 2048, "cache_write": 512, "output": 150}


def genai_cost(model: str, usage: Usage) -> Decimal:
    return genai_prices.calc_price(
        genai_prices.Usage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
        ),
        model,
        provider_id="aws",
    ).total_price


def span_usage(span) -> Usage:
    attrs = span.attributes
    return Usage(
        input_tokens=attrs[sc.GEN_AI_USAGE_INPUT_TOKENS],
        output_tokens=attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS],
        cache_read_tokens=attrs.get(sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, 0),
        cache_write_tokens=attrs.get(sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS, 0),
    )


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_is_priced_at_genai_prices_aws_prices(instrumented, client, family):
    model, _ = FAMILIES[family]
    result = client.converse(modelId=model, messages=MESSAGES)

    span = instrumented.span()
    usage = span_usage(span)
    assert usage.input_tokens == result["usage"]["inputTokens"]
    assert span.attributes[sc.TOKENTRAIL_COST_STATUS] == "priced"
    assert span.attributes[sc.GEN_AI_USAGE_COST] == pytest.approx(
        float(genai_cost(model, usage)), rel=1e-12
    )


def test_a_converse_cache_point_writes_then_reads_and_input_includes_both(instrumented, client):
    system = [{"text": LONG_SYSTEM}, {"cachePoint": {"type": "default"}}]
    first = converse(client, system=system)
    second = converse(client, system=system)

    written, read = instrumented.spans()
    wrote = first["usage"]["cacheWriteInputTokens"]
    assert wrote > 1024
    assert second["usage"]["cacheReadInputTokens"] == wrote
    assert written.attributes[sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] == wrote
    assert read.attributes[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == wrote
    # Bedrock's inputTokens excludes the cache; tokentrail's input includes it
    for span, answer in ((written, first), (read, second)):
        usage = answer["usage"]
        assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == (
            usage["inputTokens"] + usage["cacheReadInputTokens"] + usage["cacheWriteInputTokens"]
        )
        assert span.attributes[sc.GEN_AI_USAGE_COST] == pytest.approx(
            float(genai_cost(span.attributes[sc.GEN_AI_REQUEST_MODEL], span_usage(span))),
            rel=1e-12,
        )
    assert read.attributes[sc.GEN_AI_USAGE_COST] < written.attributes[sc.GEN_AI_USAGE_COST]


@pytest.mark.parametrize("family", ["anthropic", "nova"])
def test_invoke_model_cache_counts_come_from_the_headers(instrumented, client, family):
    if family == "anthropic":
        body = {"system": [{"type": "text", "text": LONG_SYSTEM,
                            "cache_control": {"type": "ephemeral"}}]}  # fmt: skip
    else:
        body = {"system": [{"text": LONG_SYSTEM}, {"cachePoint": {"type": "default"}}]}
    invoke(client, family, **body)
    invoke(client, family, **body)

    written, read = instrumented.spans()
    assert written.attributes[sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] > 1024
    assert read.attributes[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] > 1024
    model = FAMILIES[family][0]
    for span in (written, read):
        assert span.attributes[sc.GEN_AI_USAGE_COST] == pytest.approx(
            float(genai_cost(model, span_usage(span))), rel=1e-12
        )


def test_the_1h_cache_writes_of_converse_are_their_part():
    from tokentrail.instrumentation.bedrock.extractors import converse_usage

    usage = converse_usage({
        "inputTokens": 10, "outputTokens": 5, "totalTokens": 3015,
        "cacheReadInputTokens": 1000, "cacheWriteInputTokens": 2000,
        "cacheDetails": [{"ttl": "1h", "inputTokens": 1500}, {"ttl": "5m", "inputTokens": 500}],
    })  # fmt: skip
    assert usage == Usage(
        input_tokens=3010,
        output_tokens=5,
        cache_read_tokens=1000,
        cache_write_tokens=2000,
        cache_write_1h_tokens=1500,
    )


@pytest.mark.parametrize(
    ("model_id", "priced_as"),
    [
        (f"us.{HAIKU}", f"us.{HAIKU}"),
        (f"eu.{HAIKU}", f"us.{HAIKU}"),  # every regional profile has the regional price
        (f"global.{HAIKU}", f"global.{HAIKU}"),
        (f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}", HAIKU),
        (f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/global.{HAIKU}",
         f"global.{HAIKU}"),
        ("arn:aws:bedrock:us-east-1::foundation-model/meta.llama3-1-8b-instruct-v1:0",
         "meta.llama3-1-8b-instruct-v1:0"),
        ("us.amazon.nova-pro-v1:0", "amazon.nova-pro-v1:0"),
    ],
)  # fmt: skip
def test_profiles_and_arns_are_priced_as_the_model_they_name(
    instrumented, client, model_id, priced_as
):
    converse(client, modelId=model_id)

    span = instrumented.span()
    assert span.attributes[sc.GEN_AI_REQUEST_MODEL] == model_id  # reported as asked
    assert span.attributes[sc.GEN_AI_USAGE_COST] == pytest.approx(
        float(genai_cost(priced_as, span_usage(span))), rel=1e-12
    )


def test_a_global_profile_costs_less_than_a_regional_one(instrumented):
    with FakeBedrock(usage=USAGE) as fake:
        converse(fake.client(), modelId=f"us.{HAIKU}")
        converse(fake.client(), modelId=f"global.{HAIKU}")

    regional, global_ = (s.attributes[sc.GEN_AI_USAGE_COST] for s in instrumented.spans())
    assert global_ == pytest.approx(regional / 1.1)


@pytest.mark.parametrize("model_id", [HAIKU, f"us.{HAIKU}", f"global.{HAIKU}"])
def test_anthropic_bedrock_and_boto3_price_the_same_model_the_same(instrumented, model_id):
    """The same model and usage through ``AnthropicBedrock`` (the anthropic SDK) and through
    boto3's ``converse`` and ``invoke_model``: one price."""
    pytest.importorskip("anthropic", reason="AnthropicBedrock needs the anthropic extra")
    anthropic_fake = FakeAnthropic(
        usage={"input_tokens": 300, "cache_read_input_tokens": 2048,
               "cache_creation_input_tokens": 512, "output_tokens": 150}
    )  # fmt: skip
    anthropic_fake.bedrock_client().messages.create(
        model=model_id, max_tokens=256, messages=[{"role": "user", "content": PROMPT}]
    )
    with FakeBedrock(usage=USAGE) as fake:
        client = fake.client()
        converse(client, modelId=model_id)
        request = invoke_request("anthropic")
        json.loads(client.invoke_model(**{**request, "modelId": model_id})["body"].read())

    spans = instrumented.spans()
    assert [s.attributes[sc.GEN_AI_PROVIDER_NAME] for s in spans] == ["aws.bedrock"] * 3
    assert {span_usage(s) for s in spans} == {
        Usage(input_tokens=2860, output_tokens=150, cache_read_tokens=2048, cache_write_tokens=512)
    }
    costs = {s.attributes[sc.GEN_AI_USAGE_COST] for s in spans}
    assert len(costs) == 1, costs


def test_bedrock_prices_the_requested_profile_not_the_model_the_answer_names():
    """Bedrock's Anthropic answers name the bare model (``claude-haiku-4-5-20251001``); the
    request's profile decides the price (a global profile is cheaper than the regional)."""
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    book = PriceBook()
    named = book.cost(usage, "aws.bedrock", "claude-haiku-4-5-20251001", f"global.{HAIKU}")
    assert named.amount_usd == genai_cost(f"global.{HAIKU}", usage)


@pytest.mark.parametrize("family", FAMILIES)
def test_without_token_headers_the_familys_own_body_has_the_usage(instrumented, family):
    with FakeBedrock(token_headers=False) as fake:
        answer = invoke(fake.client(), family)

    span = instrumented.span()
    expected = {
        "anthropic": lambda a: (a["usage"]["input_tokens"], a["usage"]["output_tokens"]),
        "meta": lambda a: (a["prompt_token_count"], a["generation_token_count"]),
        "nova": lambda a: (a["usage"]["inputTokens"], a["usage"]["outputTokens"]),
        "mistral": lambda a: (a["usage"]["prompt_tokens"], a["usage"]["completion_tokens"]),
    }[family](answer)
    assert (
        span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS],
        span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS],
    ) == expected
    assert span.attributes[sc.TOKENTRAIL_COST_STATUS] == "priced"


def test_an_answer_without_headers_or_usage_is_unpriced(instrumented):
    """Mistral 7B / Mixtral report no usage in their body: without the headers there is
    nothing to price (never $0)."""
    with FakeBedrock(token_headers=False) as fake:
        fake.client().invoke_model(
            modelId="mistral.mistral-7b-instruct-v0:2",
            body=json.dumps({"prompt": f"<s>[INST] {PROMPT} [/INST]", "max_tokens": 100}),
        )["body"].read()

    span = instrumented.span()
    assert span.attributes[sc.TOKENTRAIL_COST_STATUS] == "unpriced"
    assert sc.GEN_AI_USAGE_COST not in span.attributes
    assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)


def test_a_model_genai_prices_does_not_know_is_unpriced_and_warned(instrumented, client, caplog):
    converse(client, modelId="mistral.mistral-large-2407-v1:0")

    span = instrumented.span()
    assert span.attributes[sc.TOKENTRAIL_COST_STATUS] == "unpriced"
    assert any("mistral.mistral-large-2407-v1:0" in r.getMessage() for r in caplog.records)


def test_an_application_inference_profile_is_priced_by_an_override(telemetry, fake, client):
    """An application inference profile's ARN names no model: a prices entry for the ARN
    prices it."""
    import tokentrail

    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4"
    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        prices=[{"model": arn, "input_mtok": 1, "output_mtok": 5}],
    )
    try:
        converse(client, modelId=arn)
    finally:
        tokentrail.uninstrument()
    span = telemetry.span()
    assert span.attributes[sc.TOKENTRAIL_PRICING_SOURCE] == "override"
    usage = span_usage(span)
    assert span.attributes[sc.GEN_AI_USAGE_COST] == pytest.approx(
        (usage.input_tokens * 1 + usage.output_tokens * 5) / 1e6
    )
