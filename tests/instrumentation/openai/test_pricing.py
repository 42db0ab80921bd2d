"""Tokens and cost of openai calls, checked against genai-prices on the API's own bodies
(cache reads and writes, reasoning tokens); unknown models; price overrides."""

from __future__ import annotations

import json
import logging

import genai_prices
import pytest

import tokentrail
from tokentrail import ConfigurationError
from tokentrail.fakes.openai import FakeOpenAI

from .conftest import MESSAGES

#: chat shape; the fake answers the Responses API with the same numbers in its shape
USAGE = {
    "prompt_tokens": 3000,
    "completion_tokens": 900,
    "total_tokens": 3900,
    "prompt_tokens_details": {"cached_tokens": 2048, "cache_write_tokens": 512},
    "completion_tokens_details": {"reasoning_tokens": 600},
}


@pytest.fixture
def fake() -> FakeOpenAI:
    return FakeOpenAI(usage=USAGE, stream_chunks=4)


def genai_prices_cost(body, flavor):
    """What genai-prices says the API body costs (``Decimal``)."""
    extracted = genai_prices.extract_usage(body, provider_id="openai", api_flavor=flavor)
    return extracted.calc_price().total_price


@pytest.mark.parametrize("model", ["gpt-4o", "o4-mini", "gpt-5"])
@pytest.mark.parametrize("flavor", ["chat", "responses"])
def test_tokens_and_cost_equal_genai_prices(api, instrumented, model, flavor):
    """Span tokens are the body's; span and metric cost are genai-prices' ``Decimal`` as a
    float."""
    if flavor == "chat":
        result = api.call("chat.completions.create", model=model, messages=MESSAGES)
    else:
        result = api.call("responses.create", model=model, input=MESSAGES)
    body = result.model_dump(mode="json")

    expected = genai_prices_cost(body, flavor)
    attributes = instrumented.span().attributes
    assert attributes["gen_ai.usage.cost"] == float(expected)
    assert instrumented.value("tokentrail.cost.usd") == float(expected)
    assert attributes["tokentrail.cost.status"] == "priced"
    assert attributes["gen_ai.usage.input_tokens"] == 3000
    assert attributes["gen_ai.usage.output_tokens"] == 900
    assert attributes["gen_ai.usage.cache_read.input_tokens"] == 2048
    assert attributes["gen_ai.usage.cache_creation.input_tokens"] == 512
    assert attributes["gen_ai.usage.reasoning.output_tokens"] == 600


@pytest.mark.parametrize(
    ("method", "kwargs", "flavor"),
    [
        ("chat.completions.create", {"messages": MESSAGES}, "chat"),
        ("responses.create", {"input": "hi"}, "responses"),
    ],
)
def test_streamed_cost_equals_genai_prices(api, instrumented, method, kwargs, flavor):
    """Streams are priced from the usage they end with, exactly as the plain call."""
    api.drain(api.call(method, model="o4-mini", stream=True, **kwargs))

    usage = USAGE
    if flavor == "responses":
        usage = {
            "input_tokens": 3000,
            "output_tokens": 900,
            "input_tokens_details": USAGE["prompt_tokens_details"],
            "output_tokens_details": USAGE["completion_tokens_details"],
        }
    expected = genai_prices_cost({"model": "o4-mini-2025-04-16", "usage": usage}, flavor)
    assert instrumented.span().attributes["gen_ai.usage.cost"] == float(expected)


def test_embeddings_cost_equals_genai_prices(api, instrumented):
    result = api.call("embeddings.create", model="text-embedding-3-large", input="quarterly")

    expected = genai_prices_cost(result.model_dump(mode="json"), "embeddings")
    attributes = instrumented.span().attributes
    assert attributes["gen_ai.usage.input_tokens"] == 3000
    assert attributes["gen_ai.usage.cost"] == float(expected)


def test_unknown_model_is_unpriced_never_zero(api, instrumented, caplog):
    """No price: ``tokentrail.cost.status = unpriced``, no ``gen_ai.usage.cost``, counted as
    unpriced, and one warning per model however many calls."""
    caplog.set_level(logging.WARNING, logger="tokentrail")
    for model in ("acme-llm-7b", "acme-llm-7b", "acme-llm-7b", "acme-llm-13b"):
        api.call("chat.completions.create", model=model, messages=MESSAGES)

    for span in instrumented.spans():
        assert span.attributes["tokentrail.cost.status"] == "unpriced"
        assert "gen_ai.usage.cost" not in span.attributes
        assert "tokentrail.pricing.source" not in span.attributes
        assert span.attributes["gen_ai.usage.input_tokens"] == 3000
    assert instrumented.value("tokentrail.requests", {"tokentrail.cost.status": "unpriced"}) == 4
    assert instrumented.points("tokentrail.cost.usd") == []
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "acme-llm-7b" in warnings[0]
    assert "acme-llm-13b" in warnings[1]


OVERRIDE = {"provider": "openai", "input_mtok": 2, "output_mtok": 10, "cache_read_mtok": 0.5}
#: per MTok: 2048 cache reads at $0.5, the other 952 input tokens (cache writes included, having
#: no rate of their own) at $2, 900 output tokens at $10
OVERRIDE_COST = (2048 * 0.5 + 952 * 2 + 900 * 10) / 1_000_000


@pytest.mark.parametrize(
    "model_pattern",
    ["gpt-4o-mini", "gpt-4o-mini-2024-07-18", "gpt-4o-mini*", "GPT-4o-Mini"],
    ids=["request-model", "response-model", "glob", "case"],
)
def test_price_override_wins(api, telemetry, model_pattern):
    """``instrument(prices=[...])`` wins over genai-prices, whether it names the model asked
    for, the snapshot that answered, or a glob."""
    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        prices=[{**OVERRIDE, "model": model_pattern}],
    )
    try:
        api.call("chat.completions.create", model="gpt-4o-mini", messages=MESSAGES)
    finally:
        tokentrail.uninstrument()

    attributes = telemetry.span().attributes
    assert attributes["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert attributes["tokentrail.pricing.source"] == "override"
    assert attributes["gen_ai.usage.cost"] == pytest.approx(OVERRIDE_COST, rel=1e-12)


def test_override_for_another_provider_does_not_apply(api, telemetry):
    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        prices=[{**OVERRIDE, "provider": "azure.ai.openai", "model": "gpt-4o-mini"}],
    )
    try:
        api.call("chat.completions.create", model="gpt-4o-mini", messages=MESSAGES)
    finally:
        tokentrail.uninstrument()

    assert telemetry.span().attributes["tokentrail.pricing.source"].startswith("genai-prices")


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_prices_file_from_the_environment(api, telemetry, tmp_path, monkeypatch, suffix):
    """``TOKENTRAIL_PRICES_FILE`` (YAML or JSON) prices a model genai-prices does not know."""
    entry = {"provider": "openai", "model": "acme-*", "input_mtok": 1, "output_mtok": 3}
    path = tmp_path / f"prices{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps({"prices": [entry]}))
    else:
        path.write_text(
            "prices:\n"
            "  - provider: openai\n"
            "    model: acme-*\n"
            "    input_mtok: 1\n"
            "    output_mtok: 3\n"
        )
    monkeypatch.setenv("TOKENTRAIL_PRICES_FILE", str(path))
    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    try:
        api.call("chat.completions.create", model="acme-llm-7b", messages=MESSAGES)
    finally:
        tokentrail.uninstrument()

    attributes = telemetry.span().attributes
    assert attributes["tokentrail.cost.status"] == "priced"
    assert attributes["tokentrail.pricing.source"] == "override"
    assert attributes["gen_ai.usage.cost"] == pytest.approx((3000 * 1 + 900 * 3) / 1e6)


@pytest.mark.parametrize(
    ("entries", "entry", "field"),
    [
        ([{"model": "a", "input_mtok": "cheap", "output_mtok": 1}], "prices[0]", "input_mtok"),
        ([{"model": "a", "input_mtok": 1}], "prices[0]", "output_mtok"),
        (
            [
                {"model": "a", "input_mtok": 1, "output_mtok": 1},
                {"model": "b", "input_mtok": 1, "output_mtok": 1, "cache_mtok": 1},
            ],
            "prices[1]",
            "cache_mtok",
        ),
        ([{"model": "a", "input_mtok": -1, "output_mtok": 1}], "prices[0]", "input_mtok"),
        ([{"input_mtok": 1, "output_mtok": 1}], "prices[0]", "model"),
    ],
    ids=["not-a-number", "missing", "unknown-field", "negative", "no-model"],
)
def test_bad_prices_file_names_file_entry_and_field(
    telemetry, tmp_path, monkeypatch, entries, entry, field
):
    """A wrong entry is a ``ConfigurationError`` at ``instrument()`` naming the file, the entry
    and the field; nothing is instrumented."""
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"prices": entries}))
    monkeypatch.setenv("TOKENTRAIL_PRICES_FILE", str(path))

    with pytest.raises(ConfigurationError) as raised:
        tokentrail.instrument(tracer_provider=telemetry.tracer_provider)

    message = str(raised.value)
    assert str(path) in message
    assert entry in message
    assert field in message
    tokentrail.uninstrument()


@pytest.mark.parametrize(
    ("content", "reason"),
    [("prices: [unclosed", "not valid YAML"), (None, "cannot read")],
)
def test_unreadable_prices_file_names_the_file(telemetry, tmp_path, monkeypatch, content, reason):
    path = tmp_path / "prices.yaml"
    if content is not None:
        path.write_text(content)
    monkeypatch.setenv("TOKENTRAIL_PRICES_FILE", str(path))

    with pytest.raises(ConfigurationError, match=reason) as raised:
        tokentrail.instrument(tracer_provider=telemetry.tracer_provider)

    assert str(path) in str(raised.value)
