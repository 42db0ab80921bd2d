"""Fault injection at every internal step around a LiteLLM call (docs/architecture.md, error
zone 2). In production (``lenient``) a failing step costs telemetry, never the call: the
caller gets LiteLLM's own result, or exactly the chunks LiteLLM's stream yielded. In strict
mode (the suite's default) the same fault is raised, which proves that each step is guarded."""

from __future__ import annotations

import litellm
import pytest
from litellm.litellm_core_utils.streaming_handler import CustomStreamWrapper

from tests.instrumentation.driver import InjectedFault, collected, explode, runtime_of
from tokentrail import _guard
from tokentrail.instrumentation.litellm import LiteLLMInstrumentor

from .conftest import MESSAGES, ROUTES

PATCH = "tokentrail.instrumentation.litellm.patch"
EXTRACTORS = "tokentrail.instrumentation.litellm.extractors"
STREAMS = "tokentrail.instrumentation.litellm.streams"
EMITTER = "tokentrail.telemetry.emitter"

COMMON = {
    "request": f"{PATCH}.Completion.request",
    "prepare": f"{PATCH}.Completion.prepare",
    "pricing": "tokentrail.pricing.book.PriceBook.cost",
    "span": f"{EMITTER}.Call.span_attributes",
    "metrics": f"{EMITTER}.Emitter.record",
    "listener": "listener",
}
PLAIN_STEPS = {**COMMON, "response": f"{EXTRACTORS}.completion_response"}
STREAM_STEPS = {
    **COMMON,
    "accumulator.add": f"{STREAMS}.ChunkAccumulator.add",
    "accumulator.response": f"{STREAMS}.ChunkAccumulator.response",
}


@pytest.fixture
def litellm_output(api, monkeypatch):
    """What LiteLLM itself returned and what its streams yielded (spied on before tokentrail
    wraps the functions)."""
    seen = {"results": [], "items": []}
    name = "acompletion" if api.asynchronous else "completion"
    original = getattr(litellm, name)
    if api.asynchronous:

        async def spy(*args, **kwargs):
            seen["results"].append(await original(*args, **kwargs))
            return seen["results"][-1]

        produce = CustomStreamWrapper.__anext__

        async def spy_next(self):
            item = await produce(self)
            seen["items"].append(item)
            return item

        monkeypatch.setattr(CustomStreamWrapper, "__anext__", spy_next)
    else:

        def spy(*args, **kwargs):
            seen["results"].append(original(*args, **kwargs))
            return seen["results"][-1]

        produce = CustomStreamWrapper.__next__

        def spy_next(self):
            item = produce(self)
            seen["items"].append(item)
            return item

        monkeypatch.setattr(CustomStreamWrapper, "__next__", spy_next)
    monkeypatch.setattr(litellm, name, spy)
    return seen


@pytest.fixture
def runtime(telemetry, litellm_output):
    with runtime_of(LiteLLMInstrumentor, telemetry) as runtime:
        yield runtime


@pytest.fixture
def break_step(monkeypatch, runtime):
    def apply(target):
        if target == "listener":
            runtime.emitter.listeners.append(explode)
        else:
            monkeypatch.setattr(target, explode)

    return apply


def chat(api, **kwargs):
    return api.completion(messages=MESSAGES, **api.route(ROUTES["anthropic"]), **kwargs)


@pytest.mark.parametrize("target", PLAIN_STEPS.values(), ids=PLAIN_STEPS.keys())
def test_plain_call_survives_a_fault(api, telemetry, lenient, break_step, litellm_output, target):
    break_step(target)

    result = chat(api)

    assert litellm_output["results"] == [result]
    assert litellm_output["results"][0] is result
    assert result.choices[0].message.content
    assert sum(_guard.error_counts.values()) == 1
    assert len(telemetry.spans()) == (0 if target.endswith(".request") else 1)


@pytest.mark.parametrize("target", STREAM_STEPS.values(), ids=STREAM_STEPS.keys())
def test_stream_survives_a_fault(api, telemetry, lenient, break_step, litellm_output, target):
    break_step(target)

    chunks = api.drain(chat(api, stream=True, stream_options={"include_usage": True}))

    assert len(chunks) == len(litellm_output["items"])
    assert all(a is b for a, b in zip(chunks, litellm_output["items"], strict=True))
    assert chunks[-1].usage is not None
    assert _guard.error_counts
    assert len(telemetry.spans()) == (0 if target.endswith(".request") else 1)


@pytest.mark.parametrize("target", PLAIN_STEPS.values(), ids=PLAIN_STEPS.keys())
def test_plain_call_fault_is_raised_in_strict_mode(api, break_step, target):
    break_step(target)

    with pytest.raises(InjectedFault):
        chat(api)


@pytest.mark.parametrize("target", STREAM_STEPS.values(), ids=STREAM_STEPS.keys())
def test_stream_fault_is_raised_in_strict_mode(api, telemetry, break_step, target):
    break_step(target)

    with pytest.raises(InjectedFault):
        api.drain(chat(api, stream=True))

    collected()
    assert len(telemetry.spans()) <= 1
