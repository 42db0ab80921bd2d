"""Patching and unpatching: ``OpenAIInstrumentor`` on its own and through
``tokentrail.instrument()``, idempotence, provider selection, the disable switch, the entry
point."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

import pytest
import wrapt
from packaging.requirements import Requirement

import tokentrail
from tokentrail import ConfigurationError
from tokentrail.instrumentation.openai import OpenAIInstrumentor
from tokentrail.instrumentation.openai.package import _instruments
from tokentrail.instrumentation.openai.patch import patches
from tokentrail.testing import Telemetry

from .conftest import MESSAGES


def _exists(module, cls, method):
    try:
        return method in vars(getattr(importlib.import_module(module), cls))
    except ImportError:
        return False


#: every class attribute the instrumentor wraps in the installed openai (3.x has no beta.chat
#: module; before 1.92 ``Completions.parse`` is in beta.chat only)
TARGETS = sorted(
    {(t.module, t.cls, t.method) for t in patches() if _exists(t.module, t.cls, t.method)}
)


def originals():
    """The functions in the class dicts, right now."""
    return {
        (module, cls, method): vars(getattr(importlib.import_module(module), cls))[method]
        for module, cls, method in TARGETS
    }


def chat(client):
    return client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)


def test_targets_cover_every_patched_method():
    """Sync and async: chat create/parse, legacy completions, responses create/parse,
    embeddings."""
    assert {(cls, method) for _, cls, method in TARGETS} == {
        (prefix + cls, method)
        for prefix in ("", "Async")
        for cls, method in [
            ("Completions", "create"),
            ("Completions", "parse"),
            ("Responses", "create"),
            ("Responses", "parse"),
            ("Embeddings", "create"),
        ]
    }
    assert ("openai.resources.completions", "AsyncCompletions", "create") in TARGETS


def test_uninstrument_restores_the_original_functions(telemetry):
    before = originals()

    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    try:
        during = originals()
        for key, function in during.items():
            assert isinstance(function, wrapt.FunctionWrapper), key
            assert function.__wrapped__ is before[key], key
    finally:
        tokentrail.uninstrument()

    after = originals()
    assert all(after[key] is before[key] for key in before)


def test_instrument_and_uninstrument_are_idempotent(telemetry, client):
    before = originals()
    providers = {
        "tracer_provider": telemetry.tracer_provider,
        "meter_provider": telemetry.meter_provider,
    }

    tokentrail.instrument(**providers)
    tokentrail.instrument(**providers)
    try:
        assert all(f.__wrapped__ is before[k] for k, f in originals().items())
        chat(client)
        assert len(telemetry.spans()) == 1
    finally:
        tokentrail.uninstrument()
    tokentrail.uninstrument()

    assert originals() == before
    chat(client)
    assert len(telemetry.spans()) == 1


def test_standalone_instrumentor_with_explicit_providers(telemetry, client):
    """``OpenAIInstrumentor().instrument(tracer_provider=..., meter_provider=...)`` works
    without ``tokentrail.instrument()``, and is undone by its own ``uninstrument()``."""
    before = originals()
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    try:
        chat(client)
        # tokentrail.instrument() leaves an instrumentor that is already active alone
        tokentrail.instrument(
            tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
        )
        chat(client)
        tokentrail.uninstrument()
        chat(client)
    finally:
        instrumentor.uninstrument()

    assert len(telemetry.spans()) == 3
    assert telemetry.value("tokentrail.requests") == 3
    assert telemetry.spans()[0].attributes["tokentrail.cost.status"] == "priced"
    assert originals() == before


def test_providers_selects_openai(telemetry, client):
    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        providers=["openai"],
    )
    try:
        chat(client)
    finally:
        tokentrail.uninstrument()

    assert telemetry.span().attributes["gen_ai.provider.name"] == "openai"


def test_unknown_provider_is_a_configuration_error(telemetry):
    before = originals()

    with pytest.raises(ConfigurationError, match="opneai"):
        tokentrail.instrument(tracer_provider=telemetry.tracer_provider, providers=["opneai"])

    assert originals() == before
    tokentrail.uninstrument()  # nothing to undo


def test_disabled_by_otel_python_disabled_instrumentations(telemetry, client, monkeypatch):
    """``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=tokentrail_openai`` leaves openai alone."""
    monkeypatch.setenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "flask, tokentrail_openai")
    before = originals()

    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    try:
        assert originals() == before
        chat(client)
    finally:
        tokentrail.uninstrument()

    assert telemetry.spans() == []


def test_entry_point_loads_the_instrumentor():
    """``opentelemetry-instrument`` finds it in group ``opentelemetry_instrumentor``."""
    (entry_point,) = entry_points(group="opentelemetry_instrumentor", name="tokentrail_openai")

    assert entry_point.load() is OpenAIInstrumentor
    assert tokentrail.OpenAIInstrumentor is OpenAIInstrumentor


def test_instrumentation_dependencies_match_the_extra():
    """The instrumentor's range is the ``openai`` extra's (pyproject.toml)."""
    assert list(OpenAIInstrumentor().instrumentation_dependencies()) == list(_instruments)
    (extra,) = [
        Requirement(r)
        for r in importlib.metadata.requires("tokentrail")
        if r.startswith("openai") and "extra == 'openai'" in r
    ]
    assert extra.specifier == Requirement(_instruments[0]).specifier


def test_raw_response_wrapper_built_while_instrumented_follows_uninstrument(api, telemetry):
    """The SDK's ``with_raw_response`` keeps the bound ``create`` it found when first used.
    One built while instrumented reports nothing after ``uninstrument()``, and reports to
    the new providers after the next ``instrument()``."""

    def raw_call():
        api.call("chat.completions.with_raw_response.create", model="gpt-4o", messages=MESSAGES)

    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    try:
        raw_call()
    finally:
        tokentrail.uninstrument()
    assert len(telemetry.spans()) == 1

    raw_call()
    assert len(telemetry.spans()) == 1

    later = Telemetry()
    tokentrail.instrument(
        tracer_provider=later.tracer_provider, meter_provider=later.meter_provider
    )
    try:
        raw_call()
    finally:
        tokentrail.uninstrument()
        later.shutdown()
    assert len(telemetry.spans()) == 1
    assert len(later.spans()) == 1


def test_zero_code_instrument_uses_global_providers_and_environment(telemetry, client, monkeypatch):
    """``opentelemetry-instrument`` calls ``instrument()`` with no arguments: the global
    providers and the ``TOKENTRAIL_*`` environment configure it."""
    from opentelemetry import trace
    from opentelemetry.metrics import _internal as metrics_internal

    monkeypatch.setattr(trace, "_TRACER_PROVIDER", telemetry.tracer_provider)
    monkeypatch.setattr(metrics_internal, "_METER_PROVIDER", telemetry.meter_provider)
    monkeypatch.setenv("TOKENTRAIL_CAPTURE_CONTENT", "true")
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    try:
        chat(client)
    finally:
        instrumentor.uninstrument()

    assert "gen_ai.input.messages" in telemetry.span().attributes
    assert telemetry.value("tokentrail.requests") == 1


def test_warns_when_another_instrumentation_wraps_the_same_method(telemetry, caplog):
    """Two instrumentations of one SDK report each call twice: say so at instrument time."""
    import openai
    import wrapt
    from opentelemetry.instrumentation.utils import unwrap

    import tokentrail

    def foreign(wrapped, instance, args, kwargs):
        return wrapped(*args, **kwargs)

    completions = openai.resources.chat.completions.Completions
    wrapt.wrap_function_wrapper(completions, "create", foreign)
    try:
        with caplog.at_level("WARNING", logger="tokentrail"):
            tokentrail.instrument(
                tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
            )
            tokentrail.uninstrument()
    finally:
        unwrap(completions, "create")
    warnings = [r.getMessage() for r in caplog.records if "already wrapped" in r.getMessage()]
    assert len(warnings) == 1
    assert "Completions.create" in warnings[0]
    assert not hasattr(completions.create, "_self_wrapper")


def test_no_warning_for_an_sdk_nobody_else_wraps(telemetry, caplog):
    import tokentrail

    with caplog.at_level("WARNING", logger="tokentrail"):
        tokentrail.instrument(
            tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
        )
        tokentrail.uninstrument()
    assert not [r for r in caplog.records if "already wrapped" in r.getMessage()]
