"""``tokentrail.calc_cost``: the public price of one ``Usage``, equal to genai-prices;
``Cost`` is a frozen value."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import genai_prices
import pytest

import tokentrail
from tokentrail import Cost, Usage, calc_cost

USAGE = Usage(
    input_tokens=3000,
    output_tokens=900,
    cache_read_tokens=2048,
    cache_write_tokens=512,
    reasoning_tokens=600,
)


def genai_prices_total(usage, model, provider_id):
    return genai_prices.calc_price(
        genai_prices.Usage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            output_reasoning_tokens=usage.reasoning_tokens,
        ),
        model,
        provider_id=provider_id,
    ).total_price


@pytest.mark.parametrize(
    ("model", "provider", "provider_id"),
    [
        ("gpt-4o", "openai", "openai"),
        ("o4-mini", "openai", "openai"),
        ("gpt-4o-mini", "azure.ai.openai", "azure"),
        ("claude-sonnet-4-5", "anthropic", "anthropic"),
        ("gemini-2.5-pro", "gcp.gemini", "google"),
    ],
)
def test_calc_cost_equals_genai_prices(model, provider, provider_id):
    cost = calc_cost(USAGE, model, provider)

    assert cost == Cost(genai_prices_total(USAGE, model, provider_id), "priced", cost.source)
    assert isinstance(cost.amount_usd, Decimal)
    assert cost.source.startswith("genai-prices ")


def test_calc_cost_accepts_a_genai_prices_provider_id():
    assert calc_cost(USAGE, "gpt-4o-mini", "azure") == calc_cost(
        USAGE, "gpt-4o-mini", "azure.ai.openai"
    )


def test_estimated_usage_is_priced_as_estimated():
    cost = calc_cost(Usage(input_tokens=100, output_tokens=10, estimated=True), "gpt-4o", "openai")

    assert cost.status == "estimated"
    assert cost.amount_usd > 0


def test_unknown_model_is_unpriced_not_zero():
    assert calc_cost(USAGE, "acme-llm-7b", "openai") == Cost(None, "unpriced", None)


def test_overrides_of_the_running_instrumentation_apply(telemetry):
    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        prices=[{"model": "acme-llm-7b", "input_mtok": 1, "output_mtok": 2}],
    )
    try:
        cost = calc_cost(Usage(input_tokens=1_000_000, output_tokens=500_000), "acme-llm-7b", "x")
    finally:
        tokentrail.uninstrument()

    assert cost == Cost(Decimal(2), "priced", "override")
    assert calc_cost(Usage(input_tokens=1), "acme-llm-7b", "x").status == "unpriced"


def test_cost_and_usage_are_frozen_dataclasses():
    cost = Cost(Decimal("0.01"), "priced", "override")

    for value in (cost, USAGE):
        assert dataclasses.is_dataclass(value)
        assert type(value).__dataclass_params__.frozen
    with pytest.raises(dataclasses.FrozenInstanceError):
        cost.amount_usd = Decimal(0)  # type: ignore[misc]
