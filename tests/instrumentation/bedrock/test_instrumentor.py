"""``BedrockInstrumentor``: how it is found (public API, the provider list, the entry point),
what it patches (botocore's ``BaseClient._make_api_call``, once for every client), and that
``uninstrument()`` puts it back."""

from __future__ import annotations

from importlib.metadata import entry_points, requires

import pytest
from botocore.client import BaseClient
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

import tokentrail
from tokentrail.instrumentation.bedrock import BedrockInstrumentor
from tokentrail.instrumentation.providers import BY_NAME

from .conftest import converse


def current():
    return BaseClient.__dict__["_make_api_call"]


def test_it_is_importable_from_tokentrail_and_registered():
    assert tokentrail.BedrockInstrumentor is BedrockInstrumentor
    assert "BedrockInstrumentor" in tokentrail.__all__
    provider = BY_NAME["bedrock"]
    assert (provider.module, provider.distribution) == ("boto3", "boto3")
    assert provider.instrumentor() is BedrockInstrumentor
    assert provider.entry_point == "tokentrail_bedrock"
    (entry_point,) = entry_points(group="opentelemetry_instrumentor", name="tokentrail_bedrock")
    assert entry_point.load() is BedrockInstrumentor


def test_its_supported_versions_are_the_bedrock_extra():
    (declared,) = BedrockInstrumentor().instrumentation_dependencies()
    requirements = [Requirement(r) for r in requires("tokentrail")]
    (extra,) = [
        r for r in requirements if r.name == "boto3" and r.marker.evaluate({"extra": "bedrock"})
    ]
    assert Requirement(declared).specifier == extra.specifier
    assert Requirement(declared).specifier == SpecifierSet(">=1.37.24,<2")


def test_uninstrument_restores_the_patched_method(telemetry, client):
    original = current()
    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    try:
        assert current().__wrapped__ is original
    finally:
        tokentrail.uninstrument()
    assert current() is original

    converse(client)
    assert telemetry.spans() == []


def test_instrument_twice_patches_once(telemetry, client):
    instrumentor = BedrockInstrumentor()
    instrumentor.instrument(tracer_provider=telemetry.tracer_provider)
    instrumentor.instrument(tracer_provider=telemetry.tracer_provider)
    try:
        converse(client)
    finally:
        instrumentor.uninstrument()
    assert len(telemetry.spans()) == 1


def test_providers_selects_bedrock_alone(telemetry):
    openai = pytest.importorskip("openai.resources.chat.completions", reason="needs openai")
    create = openai.Completions.__dict__["create"]
    tokentrail.instrument(tracer_provider=telemetry.tracer_provider, providers=["bedrock"])
    try:
        assert hasattr(current(), "__wrapped__")
        assert openai.Completions.__dict__["create"] is create
    finally:
        tokentrail.uninstrument()


def test_the_otel_variable_disables_it(telemetry, monkeypatch):
    monkeypatch.setenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "tokentrail_bedrock")
    original = current()
    tokentrail.instrument(tracer_provider=telemetry.tracer_provider)
    try:
        assert current() is original
    finally:
        tokentrail.uninstrument()


def test_the_instrumentor_alone_with_its_own_providers(telemetry, client):
    instrumentor = BedrockInstrumentor()
    instrumentor.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    try:
        converse(client)
    finally:
        instrumentor.uninstrument()
    assert telemetry.span().attributes["gen_ai.usage.cost"] > 0


def test_a_client_made_before_instrument_is_instrumented(telemetry, fake):
    """boto3 clients call the method through their class's base: clients the application
    made before ``instrument()`` are covered as well."""
    early = fake.client()
    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    try:
        converse(early)
    finally:
        tokentrail.uninstrument()
    assert len(telemetry.spans()) == 1


def test_another_wrapper_of_the_method_is_warned_about(telemetry, caplog):
    """opentelemetry-instrumentation-botocore (and others) wrap the same method: both would
    report each Bedrock call."""
    import wrapt

    def foreign(wrapped, instance, args, kwargs):
        return wrapped(*args, **kwargs)

    original = current()
    wrapt.wrap_function_wrapper(BaseClient, "_make_api_call", foreign)
    try:
        tokentrail.instrument(tracer_provider=telemetry.tracer_provider, providers=["bedrock"])
        tokentrail.uninstrument()
    finally:
        BaseClient._make_api_call = original
    assert any("already wrapped" in r.getMessage() for r in caplog.records)
