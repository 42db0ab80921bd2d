"""Each patched anthropic call, sync and async, is one ``chat`` span with its usage and cost,
counted once in the metrics; ``count_tokens`` is not billed and records nothing."""

from __future__ import annotations

from decimal import Decimal

import genai_prices
import pytest
from opentelemetry.trace import SpanKind

import tokentrail
from tokentrail import names as sc

from .conftest import MESSAGES, MODEL, REQUEST

PLAIN_METHODS = ["messages.create", "messages.parse", "beta.messages.create", "beta.messages.parse"]


def expected_cost(message) -> Decimal:
    body = message.model_dump(mode="json")
    return genai_prices.extract_usage(body, provider_id="anthropic").calc_price().total_price


def usage_attributes(span) -> dict:
    return {k: v for k, v in span.attributes.items() if k.startswith("gen_ai.usage.")}


@pytest.mark.parametrize("method", PLAIN_METHODS)
def test_a_message_call_is_one_chat_span_with_its_usage_and_cost(instrumented, api, method):
    message = api.call(method, **REQUEST)

    span = instrumented.span()
    assert span.name == f"chat {MODEL}"
    assert span.kind is SpanKind.CLIENT
    assert span.instrumentation_scope.name == "tokentrail"
    attrs = span.attributes
    assert attrs[sc.GEN_AI_OPERATION_NAME] == "chat"
    assert attrs[sc.GEN_AI_PROVIDER_NAME] == "anthropic"
    assert attrs[sc.GEN_AI_REQUEST_MODEL] == MODEL
    assert attrs[sc.GEN_AI_RESPONSE_MODEL] == message.model == "claude-haiku-4-5-20251001"
    assert attrs[sc.GEN_AI_RESPONSE_ID] == message.id
    assert attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] == (message.stop_reason,)
    assert attrs[sc.GEN_AI_REQUEST_MAX_TOKENS] == 256
    assert attrs[sc.SERVER_ADDRESS] == "api.anthropic.com"
    assert attrs[sc.SERVER_PORT] == 443
    assert attrs[sc.GEN_AI_REQUEST_STREAM] is False
    assert usage_attributes(span) == {
        "gen_ai.usage.input_tokens": message.usage.input_tokens,
        "gen_ai.usage.output_tokens": message.usage.output_tokens,
        "gen_ai.usage.cost": pytest.approx(float(expected_cost(message)), rel=1e-12),
    }
    assert attrs[sc.TOKENTRAIL_COST_STATUS] == "priced"
    assert instrumented.value(sc.METRIC_COST) == pytest.approx(float(expected_cost(message)))
    assert instrumented.value(sc.METRIC_REQUESTS) == 1
    assert instrumented.count(sc.METRIC_TOKEN_USAGE, {sc.GEN_AI_TOKEN_TYPE: "input"}) == 1


@pytest.mark.parametrize("method", ["messages.create", "beta.messages.create"])
def test_a_streamed_create_is_one_span_with_the_streams_final_usage(instrumented, api, method):
    events = api.drain(api.call(method, **REQUEST, stream=True))

    delta = next(e for e in events if e.type == "message_delta")
    start = events[0].message
    span = instrumented.span()
    assert span.attributes[sc.GEN_AI_REQUEST_STREAM] is True
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] == start.id
    assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == (delta.delta.stop_reason,)
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == start.usage.input_tokens
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == delta.usage.output_tokens > 1
    assert span.attributes[sc.TOKENTRAIL_COST_STATUS] == "priced"
    assert instrumented.count(sc.METRIC_TIME_TO_FIRST_CHUNK) == 1
    assert instrumented.value(sc.METRIC_REQUESTS) == 1


@pytest.mark.parametrize("method", ["messages.stream", "beta.messages.stream"])
def test_the_stream_helper_is_one_span_with_the_final_messages_usage(instrumented, api, method):
    final = api.final_message(method, **REQUEST)

    span = instrumented.span()
    assert span.name == f"chat {MODEL}"
    assert span.attributes[sc.GEN_AI_REQUEST_STREAM] is True
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] == final.id
    assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == (final.stop_reason,)
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == final.usage.input_tokens
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == final.usage.output_tokens
    assert span.attributes[sc.GEN_AI_USAGE_COST] == pytest.approx(float(expected_cost(final)))
    assert instrumented.value(sc.METRIC_REQUESTS) == 1


def test_count_tokens_is_not_billed_and_records_nothing(instrumented, api):
    counted = api.call("messages.count_tokens", model=MODEL, messages=MESSAGES)

    assert counted.input_tokens > 0
    assert instrumented.spans() == []
    assert instrumented.points(sc.METRIC_REQUESTS) == []
    assert instrumented.points(sc.METRIC_TOKEN_USAGE) == []


def test_a_prompt_cache_read_and_write_show_on_the_span_and_the_token_counters(instrumented, api):
    system = [
        {
            "type": "text",
            "text": "You answer questions about the attached annual report. " * 200,
            "cache_control": {"type": "ephemeral"},
        }
    ]
    first = api.call("messages.create", **REQUEST, system=system)
    second = api.call("messages.create", **REQUEST, system=system)

    written, read = instrumented.spans()
    assert first.usage.cache_creation_input_tokens > 0
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert written.attributes[sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] == (
        first.usage.cache_creation_input_tokens
    )
    assert read.attributes[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == (
        second.usage.cache_read_input_tokens
    )
    # tokentrail's input includes the cache (Anthropic's input_tokens does not)
    assert read.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == (
        second.usage.input_tokens + second.usage.cache_read_input_tokens
    )
    assert read.attributes[sc.GEN_AI_USAGE_COST] < written.attributes[sc.GEN_AI_USAGE_COST]
    cache_read = {sc.GEN_AI_TOKEN_TYPE: "cache_read"}
    cache_creation = {sc.GEN_AI_TOKEN_TYPE: "cache_creation"}
    assert instrumented.value(sc.METRIC_TOKENS, cache_read) == second.usage.cache_read_input_tokens
    assert instrumented.value(sc.METRIC_TOKENS, cache_creation) == (
        first.usage.cache_creation_input_tokens
    )


@pytest.mark.parametrize(
    ("platform", "model", "provider", "genai_provider", "address"),
    [
        ("vertex_client", "claude-sonnet-4-5@20250929", "gcp.vertex_ai", "google",
         "us-east5-aiplatform.googleapis.com"),
        ("bedrock_client", "anthropic.claude-sonnet-4-5-20250929-v1:0", "aws.bedrock", "aws",
         "bedrock-runtime.us-east-1.amazonaws.com"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_platform_clients_are_their_provider_and_priced_at_its_prices(
    instrumented, fake, event_loop_for_test, platform, model, provider, genai_provider, address,
    asynchronous,
):  # fmt: skip
    client = getattr(fake, platform)(asynchronous=asynchronous)
    call = client.messages.create(model=model, max_tokens=128, messages=MESSAGES)
    message = event_loop_for_test.run_until_complete(call) if asynchronous else call

    span = instrumented.span()
    assert span.attributes[sc.GEN_AI_PROVIDER_NAME] == provider
    assert span.attributes[sc.SERVER_ADDRESS] == address
    assert span.attributes[sc.SERVER_PORT] == 443
    expected = genai_prices.calc_price(
        genai_prices.Usage(
            input_tokens=message.usage.input_tokens, output_tokens=message.usage.output_tokens
        ),
        model,
        provider_id=genai_provider,
    ).total_price
    assert span.attributes[sc.TOKENTRAIL_COST_STATUS] == "priced"
    assert span.attributes[sc.GEN_AI_USAGE_COST] == pytest.approx(float(expected), rel=1e-12)


def test_attribution_is_captured_when_the_call_starts(instrumented, api):
    """A stream read outside the ``attribute()`` block keeps the attribution it was created
    under; a ``stream()`` manager's call starts when it is entered."""
    manager = api.manager("messages.stream", **REQUEST)
    with tokentrail.attribute(feature="report", team="finance", user_id="u-7"):
        stream = api.call("messages.create", **REQUEST, stream=True)
        api.in_block(manager)
    api.drain(stream)

    helper, streamed = instrumented.spans()
    for span in (helper, streamed):
        assert span.attributes[sc.TOKENTRAIL_FEATURE] == "report"
        assert span.attributes[sc.USER_ID] == "u-7"
    assert instrumented.value(sc.METRIC_REQUESTS, {sc.TOKENTRAIL_TEAM: "finance"}) == 2


def test_content_is_recorded_only_with_capture_content(telemetry, api):
    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        capture_content=True,
    )
    try:
        message = api.call("messages.create", **REQUEST, system="Answer briefly.")
        api.drain(api.call("messages.create", **REQUEST, stream=True))
    finally:
        tokentrail.uninstrument()

    plain, streamed = telemetry.spans()
    assert MESSAGES[0]["content"] in plain.attributes[sc.GEN_AI_INPUT_MESSAGES]
    assert "Answer briefly." in plain.attributes[sc.GEN_AI_SYSTEM_INSTRUCTIONS]
    assert message.content[0].text in plain.attributes[sc.GEN_AI_OUTPUT_MESSAGES]
    assert '"role": "assistant"' in streamed.attributes[sc.GEN_AI_OUTPUT_MESSAGES]


def test_content_is_not_recorded_by_default(instrumented, api):
    api.call("messages.create", **REQUEST, system="Answer briefly.")

    attrs = instrumented.span().attributes
    assert not {sc.GEN_AI_INPUT_MESSAGES, sc.GEN_AI_OUTPUT_MESSAGES} & set(attrs)
    assert sc.GEN_AI_SYSTEM_INSTRUCTIONS not in attrs
