"""Fault injection at every internal step around a mistralai call (docs/architecture.md,
error zone 2).

In production (``lenient``) a failing step costs telemetry, never the call: the caller gets
what the SDK alone gives (compared with the same calls made with instrumentation suppressed,
against an identical fake). In strict mode (the suite's default) the fault is raised, which
proves each step is guarded by ``_guard`` rather than by luck."""

from __future__ import annotations

import pytest
from opentelemetry.instrumentation.utils import suppress_instrumentation

from tests.instrumentation.driver import InjectedFault, collected, explode, runtime_of
from tokentrail import _guard
from tokentrail.fakes.mistral import FakeMistral
from tokentrail.instrumentation.mistralai import MistralInstrumentor

from .conftest import CHAT, EMBEDDINGS, Api, needs_native_tracing

PATCH = "tokentrail.instrumentation.mistralai.patch"
EXTRACTORS = "tokentrail.instrumentation.mistralai.extractors"
STREAMS = "tokentrail.instrumentation.mistralai.streams"
NATIVE = "tokentrail.instrumentation.mistralai.native"
EMITTER = "tokentrail.telemetry.emitter"

COMMON = {
    "endpoint": f"{EXTRACTORS}.endpoint_of",
    "pricing": "tokentrail.pricing.book.PriceBook.cost",
    "span": f"{EMITTER}.Call.span_attributes",
    "metrics": f"{EMITTER}.Emitter.record",
    "listener": "listener",
}
STEPS = {
    "plain": {"response": f"{PATCH}.Chat.response", **COMMON},
    "stream": {
        "result": f"{PATCH}.ChatStream.result",
        "accumulator.add": f"{STREAMS}.CompletionStreamAccumulator.add",
        "accumulator.response": f"{STREAMS}.CompletionStreamAccumulator.response",
        **COMMON,
    },
    "embeddings": {"response": f"{PATCH}.Embeddings.response", **COMMON},
    "native": {"native-switch": f"{NATIVE}.current_call"},
}


def case(shape: str, step: str) -> object:
    marks = [needs_native_tracing] if shape == "native" else []
    return pytest.param(shape, step, marks=marks, id=f"{shape}-{step}")


CASES = [case(shape, step) for shape, steps in STEPS.items() for step in steps]


@pytest.fixture
def runtime(telemetry):
    with runtime_of(MistralInstrumentor, telemetry) as runtime:
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
def native(monkeypatch, global_tracer):
    """The SDK's own tracing on (through the global tracer provider)."""
    monkeypatch.setenv("MISTRAL_SDK_TELEMETRY", "global")


def output(api: Api, shape: str):
    """What the application gets from one call, as plain data."""
    if shape == "stream":
        return [e.model_dump() for e in api.drain(api.call("chat.stream", **CHAT))]
    if shape == "embeddings":
        return api.call("embeddings.create", **EMBEDDINGS).model_dump()
    return api.call("chat.complete", **CHAT).model_dump()


def make_api(api: Api) -> Api:
    """A client of a fresh fake, in ``api``'s flavour (the fake's ids count its requests)."""
    return Api(FakeMistral(stream_chunks=6), api.loop)


@pytest.mark.parametrize(("shape", "step"), CASES)
def test_a_failing_step_leaves_the_result_unchanged(request, lenient, api, break_step, shape, step):
    if shape == "native":
        request.getfixturevalue("native")
    with suppress_instrumentation():
        expected = output(make_api(api), shape)
    break_step(STEPS[shape][step])

    assert output(make_api(api), shape) == expected
    collected()  # a stream dropped with a broken step ends quietly too
    assert _guard.error_counts, "the fault was not reached"


@pytest.mark.parametrize(
    ("shape", "step"),
    [case("plain", "endpoint"), case("plain", "response"), case("stream", "accumulator.add"),
     case("stream", "result"), case("native", "native-switch")],
)  # fmt: skip
def test_in_strict_mode_the_fault_is_raised(request, api, break_step, shape, step):
    if shape == "native":
        request.getfixturevalue("native")
    break_step(STEPS[shape][step])
    with pytest.raises(InjectedFault):
        output(make_api(api), shape)
