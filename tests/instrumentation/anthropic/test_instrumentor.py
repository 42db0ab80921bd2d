"""``AnthropicInstrumentor``: how it is found (public API, the provider list, the entry point),
what it patches, and that ``uninstrument()`` puts every patched function back."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points, requires

import anthropic._base_client
import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

import tokentrail
from tokentrail.instrumentation.anthropic import AnthropicInstrumentor
from tokentrail.instrumentation.providers import BY_NAME

from .conftest import NATIVE_TRACING, REQUEST

METHODS = [
    (module, cls, method)
    for module in ("anthropic.resources.messages", "anthropic.resources.beta.messages")
    for cls in ("Messages", "AsyncMessages")
    for method in ("create", "parse", "stream")
]
TARGETS = [*METHODS, *([("anthropic", "_base_client", "start_api_call_span")] * NATIVE_TRACING)]


def owner_of(module: str, name: str):
    return getattr(importlib.import_module(module), name)


def current(target):
    module, name, attribute = target
    return owner_of(module, name).__dict__[attribute]


def test_it_is_importable_from_tokentrail_and_registered():
    assert tokentrail.AnthropicInstrumentor is AnthropicInstrumentor
    assert "AnthropicInstrumentor" in tokentrail.__all__
    provider = BY_NAME["anthropic"]
    assert provider.module == "anthropic"
    assert provider.instrumentor() is AnthropicInstrumentor
    assert provider.entry_point == "tokentrail_anthropic"
    (entry_point,) = entry_points(group="opentelemetry_instrumentor", name="tokentrail_anthropic")
    assert entry_point.load() is AnthropicInstrumentor


def test_its_supported_versions_are_the_anthropic_extra():
    (declared,) = AnthropicInstrumentor().instrumentation_dependencies()
    requirements = [Requirement(r) for r in requires("tokentrail")]
    (extra,) = [
        r
        for r in requirements
        if r.name == "anthropic" and r.marker.evaluate({"extra": "anthropic"})
    ]
    assert Requirement(declared).specifier == extra.specifier
    assert Requirement(declared).specifier == SpecifierSet(">=1.0,<3")


def test_count_tokens_and_batches_are_not_patched(instrumented):
    from anthropic.resources.messages import Batches, Messages

    assert not hasattr(Messages.__dict__["count_tokens"], "__wrapped__")
    assert not hasattr(Batches.__dict__["create"], "__wrapped__")


def test_uninstrument_restores_every_patched_function(telemetry):
    originals = {target: current(target) for target in TARGETS}

    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    try:
        for target in TARGETS:
            assert getattr(current(target), "__wrapped__", None) is originals[target], target
    finally:
        tokentrail.uninstrument()

    for target in TARGETS:
        assert current(target) is originals[target], target


def test_after_uninstrument_calls_record_nothing(telemetry, api):
    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    tokentrail.uninstrument()

    api.call("messages.create", **REQUEST)
    api.final_message(**REQUEST)
    assert telemetry.spans() == []


def test_providers_selects_anthropic_alone(telemetry):
    openai = pytest.importorskip("openai.resources.chat.completions", reason="needs openai")
    create = openai.Completions.__dict__["create"]
    tokentrail.instrument(tracer_provider=telemetry.tracer_provider, providers=["anthropic"])
    try:
        assert hasattr(current(METHODS[0]), "__wrapped__")
        assert openai.Completions.__dict__["create"] is create
    finally:
        tokentrail.uninstrument()


def test_the_otel_variable_disables_it(telemetry, monkeypatch):
    monkeypatch.setenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "tokentrail_anthropic")
    original = current(METHODS[0])
    tokentrail.instrument(tracer_provider=telemetry.tracer_provider)
    try:
        assert current(METHODS[0]) is original
    finally:
        tokentrail.uninstrument()


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_the_instrumentor_alone_with_its_own_providers(telemetry, fake, asynchronous):
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    try:
        if asynchronous:
            import asyncio

            asyncio.run(fake.async_client().messages.create(**REQUEST))
        else:
            fake.client().messages.create(**REQUEST)
    finally:
        instrumentor.uninstrument()
    assert telemetry.span().attributes["gen_ai.usage.cost"] > 0
    if NATIVE_TRACING:
        assert anthropic._base_client.start_api_call_span.__name__ == "start_api_call_span"
