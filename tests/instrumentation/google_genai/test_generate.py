"""generate_content and generate_content_stream, sync and async: one span carrying the usage
and cost of the one model request, metrics that count it once, and prices equal to
genai-prices' own reading of the same response."""

from __future__ import annotations

import json
from decimal import Decimal

import genai_prices
import pytest
from google.genai import types
from opentelemetry.trace import SpanKind, StatusCode

import tokentrail

from .conftest import MODEL, PROMPT, genai_prices_cost, needs_service_tier

COST = "tokentrail.cost.usd"
REQUESTS = "tokentrail.requests"
TOKENS = "tokentrail.tokens"


def _input(telemetry) -> float:
    return telemetry.value(TOKENS, {"gen_ai.token.type": "input"})


def test_generate_content_has_one_priced_span_and_one_request(gemini, instrumented):
    config = types.GenerateContentConfig(max_output_tokens=300, temperature=0.4)
    response = gemini.generate(config=config)

    span = instrumented.span()
    usage = response.usage_metadata
    assert span.name == f"generate_content {MODEL}"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert dict(span.attributes) | {"gen_ai.usage.cost": None} == {
        "gen_ai.operation.name": "generate_content",
        "gen_ai.provider.name": "gcp.gemini",
        "gen_ai.request.model": MODEL,
        "gen_ai.request.max_tokens": 300,
        "gen_ai.request.temperature": 0.4,
        "gen_ai.request.stream": False,
        "server.address": "generativelanguage.googleapis.com",
        "server.port": 443,
        "gen_ai.response.model": response.model_version,
        "gen_ai.response.id": response.response_id,
        "gen_ai.response.finish_reasons": ("STOP",),
        "gen_ai.usage.input_tokens": usage.prompt_token_count,
        "gen_ai.usage.output_tokens": usage.candidates_token_count + usage.thoughts_token_count,
        "gen_ai.usage.reasoning.output_tokens": usage.thoughts_token_count,
        "tokentrail.cost.status": "priced",
        "tokentrail.pricing.source": span.attributes["tokentrail.pricing.source"],
        "gen_ai.usage.cost": None,
    }
    expected = genai_prices_cost(response)
    assert Decimal(str(span.attributes["gen_ai.usage.cost"])) == expected
    assert instrumented.value(REQUESTS) == 1
    assert instrumented.count("gen_ai.client.operation.duration") == 1
    assert instrumented.value(COST) == pytest.approx(float(expected))
    assert _input(instrumented) == usage.prompt_token_count


def test_config_may_be_a_dict(gemini, instrumented):
    """A config dict is read like a ``GenerateContentConfig``, in either key spelling."""
    gemini.generate(config={"max_output_tokens": 64, "temperature": 0})
    gemini.generate(config={"maxOutputTokens": 32})
    first, second = instrumented.spans()
    assert first.attributes["gen_ai.request.max_tokens"] == 64
    assert first.attributes["gen_ai.request.temperature"] == 0.0
    assert second.attributes["gen_ai.request.max_tokens"] == 32
    assert "gen_ai.request.temperature" not in second.attributes


def test_model_resource_names_are_reported_as_the_model_id(gemini, instrumented):
    gemini.generate(model="models/gemini-2.0-flash")
    span = instrumented.span()
    assert span.name == "generate_content gemini-2.0-flash"
    assert span.attributes["gen_ai.request.model"] == "gemini-2.0-flash"


def test_drained_stream_reports_the_last_running_total(gemini, instrumented):
    chunks = gemini.drain(gemini.stream())

    assert len(chunks) > 2
    final = chunks[-1]
    span = instrumented.span()
    assert span.attributes["gen_ai.request.stream"] is True
    assert span.attributes["gen_ai.usage.input_tokens"] == final.usage_metadata.prompt_token_count
    assert span.attributes["gen_ai.usage.output_tokens"] == (
        final.usage_metadata.candidates_token_count + final.usage_metadata.thoughts_token_count
    )
    assert span.attributes["tokentrail.cost.status"] == "priced"
    assert Decimal(str(span.attributes["gen_ai.usage.cost"])) == genai_prices_cost(final)
    assert instrumented.value(REQUESTS) == 1
    assert instrumented.count("gen_ai.client.operation.time_to_first_chunk") == 1


def test_thinking_tokens_are_priced_as_output(gemini, instrumented):
    """Thoughts are billed at the output rate; some instrumentations leave them out."""
    response = gemini.generate(model="gemini-2.5-pro")
    usage = response.usage_metadata
    assert usage.thoughts_token_count > usage.candidates_token_count > 0

    span = instrumented.span()
    assert span.attributes["gen_ai.usage.output_tokens"] == (
        usage.candidates_token_count + usage.thoughts_token_count
    )
    assert span.attributes["gen_ai.usage.reasoning.output_tokens"] == usage.thoughts_token_count
    assert Decimal(str(span.attributes["gen_ai.usage.cost"])) == genai_prices_cost(response)
    assert instrumented.value(TOKENS, {"gen_ai.token.type": "reasoning"}) == (
        usage.thoughts_token_count
    )


def test_a_model_without_thinking_reports_no_reasoning(gemini, instrumented):
    gemini.generate(model="gemini-2.0-flash")
    assert "gen_ai.usage.reasoning.output_tokens" not in instrumented.span().attributes


def test_implicit_cache_hits_are_priced_at_the_cache_rate(gemini, instrumented):
    history = [
        types.Content(role="user", parts=[types.Part(text="policy clause " * 1500)]),
        types.Content(role="model", parts=[types.Part(text="Understood.")]),
    ]
    gemini.generate(contents=[*history, "Is clause 3 enforceable?"])
    second = gemini.generate(contents=[*history, "And clause 7?"])

    cached = second.usage_metadata.cached_content_token_count
    assert cached > 1024
    span = instrumented.spans()[1]
    assert span.attributes["gen_ai.usage.cache_read.input_tokens"] == cached
    assert span.attributes["gen_ai.usage.input_tokens"] == second.usage_metadata.prompt_token_count
    assert Decimal(str(span.attributes["gen_ai.usage.cost"])) == genai_prices_cost(second)
    assert instrumented.value(TOKENS, {"gen_ai.token.type": "cache_read"}) == cached


def test_tool_use_prompt_tokens_count_as_input(gemini, instrumented):
    config = types.GenerateContentConfig(tools=[types.Tool(google_search=types.GoogleSearch())])
    response = gemini.generate(contents="Who won yesterday?", config=config)

    usage = response.usage_metadata
    assert usage.tool_use_prompt_token_count > 0
    span = instrumented.span()
    assert span.attributes["gen_ai.usage.input_tokens"] == (
        usage.prompt_token_count + usage.tool_use_prompt_token_count
    )
    assert Decimal(str(span.attributes["gen_ai.usage.cost"])) == genai_prices_cost(response)


def test_an_audio_prompt_part_is_priced_at_the_audio_rate(gemini, instrumented):
    audio = types.Part.from_bytes(data=b"\x01" * 64_000, mime_type="audio/wav")
    response = gemini.generate(contents=["Transcribe this call.", audio])

    details = {d.modality: d.token_count for d in response.usage_metadata.prompt_tokens_details}
    assert details[types.MediaModality.AUDIO] == 64
    span = instrumented.span()
    cost = Decimal(str(span.attributes["gen_ai.usage.cost"]))
    assert cost == genai_prices_cost(response)
    # the same tokens all at the text rate cost less: audio input is dearer on 2.5 flash
    as_text = tokentrail.calc_cost(
        tokentrail.Usage(
            input_tokens=span.attributes["gen_ai.usage.input_tokens"],
            output_tokens=span.attributes["gen_ai.usage.output_tokens"],
            reasoning_tokens=span.attributes["gen_ai.usage.reasoning.output_tokens"],
        ),
        MODEL,
        "gcp.gemini",
    )
    assert cost > as_text.amount_usd


def test_every_modality_is_priced_like_genai_prices_reads_it(gemini, instrumented):
    """Fixed usage with each modality in every details list: the cost is genai-prices'."""
    gemini.fake.usage = {
        "promptTokenCount": 2400,
        "cachedContentTokenCount": 1200,
        "candidatesTokenCount": 300,
        "thoughtsTokenCount": 200,
        "toolUsePromptTokenCount": 90,
        "totalTokenCount": 2990,
        "promptTokensDetails": [
            {"modality": "TEXT", "tokenCount": 1800},
            {"modality": "AUDIO", "tokenCount": 400},
            {"modality": "IMAGE", "tokenCount": 150},
            {"modality": "DOCUMENT", "tokenCount": 50},
        ],
        "cacheTokensDetails": [
            {"modality": "TEXT", "tokenCount": 1000},
            {"modality": "AUDIO", "tokenCount": 200},
        ],
        "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": 300}],
        "toolUsePromptTokensDetails": [{"modality": "TEXT", "tokenCount": 90}],
    }
    for model in ("gemini-2.5-flash", "gemini-2.0-flash", "gemini-2.5-pro"):
        response = gemini.generate(model=model)
        span = instrumented.spans()[-1]
        assert Decimal(str(span.attributes["gen_ai.usage.cost"])) == genai_prices_cost(response)


def test_vertex_ai_client_reports_its_provider_and_is_priced(gemini, instrumented):
    vertex = gemini.other(vertexai=True)
    response = vertex.generate()
    gemini.generate()

    vertex_span, gemini_span = instrumented.spans()
    assert vertex_span.attributes["gen_ai.provider.name"] == "gcp.vertex_ai"
    assert vertex_span.attributes["server.address"] == "us-central1-aiplatform.googleapis.com"
    assert gemini_span.attributes["gen_ai.provider.name"] == "gcp.gemini"
    assert vertex_span.attributes["tokentrail.cost.status"] == "priced"
    assert Decimal(str(vertex_span.attributes["gen_ai.usage.cost"])) == genai_prices_cost(response)
    assert instrumented.value(REQUESTS, {"gen_ai.provider.name": "gcp.vertex_ai"}) == 1
    assert instrumented.value(REQUESTS, {"gen_ai.provider.name": "gcp.gemini"}) == 1


def test_an_unknown_model_is_unpriced_never_free(gemini, instrumented):
    gemini.generate(model="acme-tuned-gemini")
    span = instrumented.span()
    assert span.attributes["tokentrail.cost.status"] == "unpriced"
    assert "gen_ai.usage.cost" not in span.attributes
    assert instrumented.value(REQUESTS, {"tokentrail.cost.status": "unpriced"}) == 1


def test_raw_http_response_mode_is_priced_from_the_body(gemini, instrumented):
    """``should_return_http_response=True`` returns the body unparsed; its usage counts."""
    config = types.GenerateContentConfig(should_return_http_response=True)
    response = gemini.generate(config=config)

    body = json.loads(response.sdk_http_response.body)
    span = instrumented.span()
    assert span.attributes["gen_ai.usage.input_tokens"] == body["usageMetadata"]["promptTokenCount"]
    assert span.attributes["gen_ai.response.model"] == body["modelVersion"]
    assert span.attributes["tokentrail.cost.status"] == "priced"


def test_content_is_not_recorded_by_default(gemini, instrumented):
    gemini.generate(config={"system_instruction": "Answer in French."})
    attributes = instrumented.span().attributes
    assert not any(key.endswith(("messages", "instructions")) for key in attributes)


def test_content_is_recorded_when_asked_for(gemini, telemetry):
    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        capture_content=True,
    )
    try:
        response = gemini.generate(config={"system_instruction": "Answer in French."})
    finally:
        tokentrail.uninstrument()

    attributes = telemetry.span().attributes
    assert json.loads(attributes["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": PROMPT}]}
    ]
    assert json.loads(attributes["gen_ai.system_instructions"]) == [
        {"type": "text", "content": "Answer in French."}
    ]
    assert json.loads(attributes["gen_ai.output.messages"]) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": response.text}],
            "finish_reason": "STOP",
        }
    ]


def test_streamed_content_is_recorded_when_asked_for(gemini, telemetry):
    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        capture_content=True,
    )
    try:
        chunks = gemini.drain(gemini.stream())
    finally:
        tokentrail.uninstrument()

    (message,) = json.loads(telemetry.span().attributes["gen_ai.output.messages"])
    assert message == {
        "role": "assistant",
        "parts": [{"type": "text", "content": "".join(c.text for c in chunks)}],
        "finish_reason": "STOP",
    }


def test_attribution_is_on_the_span_and_the_metrics(gemini, instrumented):
    with tokentrail.attribute(feature="search", team="core", user_id="u-42"):
        gemini.generate()
    span = instrumented.span()
    assert span.attributes["tokentrail.feature"] == "search"
    assert span.attributes["user.id"] == "u-42"
    assert instrumented.value(REQUESTS, {"tokentrail.team": "core"}) == 1


@needs_service_tier
@pytest.mark.parametrize("vertexai", [False, True], ids=["gemini-api", "vertex"])
@pytest.mark.parametrize("tier", ["flex", "priority"])
def test_the_service_tier_selects_its_price(gemini, instrumented, tier, vertexai):
    """``config.service_tier`` (or, on Vertex, the response's ``traffic_type``) picks
    genai-prices' ``service_tier`` price variant."""
    model = "gemini-3.8-flash-tts"  # a Gemini model with flex and priority prices
    client = gemini.other(vertexai=True) if vertexai else gemini
    response = client.generate(model=model, config={"service_tier": tier.upper()})

    data = response.model_dump(mode="json", by_alias=True, exclude_none=True)
    usage = genai_prices.extract_usage(data, provider_id="google").usage
    expected = genai_prices.calc_price(
        usage, model, provider_id="google", price_context={"service_tier": tier}
    ).total_price
    standard = genai_prices.calc_price(usage, model, provider_id="google").total_price
    cost = Decimal(str(instrumented.span().attributes["gen_ai.usage.cost"]))
    assert cost == expected
    assert cost != standard
