"""The anthropic SDK's own OpenTelemetry tracing (on by default, global tracer provider):
whether it is on or off, each call has exactly one span carrying usage and cost, and tokens
and cost are counted once. With it on, the request still carries a ``traceparent``: the
context of tokentrail's span, written by the SDK's own propagation."""

from __future__ import annotations

import inspect

import anthropic
import anthropic._base_client
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import tokentrail
from tokentrail import names as sc
from tokentrail.instrumentation.anthropic import native

from .conftest import MESSAGES, MODEL, REQUEST, needs_native_tracing

pytestmark = needs_native_tracing

SDK_SCOPE = "com.anthropic.sdk.python"
SHAPES = ["plain", "stream", "helper"]


def run(api, shape: str) -> None:
    """One call of each way to make one: a message, ``create(stream=True)``, ``stream()``."""
    if shape == "plain":
        api.call("messages.create", **REQUEST)
    elif shape == "stream":
        api.drain(api.call("messages.create", **REQUEST, stream=True))
    else:
        api.final_message(**REQUEST)


def spans_with_usage(telemetry) -> list:
    return [s for s in telemetry.spans() if sc.GEN_AI_USAGE_INPUT_TOKENS in s.attributes]


def assert_counted_once(telemetry) -> None:
    assert telemetry.value(sc.METRIC_REQUESTS) == 1
    assert telemetry.count(sc.METRIC_TOKEN_USAGE, {sc.GEN_AI_TOKEN_TYPE: "input"}) == 1
    assert telemetry.value(sc.METRIC_COST) > 0


def test_without_tokentrail_the_sdk_records_a_span_with_usage(global_tracer, api):
    """The control: the trap these tests guard against is real."""
    api.call("messages.create", **REQUEST)

    span = global_tracer.span()
    assert span.name == "anthropic.messages.create"
    assert span.instrumentation_scope.name == SDK_SCOPE
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] > 0


@pytest.mark.parametrize("shape", SHAPES)
def test_with_the_sdks_tracing_on_the_one_span_is_tokentrails_and_it_propagates(
    global_tracer, instrumented, api, fake, shape
):
    run(api, shape)

    span = instrumented.span()  # the SDK recorded none of its own
    assert span.instrumentation_scope.name == "tokentrail"
    assert span.name == f"chat {MODEL}"
    assert span.attributes[sc.GEN_AI_USAGE_COST] > 0
    assert span.parent is None
    ids = [format(span.context.trace_id, "032x"), format(span.context.span_id, "016x")]
    assert fake.request_headers[-1]["traceparent"].split("-")[1:3] == ids
    assert_counted_once(instrumented)


@pytest.mark.parametrize("shape", SHAPES)
def test_with_the_sdks_tracing_off_the_one_span_is_tokentrails(
    global_tracer, instrumented, api, fake, shape
):
    run(api.with_client(open_telemetry=False), shape)

    span = instrumented.span()
    assert span.instrumentation_scope.name == "tokentrail"
    assert span.attributes[sc.GEN_AI_USAGE_COST] > 0
    assert "traceparent" not in fake.request_headers[-1]  # the SDK sends none when off
    assert_counted_once(instrumented)


def test_a_client_with_its_own_tracer_provider_records_no_second_span(
    global_tracer, instrumented, api
):
    exporter = InMemorySpanExporter()
    sdk_provider = TracerProvider()
    sdk_provider.add_span_processor(SimpleSpanProcessor(exporter))
    client = api.with_client(open_telemetry={"tracer_provider": sdk_provider})

    run(client, "plain")

    assert exporter.get_finished_spans() == ()
    assert len(spans_with_usage(instrumented)) == 1


def test_one_span_per_call_across_the_sdks_retries(global_tracer, instrumented, api, fake):
    fake.fail_next(529, headers={"retry-after-ms": "1"})
    api.with_client(max_retries=1).call("messages.create", **REQUEST)

    span = instrumented.span()
    assert span.status.status_code is StatusCode.UNSET
    first, second = (headers["traceparent"] for headers in fake.request_headers)
    assert first == second
    assert first.split("-")[2] == format(span.context.span_id, "016x")


def test_a_failed_call_is_one_error_span(global_tracer, instrumented, api, fake):
    fake.fail_next(429)
    with pytest.raises(anthropic.RateLimitError):
        api.call("messages.create", **REQUEST)

    span = instrumented.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == "RateLimitError"


def test_count_tokens_keeps_the_sdks_span_which_carries_no_usage(global_tracer, instrumented, api):
    api.call("messages.count_tokens", model=MODEL, messages=MESSAGES)

    span = instrumented.span()
    assert span.name == "anthropic.messages.count_tokens"
    assert not [k for k in span.attributes if k.startswith("gen_ai.usage.")]


def test_the_private_sdk_hook_tokentrail_relies_on_is_there(instrumented):
    """Fails loudly when an anthropic release renames or reshapes ``start_api_call_span``:
    tokentrail would then fall back to metrics-only for clients with the SDK's tracing on."""
    hook = anthropic._base_client.start_api_call_span
    assert native.adoptable()
    assert getattr(hook, "__wrapped__", None) is not None  # wrapped while instrumented
    parameters = list(inspect.signature(hook.__wrapped__).parameters)
    assert parameters[:4] == ["tracer", "base_url", "options", "attributes"]


def test_without_the_hook_calls_on_traced_clients_are_metrics_only(global_tracer, api, monkeypatch):
    """The fallback: the SDK's span carries the usage, tokentrail opens none and still
    counts tokens and cost once; a client with the SDK's tracing off gets tokentrail's span."""
    monkeypatch.setattr(native, "adoptable", lambda: False)
    tokentrail.instrument(
        tracer_provider=global_tracer.tracer_provider,
        meter_provider=global_tracer.meter_provider,
    )
    try:
        run(api, "stream")
        (span,) = spans_with_usage(global_tracer)
        assert span.instrumentation_scope.name == SDK_SCOPE
        assert_counted_once(global_tracer)

        global_tracer.clear()
        run(api.with_client(open_telemetry=False), "plain")
        (span,) = spans_with_usage(global_tracer)
        assert span.instrumentation_scope.name == "tokentrail"
    finally:
        tokentrail.uninstrument()


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_the_tool_runners_model_requests_are_chat_spans_under_its_span(
    global_tracer, instrumented, fake, stream
):
    @anthropic.beta_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return "sunny"

    runner = fake.client().beta.messages.tool_runner(**REQUEST, tools=[get_weather], stream=stream)
    for item in runner:
        if stream:
            list(item)

    chat, runner_span = instrumented.spans()
    assert chat.name == f"chat {MODEL}"
    assert runner_span.name == "anthropic.messages.tool_runner"
    assert chat.parent.span_id == runner_span.context.span_id
    assert spans_with_usage(instrumented) == [chat]
