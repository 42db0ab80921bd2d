"""Tokens and cost of mistralai calls, checked against genai-prices' ``mistral`` prices: chat,
fill-in-the-middle and embeddings, prompt-cache reads, streams; unknown models; overrides."""

from __future__ import annotations

import inspect
import logging

import genai_prices
import pytest

import tokentrail
from tests.instrumentation.driver import collected
from tokentrail.fakes.mistral import FakeMistral

from .conftest import CHAT, EMBEDDINGS, FIM, KEEPS_CACHE_READS, MESSAGES, needs_cache_reads

USAGE = {
    "prompt_tokens": 3000,
    "completion_tokens": 900,
    "total_tokens": 3900,
    "prompt_tokens_details": {"cached_tokens": 2048},
}


@pytest.fixture
def fake() -> FakeMistral:
    return FakeMistral(usage=USAGE, stream_chunks=4)


def expected_cost(model: str, *, input_tokens=3000, output_tokens=900, cached=2048) -> float:
    usage = genai_prices.Usage(
        input_tokens=input_tokens, output_tokens=output_tokens, cache_read_tokens=cached
    )
    return float(genai_prices.calc_price(usage, model, provider_id="mistral").total_price)


@pytest.mark.parametrize(
    "model", ["mistral-small-latest", "mistral-medium-latest", "mistral-large-2512"]
)
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_chat_tokens_and_cost_equal_genai_prices(api, instrumented, model, stream):
    """Input includes the cached tokens (Mistral's ``prompt_tokens`` does), the cache reads
    are priced at the cache price; span and metric cost are genai-prices' as a float."""
    if stream:
        api.drain(api.call("chat.stream", model=model, messages=MESSAGES))
    else:
        api.call("chat.complete", model=model, messages=MESSAGES)

    cached = 2048 if KEEPS_CACHE_READS else 0  # older SDKs drop the cache details
    attributes = instrumented.span().attributes
    assert attributes["gen_ai.usage.input_tokens"] == 3000
    assert attributes["gen_ai.usage.output_tokens"] == 900
    assert attributes.get("gen_ai.usage.cache_read.input_tokens", 0) == cached
    assert "gen_ai.usage.cache_creation.input_tokens" not in attributes
    assert attributes["gen_ai.usage.cost"] == expected_cost(model, cached=cached)
    assert instrumented.value("tokentrail.cost.usd") == expected_cost(model, cached=cached)
    assert attributes["tokentrail.cost.status"] == "priced"
    if cached:
        assert instrumented.value("tokentrail.tokens", {"gen_ai.token.type": "cache_read"}) == 2048


@needs_cache_reads
def test_cache_reads_make_a_call_cheaper(api, instrumented):
    """The same usage without cache reads costs more (the cache price is 10% of input)."""
    api.call("chat.complete", **CHAT)
    api.fake.usage = {**USAGE, "prompt_tokens_details": {"cached_tokens": 0}}
    api.call("chat.complete", **CHAT)

    cached, uncached = (s.attributes["gen_ai.usage.cost"] for s in instrumented.spans())
    assert cached < uncached
    assert uncached == expected_cost(CHAT["model"], cached=0)


@needs_cache_reads
def test_a_repeated_prefix_with_a_cache_key_is_read_from_the_cache(instrumented):
    """Through the fake's own usage (no fixed usage): the second call with the same
    ``prompt_cache_key`` and system prompt reports cached tokens, and costs less."""
    api_fake = FakeMistral()
    client = api_fake.client()
    if "prompt_cache_key" not in inspect.signature(client.chat.complete).parameters:
        pytest.skip("this mistralai has no prompt_cache_key (< 2.x)")
    messages = [{"role": "system", "content": "Answer as the finance team. " * 40}, *MESSAGES]
    for _ in range(2):
        client.chat.complete(
            model="mistral-small-latest", messages=messages, prompt_cache_key="finance-42"
        )

    first, second = instrumented.spans()
    assert "gen_ai.usage.cache_read.input_tokens" not in first.attributes
    assert second.attributes["gen_ai.usage.cache_read.input_tokens"] > 0
    assert second.attributes["gen_ai.usage.cost"] < first.attributes["gen_ai.usage.cost"]


def test_fim_is_priced_as_codestral(api, instrumented):
    api.call("fim.complete", **FIM)

    attributes = instrumented.span().attributes
    assert attributes["gen_ai.operation.name"] == "text_completion"
    assert attributes["gen_ai.usage.cost"] == expected_cost("codestral-latest")


def test_embeddings_are_priced_by_input_tokens(api, instrumented):
    api.fake.usage = {"prompt_tokens": 5000, "completion_tokens": 0, "total_tokens": 5000}
    api.call("embeddings.create", **EMBEDDINGS)

    attributes = instrumented.span().attributes
    assert attributes["gen_ai.usage.input_tokens"] == 5000
    assert attributes["gen_ai.usage.output_tokens"] == 0
    assert attributes["gen_ai.usage.cost"] == expected_cost(
        "mistral-embed", input_tokens=5000, output_tokens=0, cached=0
    )


def test_an_unknown_model_is_unpriced_and_the_warning_gives_the_fix(api, instrumented, caplog):
    """A fine-tuned model no price list knows: unpriced (never $0), one warning per model,
    and the warning holds the prices-file entry to add, provider and model filled in."""
    model = "ft:open-mistral-7b:acme:20260101:a1b2c3"
    with caplog.at_level(logging.WARNING, logger="tokentrail"):
        api.call("chat.complete", model=model, messages=MESSAGES)
        api.call("chat.complete", model=model, messages=MESSAGES)

    for span in instrumented.spans():
        assert span.attributes["tokentrail.cost.status"] == "unpriced"
        assert "gen_ai.usage.cost" not in span.attributes
    (warning,) = [r.getMessage() for r in caplog.records if "no price" in r.getMessage()]
    assert f'- {{provider: "mistral_ai", model: "{model}", input_mtok:' in warning


def test_a_price_override_prices_the_unknown_model(api, telemetry):
    model = "ft:open-mistral-7b:acme:20260101:a1b2c3"
    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        prices=[{"provider": "mistral_ai", "model": "ft:*", "input_mtok": 1, "output_mtok": 2}],
    )
    try:
        api.call("chat.complete", model=model, messages=MESSAGES)
    finally:
        tokentrail.uninstrument()

    attributes = telemetry.span().attributes
    assert attributes["tokentrail.pricing.source"] == "override"
    assert attributes["gen_ai.usage.cost"] == pytest.approx((3000 * 1 + 900 * 2) / 1e6)


def test_a_stream_cut_short_is_estimated_and_priced(api, instrumented):
    """Dropped after two events: the usage never came, so it is estimated (the prompt, and a
    token per content chunk) and priced at the model's price."""
    stream = api.call("chat.stream", **CHAT)
    api.take(stream, 2)
    del stream
    collected()

    attributes = instrumented.span().attributes
    assert attributes["tokentrail.cost.status"] == "estimated"
    assert attributes["gen_ai.usage.output_tokens"] == 2
    input_tokens = attributes["gen_ai.usage.input_tokens"]
    assert attributes["gen_ai.usage.cost"] == expected_cost(
        CHAT["model"], input_tokens=input_tokens, output_tokens=2, cached=0
    )
