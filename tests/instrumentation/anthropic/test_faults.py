"""Fault injection at every internal step around an anthropic call (docs/architecture.md,
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
from tokentrail.fakes.anthropic import FakeAnthropic
from tokentrail.instrumentation.anthropic import AnthropicInstrumentor

from .conftest import REQUEST, Api, needs_native_tracing

PATCH = "tokentrail.instrumentation.anthropic.patch"
STREAMS = "tokentrail.instrumentation.anthropic.streams"
NATIVE = "tokentrail.instrumentation.anthropic.native"
EMITTER = "tokentrail.telemetry.emitter"

COMMON = {
    "pricing": "tokentrail.pricing.book.PriceBook.cost",
    "span": f"{EMITTER}.Call.span_attributes",
    "metrics": f"{EMITTER}.Emitter.record",
    "listener": "listener",
    "native-span": f"{NATIVE}.NonRecordingSpan",
}
STEPS = {
    "plain": {
        "request": f"{PATCH}.Messages.request",
        "prepare": f"{PATCH}.Messages.prepare",
        "response": f"{PATCH}.Messages.response",
        **COMMON,
    },
    "stream": {
        "request": f"{PATCH}.Messages.request",
        "result": f"{PATCH}.Messages.stream_proxy",
        "accumulator.add": f"{STREAMS}.MessageStreamAccumulator.add",
        "accumulator.response": f"{STREAMS}.MessageStreamAccumulator.response",
        **COMMON,
    },
    "helper": {
        "manager": (
            f"{STREAMS}.MessageStreamManagerProxy.__init__",
            f"{STREAMS}.AsyncMessageStreamManagerProxy.__init__",
        ),
        "request": f"{PATCH}.StreamHelper.request",
        "prepare": f"{PATCH}.StreamHelper.prepare",
        "result": f"{PATCH}.StreamHelper.result",
        "accumulator.add": f"{STREAMS}.MessageStreamAccumulator.add",
        "accumulator.response": f"{STREAMS}.MessageStreamAccumulator.response",
        **COMMON,
    },
}


def case(shape: str, step: str) -> object:
    """A (shape, step) parameter; the SDK's own span exists only where the SDK traces."""
    marks = [needs_native_tracing] if step == "native-span" else []
    return pytest.param(shape, step, marks=marks, id=f"{shape}-{step}")


CASES = [case(shape, step) for shape, steps in STEPS.items() for step in steps]


@pytest.fixture
def runtime(telemetry):
    """Instrumented with an explicit runtime, so that a test can add a listener."""
    with runtime_of(AnthropicInstrumentor, telemetry) as runtime:
        yield runtime


@pytest.fixture
def break_step(monkeypatch, runtime):
    def apply(targets):
        for target in (targets,) if isinstance(targets, str) else targets:
            if target == "listener":
                runtime.emitter.listeners.append(explode)
            else:
                monkeypatch.setattr(target, explode)

    return apply


def output(api: Api, shape: str):
    """What the application gets from one call, as plain data."""
    if shape == "plain":
        return api.call("messages.create", **REQUEST).model_dump()
    if shape == "stream":
        return [
            e.model_dump() for e in api.drain(api.call("messages.create", **REQUEST, stream=True))
        ]
    return api.final_message(**REQUEST).model_dump()


def make_api(api: Api) -> Api:
    """A client of a fresh fake, in ``api``'s flavour (the fake's ids count its requests)."""
    return Api(FakeAnthropic(stream_chunks=6), api.loop)


@pytest.mark.parametrize(("shape", "step"), CASES)
def test_a_failing_step_leaves_the_result_unchanged(lenient, api, break_step, shape, step):
    with suppress_instrumentation():
        expected = output(make_api(api), shape)
    break_step(STEPS[shape][step])

    assert output(make_api(api), shape) == expected
    collected()  # a stream dropped with a broken step ends quietly too
    assert _guard.error_counts, "the fault was not reached"


@pytest.mark.parametrize(
    ("shape", "step"),
    [case("plain", "request"), case("plain", "response"), case("stream", "accumulator.add"),
     case("helper", "result"), case("plain", "native-span")],
)  # fmt: skip
def test_in_strict_mode_the_fault_is_raised(api, break_step, shape, step):
    break_step(STEPS[shape][step])
    with pytest.raises(InjectedFault):
        output(make_api(api), shape)
