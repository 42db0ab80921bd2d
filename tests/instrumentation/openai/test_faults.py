"""Fault injection at every internal step around an openai call (docs/architecture.md,
error zone 2).

In production (``lenient``) a failing step costs telemetry, never the call: the caller gets
the SDK's own result object, or exactly the chunks the SDK's stream yielded. In strict mode
(the suite's default) the same fault is raised, which proves that each step is guarded by
``_guard`` rather than by luck."""

from __future__ import annotations

import openai
import pytest

from tests.instrumentation.driver import InjectedFault, collected, explode, runtime_of
from tokentrail import _guard
from tokentrail.instrumentation.openai import OpenAIInstrumentor

from .conftest import MESSAGES

PATCH = "tokentrail.instrumentation.openai.patch"
STREAMS = "tokentrail.instrumentation.openai.streams"
EMITTER = "tokentrail.telemetry.emitter"

#: step -> what to break (a dotted attribute, or "listener" for a budget/alert listener)
PLAIN_STEPS = {
    "request": f"{PATCH}.ChatCompletions.request",
    "prepare": f"{PATCH}.ChatCompletions.prepare",
    "response": f"{PATCH}.ChatCompletions.response",
    "pricing": "tokentrail.pricing.book.PriceBook.cost",
    "span": f"{EMITTER}.Call.span_attributes",
    "metrics": f"{EMITTER}.Emitter.record",
    "listener": "listener",
}
STREAM_STEPS = {
    "request": f"{PATCH}.ChatCompletions.request",
    "prepare": f"{PATCH}.ChatCompletions.prepare",
    # the caller asks for usage: the stream is read from its last chunks
    "tail.add": f"{STREAMS}.CompletionStreamTail.add",
    "tail.response": f"{STREAMS}.CompletionStreamTail.response",
    # tokentrail asks for it: chunk by chunk, the usage chunk hidden
    "accumulator.add": f"{STREAMS}.CompletionStreamAccumulator.add",
    "accumulator.response": f"{STREAMS}.CompletionStreamAccumulator.response",
    "pricing": "tokentrail.pricing.book.PriceBook.cost",
    "span": f"{EMITTER}.Call.span_attributes",
    "metrics": f"{EMITTER}.Emitter.record",
    "listener": "listener",
}


@pytest.fixture
def runtime(telemetry):
    """Instrumented with an explicit runtime, so that a test can add a listener."""
    with runtime_of(OpenAIInstrumentor, telemetry) as runtime:
        yield runtime


@pytest.fixture
def break_step(monkeypatch, runtime):
    def apply(target):
        if target == "listener":
            runtime.emitter.listeners.append(explode)
        else:
            monkeypatch.setattr(target, explode)

    return apply


@pytest.fixture
def sdk_output(api, monkeypatch):
    """What the SDK itself returned: the result of ``client.request`` and every item its
    stream produced."""
    seen = {"results": [], "items": []}
    client_cls = openai.AsyncOpenAI if api.asynchronous else openai.OpenAI
    stream_cls = openai.AsyncStream if api.asynchronous else openai.Stream
    request, produce = client_cls.request, stream_cls.__stream__
    if api.asynchronous:

        async def spy_request(self, *args, **kwargs):
            seen["results"].append(await request(self, *args, **kwargs))
            return seen["results"][-1]

        async def spy_stream(self):
            async for item in produce(self):
                seen["items"].append(item)
                yield item

    else:

        def spy_request(self, *args, **kwargs):
            seen["results"].append(request(self, *args, **kwargs))
            return seen["results"][-1]

        def spy_stream(self):
            for item in produce(self):
                seen["items"].append(item)
                yield item

    monkeypatch.setattr(client_cls, "request", spy_request)
    monkeypatch.setattr(stream_cls, "__stream__", spy_stream)
    return seen


def _stream_options(target):
    """The caller asks for usage, but where the step is tokentrail's own usage request."""
    if ".CompletionStreamAccumulator." in target:
        return {}
    return {"stream_options": {"include_usage": True}}


def chat(api, **kwargs):
    return api.call("chat.completions.create", model="gpt-4o-mini", messages=MESSAGES, **kwargs)


@pytest.mark.parametrize("target", PLAIN_STEPS.values(), ids=PLAIN_STEPS.keys())
def test_plain_call_survives_a_fault(api, telemetry, lenient, break_step, sdk_output, target):
    """Lenient: the caller gets the SDK's own result object; one warning, one counted error."""
    break_step(target)

    result = chat(api)

    assert sdk_output["results"] == [result]
    assert sdk_output["results"][0] is result
    assert result.choices[0].message.content
    assert sum(_guard.error_counts.values()) == 1
    # what is left of the telemetry: a span, unless the call could not even be described
    assert len(telemetry.spans()) == (0 if target.endswith(".request") else 1)


@pytest.mark.parametrize("target", STREAM_STEPS.values(), ids=STREAM_STEPS.keys())
def test_stream_survives_a_fault(api, telemetry, lenient, break_step, sdk_output, target):
    """Lenient: the caller gets exactly the chunks the SDK's stream yielded, the same objects
    in the same order (but the usage chunk tokentrail asked for)."""
    break_step(target)

    chunks = api.drain(chat(api, stream=True, **_stream_options(target)))

    items = sdk_output["items"]
    if ".CompletionStreamAccumulator." in target:  # tokentrail asked for usage
        # a broken add() hides nothing: the caller sees the usage chunk too
        items = items if target.endswith(".add") else items[:-1]
    assert len(chunks) == len(items)
    assert all(a is b for a, b in zip(chunks, items, strict=True))
    assert _guard.error_counts
    assert len(telemetry.spans()) == (0 if target.endswith(".request") else 1)


@pytest.mark.parametrize("target", PLAIN_STEPS.values(), ids=PLAIN_STEPS.keys())
def test_plain_call_fault_is_raised_in_strict_mode(api, break_step, target):
    break_step(target)

    with pytest.raises(InjectedFault):
        chat(api)


@pytest.mark.parametrize("target", STREAM_STEPS.values(), ids=STREAM_STEPS.keys())
def test_stream_fault_is_raised_in_strict_mode(api, telemetry, break_step, target):
    """Strict: the fault is raised (once: collecting the stream afterwards raises nothing)."""
    break_step(target)

    with pytest.raises(InjectedFault):
        api.drain(chat(api, stream=True, **_stream_options(target)))

    collected()  # the stream, dropped: ends its call if still open, raising nothing
    assert len(telemetry.spans()) <= 1


def test_failed_span_emission_still_ends_the_span_and_runs_listeners(
    api, telemetry, lenient, monkeypatch, runtime
):
    """A bug in the span attributes must not leave the span open, nor skip the metrics and
    the listeners (budgets would miss the spend)."""
    monkeypatch.setattr(f"{EMITTER}.Call.span_attributes", explode)
    ended = []
    runtime.emitter.listeners.append(ended.append)

    chat(api)

    assert len(telemetry.spans()) == 1
    assert telemetry.value("tokentrail.requests") == 1
    assert len(ended) == 1
    assert ended[0].cost.amount_usd > 0


def test_failed_metric_recording_still_runs_listeners(
    api, telemetry, lenient, monkeypatch, runtime
):
    monkeypatch.setattr(f"{EMITTER}.Emitter.record", explode)
    ended = []
    runtime.emitter.listeners.append(ended.append)

    chat(api)

    assert telemetry.span().attributes["tokentrail.cost.status"] == "priced"
    assert len(ended) == 1


def test_failed_pricing_leaves_the_call_unpriced(api, telemetry, lenient, monkeypatch, runtime):
    monkeypatch.setattr("tokentrail.pricing.book.PriceBook.cost", explode)

    chat(api)

    attributes = telemetry.span().attributes
    assert attributes["tokentrail.cost.status"] == "unpriced"
    assert "gen_ai.usage.cost" not in attributes
    assert attributes["gen_ai.usage.input_tokens"] > 0
