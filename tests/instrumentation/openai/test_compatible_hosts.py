"""OpenAI-compatible hosts reached through the openai SDK with a ``base_url``: the provider
named from the host, priced with genai-prices' list for that provider (or ``unpriced`` with
the prices-file line to add), and stream usage read wherever each host sends it, with
``stream_options.include_usage`` added only where the host is known to accept it.

The fake answers at any base URL; it sends stream usage the way each host documents it
(``tokentrail.fakes.openai.STREAM_USAGE_BY_HOST``)."""

from __future__ import annotations

import logging

import genai_prices
import pytest

from tokentrail.fakes.openai import FakeOpenAI

from .conftest import MESSAGES

USAGE = {"prompt_tokens": 2000, "completion_tokens": 500, "total_tokens": 2500}

# base URL, provider, genai-prices provider id, a model it prices
PRICED = [
    ("https://api.groq.com/openai/v1", "groq", "groq", "llama-3.3-70b-versatile"),
    ("https://api.deepseek.com", "deepseek", "deepseek", "deepseek-chat"),
    ("https://api.x.ai/v1", "x_ai", "x-ai", "grok-3"),
    ("https://api.together.xyz/v1", "together_ai", "together",
     "meta-llama/Llama-3.3-70B-Instruct-Turbo"),
    ("https://api.fireworks.ai/inference/v1", "fireworks_ai", "fireworks",
     "accounts/fireworks/models/llama-v3p1-8b-instruct"),
    ("https://openrouter.ai/api/v1", "openrouter", "openrouter", "openai/gpt-4o-mini"),
    ("https://api.mistral.ai/v1", "mistral_ai", "mistral", "mistral-small-latest"),
    ("https://api.perplexity.ai", "perplexity", "perplexity", "sonar"),
]  # fmt: skip


@pytest.fixture
def fake() -> FakeOpenAI:
    return FakeOpenAI(usage=USAGE, stream_chunks=5)


def chat(api, model, **kwargs):
    return api.call("chat.completions.create", model=model, messages=MESSAGES, **kwargs)


def sent(api):
    """The body of the last request the fake received."""
    return api.fake.requests[-1][1]


@pytest.mark.parametrize(("base_url", "provider", "provider_id", "model"), PRICED)
def test_a_known_host_names_its_provider_and_is_priced_with_its_prices(
    api, instrumented, base_url, provider, provider_id, model
):
    host = api.with_client(base_url=base_url)

    chat(host, model)

    attributes = instrumented.span().attributes
    assert attributes["gen_ai.provider.name"] == provider
    assert attributes["server.address"] == base_url.split("/")[2]
    assert attributes["tokentrail.cost.status"] == "priced"
    expected = genai_prices.calc_price(
        genai_prices.Usage(input_tokens=2000, output_tokens=500), model, provider_id=provider_id
    ).total_price
    assert attributes["gen_ai.usage.cost"] == float(expected)
    assert instrumented.value("tokentrail.requests", {"gen_ai.provider.name": provider}) == 1


@pytest.mark.parametrize(
    "base_url",
    ["http://localhost:11434/v1", "http://gpu-box.lan:11434/v1", "https://ollama.com/v1"],
)
def test_ollama_is_named_and_its_models_are_unpriced_with_the_fix(
    api, instrumented, caplog, base_url
):
    """Ollama (its own port, on any host, or its cloud): ``ollama``; genai-prices has no
    prices for it, so the call is unpriced and the warning holds the line to add."""
    with caplog.at_level(logging.WARNING, logger="tokentrail"):
        chat(api.with_client(base_url=base_url), "qwen2.5:7b")

    attributes = instrumented.span().attributes
    assert attributes["gen_ai.provider.name"] == "ollama"
    assert attributes["tokentrail.cost.status"] == "unpriced"
    assert "gen_ai.usage.cost" not in attributes
    (warning,) = [r.getMessage() for r in caplog.records if "no price" in r.getMessage()]
    assert '- {provider: "ollama", model: "qwen2.5:7b", input_mtok: <USD per 1M input tokens>, ' \
           'output_mtok: <USD per 1M output tokens>}' in warning  # fmt: skip


def test_a_vllm_server_keeps_its_address_and_a_model_openai_does_not_sell_is_unpriced(
    api, instrumented, caplog
):
    """A self-hosted server on a generic port is not named (``openai``, as any unknown host):
    ``server.address``/``server.port`` say which it is; its model has no OpenAI price."""
    with caplog.at_level(logging.WARNING, logger="tokentrail"):
        chat(api.with_client(base_url="http://localhost:8000/v1"), "meta-llama/Llama-3.1-8B")

    attributes = instrumented.span().attributes
    assert attributes["gen_ai.provider.name"] == "openai"
    assert (attributes["server.address"], attributes["server.port"]) == ("localhost", 8000)
    assert attributes["tokentrail.cost.status"] == "unpriced"
    assert any(
        '{provider: "openai", model: "meta-llama/Llama-3.1-8B"' in r.getMessage()
        for r in caplog.records
    )


def test_the_fix_in_the_warning_prices_the_model(api, telemetry):
    """The warning's line, with the rates filled in, is a valid prices entry."""
    import yaml

    import tokentrail
    from tokentrail.pricing.book import price_entry

    line = price_entry("ollama", "qwen2.5:7b").replace("<USD per 1M input tokens>", "0.2")
    line = line.replace("<USD per 1M output tokens>", "0.6")
    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        prices=yaml.safe_load("prices:\n  " + line),
    )
    try:
        chat(api.with_client(base_url="http://localhost:11434/v1"), "qwen2.5:7b")
    finally:
        tokentrail.uninstrument()

    attributes = telemetry.span().attributes
    assert attributes["tokentrail.pricing.source"] == "override"
    assert attributes["gen_ai.usage.cost"] == pytest.approx((2000 * 0.2 + 500 * 0.6) / 1e6)


def test_an_unfilled_fix_is_rejected_not_read_as_zero():
    import yaml

    from tokentrail import ConfigurationError
    from tokentrail.pricing.book import price_entry
    from tokentrail.pricing.overrides import parse_overrides

    with pytest.raises(ConfigurationError, match="input_mtok"):
        parse_overrides(yaml.safe_load("prices:\n  " + price_entry("ollama", "x")), origin="f")


# -- streams ---------------------------------------------------------------------------------

# base URL, model, stream_options added by tokentrail
STREAMS = [
    pytest.param("https://api.groq.com/openai/v1", "llama-3.3-70b-versatile", False, id="groq"),
    pytest.param("https://api.deepseek.com", "deepseek-chat", True, id="deepseek"),
    pytest.param("https://api.together.xyz/v1", "meta-llama/Llama-3.3-70B-Instruct-Turbo",
                 False, id="together"),
    pytest.param("https://api.fireworks.ai/inference/v1",
                 "accounts/fireworks/models/llama-v3p1-8b-instruct", False, id="fireworks"),
    pytest.param("https://api.mistral.ai/v1", "mistral-small-latest", False, id="mistral"),
    pytest.param("http://localhost:11434/v1", "qwen2.5:7b", True, id="ollama"),
]  # fmt: skip


@pytest.mark.parametrize(("base_url", "model", "injected"), STREAMS)
def test_stream_usage_is_read_where_the_host_sends_it(api, instrumented, base_url, model, injected):
    """Asked for only where the host accepts it (and then hidden from the caller); read from
    the finishing chunk or Groq's ``x_groq`` where the host sends it unasked. Either way the
    call has the host's exact usage, and the caller's chunks are the host's."""
    host = api.with_client(base_url=base_url)

    chunks = host.drain(chat(host, model, stream=True))

    assert ("stream_options" in sent(api)) is injected
    if injected:
        assert sent(api)["stream_options"] == {"include_usage": True}
    assert all(chunk.choices for chunk in chunks)  # no usage-only chunk the caller did not ask
    attributes = instrumented.span().attributes
    assert attributes["gen_ai.usage.input_tokens"] == 2000
    assert attributes["gen_ai.usage.output_tokens"] == 500
    assert attributes["tokentrail.cost.status"] in ("priced", "unpriced")  # Ollama: no price
    assert attributes["tokentrail.cost.status"] != "estimated"


def test_openrouter_sends_its_usage_chunk_and_the_caller_still_gets_it(api, instrumented):
    """OpenRouter always ends a stream with a usage chunk (``choices == []``): the caller
    gets it as without tokentrail (nothing was injected, so nothing is hidden)."""
    host = api.with_client(base_url="https://openrouter.ai/api/v1")

    chunks = host.drain(chat(host, "openai/gpt-4o-mini", stream=True))

    assert "stream_options" not in sent(api)
    assert chunks[-1].choices == []
    assert chunks[-1].usage.prompt_tokens == 2000
    assert instrumented.span().attributes["tokentrail.cost.status"] == "priced"


@pytest.mark.parametrize(
    ("base_url", "model"),
    [("https://api.x.ai/v1", "grok-3"), ("http://localhost:8000/v1", "gpt-4o-mini")],
    ids=["x_ai", "vllm"],
)
def test_hosts_not_known_to_accept_it_get_nothing_injected_and_are_estimated(
    api, instrumented, base_url, model
):
    host = api.with_client(base_url=base_url)

    host.drain(chat(host, model, stream=True))

    assert "stream_options" not in sent(api)
    assert instrumented.span().attributes["tokentrail.cost.status"] == "estimated"
