"""``MistralInstrumentor``: how it is found (public API, the provider list, the entry point),
what it patches in the installed major version, that ``uninstrument()`` puts every patched
function back, and patching a module imported after ``instrument()``."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points, requires

import pytest
import wrapt
from packaging.requirements import Requirement

import tokentrail
from tokentrail import ConfigurationError
from tokentrail.instrumentation.mistralai import MistralInstrumentor
from tokentrail.instrumentation.mistralai.patch import patches
from tokentrail.instrumentation.providers import BY_NAME

from .conftest import CHAT, TRACING_HOOK


def _owner(module: str, name: str):
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


#: every function the instrumentor wraps in the installed mistralai (the other major
#: version's paths do not exist here)
TARGETS = sorted(
    (t.module, t.cls, t.method)
    for t in patches()
    if t.method in vars(_owner(t.module, t.cls) or object)
)


def originals():
    return {(m, c, f): vars(_owner(m, c))[f] for m, c, f in TARGETS}


def test_it_is_importable_from_tokentrail_and_registered():
    assert tokentrail.MistralInstrumentor is MistralInstrumentor
    assert "MistralInstrumentor" in tokentrail.__all__
    provider = BY_NAME["mistralai"]
    assert provider.module == "mistralai"
    assert provider.distribution == "mistralai"
    assert provider.instrumentor() is MistralInstrumentor
    assert provider.entry_point == "tokentrail_mistralai"
    (entry_point,) = entry_points(group="opentelemetry_instrumentor", name="tokentrail_mistralai")
    assert entry_point.load() is MistralInstrumentor


def test_its_supported_versions_are_the_mistralai_extra():
    (declared,) = MistralInstrumentor().instrumentation_dependencies()
    requirements = [Requirement(r) for r in requires("tokentrail")]
    (extra,) = [
        r
        for r in requirements
        if r.name == "mistralai" and r.marker is not None
        and r.marker.evaluate({"extra": "mistralai"})
    ]  # fmt: skip
    assert Requirement(declared).specifier == extra.specifier


def test_targets_cover_every_patched_method():
    """Sync and async: chat complete/stream, fim complete/stream, embeddings create; and the
    tracing hook's tracer lookup and span start where the SDK has them."""
    methods = {(cls, method) for _, cls, method in TARGETS}
    expected = {
        (cls, method + suffix)
        for cls, method in [
            ("Chat", "complete"),
            ("Chat", "stream"),
            ("Fim", "complete"),
            ("Fim", "stream"),
            ("Embeddings", "create"),
        ]
        for suffix in ("", "_async")
    }
    if TRACING_HOOK is not None:
        expected |= {
            ("tracing", "get_or_create_otel_tracer"),
            ("tracing", "get_traced_request_and_span"),
        }
    assert methods == expected


def test_agents_conversations_and_ocr_are_not_patched(instrumented):
    for module in ("agents", "conversations", "ocr"):
        for package in ("mistralai.client", "mistralai"):
            try:
                resource = importlib.import_module(f"{package}.{module}")
            except ImportError:
                continue
            for value in vars(resource).values():
                if isinstance(value, type):
                    for name, attribute in vars(value).items():
                        assert not isinstance(attribute, wrapt.FunctionWrapper), (value, name)


def test_uninstrument_restores_the_original_functions(telemetry):
    before = originals()

    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    try:
        for key, function in originals().items():
            assert isinstance(function, wrapt.FunctionWrapper), key
            assert function.__wrapped__ is before[key], key
    finally:
        tokentrail.uninstrument()

    after = originals()
    assert all(after[key] is before[key] for key in before)


def test_instrument_and_uninstrument_are_idempotent(telemetry, fake):
    before = originals()
    providers = {
        "tracer_provider": telemetry.tracer_provider,
        "meter_provider": telemetry.meter_provider,
    }
    client = fake.client()

    tokentrail.instrument(**providers)
    tokentrail.instrument(**providers)
    try:
        assert all(f.__wrapped__ is before[k] for k, f in originals().items())
        client.chat.complete(**CHAT)
        assert len(telemetry.spans()) == 1
    finally:
        tokentrail.uninstrument()
    tokentrail.uninstrument()

    assert originals() == before
    client.chat.complete(**CHAT)
    assert len(telemetry.spans()) == 1


def test_standalone_instrumentor_with_explicit_providers(telemetry, fake):
    before = originals()
    instrumentor = MistralInstrumentor()
    instrumentor.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    try:
        fake.client().chat.complete(**CHAT)
    finally:
        instrumentor.uninstrument()

    assert telemetry.span().attributes["gen_ai.provider.name"] == "mistral_ai"
    assert originals() == before


def test_providers_selects_mistralai(telemetry, fake):
    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        providers=["mistralai"],
    )
    try:
        assert all(isinstance(f, wrapt.FunctionWrapper) for f in originals().values())
        fake.client().chat.complete(**CHAT)
    finally:
        tokentrail.uninstrument()
    assert len(telemetry.spans()) == 1


def test_other_providers_leave_mistralai_alone(telemetry, fake):
    before = originals()
    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        providers=["openai"],
    )
    try:
        assert originals() == before
    finally:
        tokentrail.uninstrument()


def test_unknown_provider_name_says_which_exist():
    with pytest.raises(ConfigurationError, match="mistralai"):
        tokentrail.instrument(providers=["mistral"])


def test_disabled_by_otel_python_disabled_instrumentations(telemetry, fake, monkeypatch):
    monkeypatch.setenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "tokentrail_mistralai")
    before = originals()

    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    try:
        assert originals() == before
        fake.client().chat.complete(**CHAT)
    finally:
        tokentrail.uninstrument()

    assert telemetry.spans() == []


def test_warns_when_another_instrumentation_wraps_the_same_method(telemetry, caplog):
    """Two instrumentations of one SDK report each call twice: say so at instrument time."""
    from opentelemetry.instrumentation.utils import unwrap

    module, cls, _ = next(t for t in TARGETS if t[1] == "Chat")
    chat = _owner(module, cls)

    def foreign(wrapped, instance, args, kwargs):
        return wrapped(*args, **kwargs)

    wrapt.wrap_function_wrapper(chat, "complete", foreign)
    try:
        with caplog.at_level("WARNING", logger="tokentrail"):
            tokentrail.instrument(
                tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
            )
            tokentrail.uninstrument()
    finally:
        unwrap(chat, "complete")
    warnings = [r.getMessage() for r in caplog.records if "already wrapped" in r.getMessage()]
    assert len(warnings) == 1
    assert "Chat.complete" in warnings[0]


def test_a_module_imported_after_instrument_is_patched_on_import():
    """``instrument()`` before ``import mistralai``: nothing of the SDK is imported by it, and
    the SDK's modules are patched when the application imports them (fresh interpreter)."""
    code = textwrap.dedent(
        """
        import sys
        import tokentrail
        from tokentrail.testing import Telemetry
        telemetry = Telemetry()
        tokentrail.instrument(tracer_provider=telemetry.tracer_provider,
                              meter_provider=telemetry.meter_provider)
        print("imported by instrument():", any(m.startswith("mistralai") for m in sys.modules))
        from tokentrail.fakes.mistral import FakeMistral
        client = FakeMistral().client()
        client.chat.complete(model="mistral-small-latest",
                             messages=[{"role": "user", "content": "hi"}])
        client.embeddings.create(model="mistral-embed", inputs=["hi"])
        print("spans:", [s.name for s in telemetry.spans()])
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={"TOKENTRAIL_STRICT": "1", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert "imported by instrument(): False" in result.stdout
    assert "spans: ['chat mistral-small-latest', 'embeddings mistral-embed']" in result.stdout
