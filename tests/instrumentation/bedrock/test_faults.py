"""Fault injection at every internal step around a Bedrock call (docs/architecture.md,
error zone 2).

In production (``lenient``) a failing step costs telemetry, never the call: the caller gets
what boto3 alone gives (compared with the same calls made with instrumentation suppressed,
against an identical fake). In strict mode (the suite's default) the fault is raised, which
proves each step is guarded by ``_guard`` rather than by luck."""

from __future__ import annotations

import pytest
from opentelemetry.instrumentation.utils import suppress_instrumentation

from tests.instrumentation.driver import InjectedFault, collected, explode, runtime_of
from tokentrail import _guard
from tokentrail.fakes.bedrock import FakeBedrock
from tokentrail.instrumentation.bedrock import BedrockInstrumentor

from .conftest import converse, converse_stream, invoke, invoke_stream

PATCH = "tokentrail.instrumentation.bedrock.patch"
STREAMS = "tokentrail.instrumentation.bedrock.streams"
EXTRACTORS = "tokentrail.instrumentation.bedrock.extractors"
EMITTER = "tokentrail.telemetry.emitter"

COMMON = {
    "pricing": "tokentrail.pricing.book.PriceBook.cost",
    "span": f"{EMITTER}.Call.span_attributes",
    "metrics": f"{EMITTER}.Emitter.record",
    "listener": "listener",
}
STEPS = {
    "converse": {
        "request": f"{PATCH}.Converse.request",
        "response": f"{PATCH}.Converse.response",
        **COMMON,
    },
    "converse_stream": {
        "request": f"{PATCH}.ConverseStream.request",
        "result": f"{PATCH}.ConverseStream.result",
        "accumulator.add": f"{STREAMS}.ConverseStreamAccumulator.add",
        "accumulator.response": f"{STREAMS}.ConverseStreamAccumulator.response",
        **COMMON,
    },
    "invoke_model": {
        "request": f"{PATCH}.InvokeModel.request",
        "prepare": f"{PATCH}.InvokeModel.prepare",
        "result": f"{PATCH}.InvokeModel.result",
        "body": f"{STREAMS}.InvokeAnswer.response",
        **COMMON,
    },
    "invoke_model_stream": {
        "request": f"{PATCH}.InvokeModelWithResponseStream.request",
        "result": f"{PATCH}.InvokeModelWithResponseStream.result",
        "accumulator.add": f"{STREAMS}.InvokeStreamAccumulator.add",
        "accumulator.response": f"{STREAMS}.InvokeStreamAccumulator.response",
        **COMMON,
    },
}
CASES = [
    pytest.param(shape, step, id=f"{shape}-{step}")
    for shape, steps in STEPS.items()
    for step in steps
]


@pytest.fixture
def runtime(telemetry):
    """Instrumented with an explicit runtime, so that a test can add a listener."""
    with runtime_of(BedrockInstrumentor, telemetry) as runtime:
        yield runtime


@pytest.fixture
def break_step(monkeypatch, runtime):
    def apply(target):
        if target == "listener":
            runtime.emitter.listeners.append(explode)
        else:
            monkeypatch.setattr(target, explode)

    return apply


def output(shape: str):
    """What the application gets from one call against a fresh fake, as plain data."""
    with FakeBedrock(stream_chunks=4) as fake:
        client = fake.client()
        if shape == "converse":
            result = converse(client)
            return {k: v for k, v in result.items() if k != "ResponseMetadata"}
        if shape == "converse_stream":
            return converse_stream(client)
        if shape == "invoke_model":
            return invoke(client, "nova")
        return invoke_stream(client, "anthropic")


@pytest.mark.parametrize(("shape", "step"), CASES)
def test_a_failing_step_leaves_the_result_unchanged(lenient, break_step, shape, step):
    with suppress_instrumentation():
        expected = output(shape)
    break_step(STEPS[shape][step])

    assert output(shape) == expected
    collected()  # a stream dropped with a broken step ends quietly too
    assert _guard.error_counts, "the fault was not reached"


@pytest.mark.parametrize(
    ("shape", "step"),
    [("converse", "request"), ("converse", "response"), ("converse_stream", "accumulator.add"),
     ("invoke_model", "body"), ("invoke_model_stream", "result")],
)  # fmt: skip
def test_in_strict_mode_the_fault_is_raised(break_step, shape, step):
    break_step(STEPS[shape][step])
    with pytest.raises(InjectedFault):
        output(shape)
