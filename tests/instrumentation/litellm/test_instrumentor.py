"""The LiteLLM instrumentor: registered as a provider and an entry point, patches
``completion``/``acompletion``/``embedding``/``aembedding`` of ``litellm`` and
``litellm.main`` and restores them, patches LiteLLM imported after ``instrument()``, touches
no network when LiteLLM is imported or instrumented, and warns when LiteLLM's own
OpenTelemetry callback would report each call a second time."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points, requires

import litellm
import litellm.main
from litellm.integrations.custom_logger import CustomLogger
from packaging.requirements import Requirement

import tokentrail
from tokentrail.instrumentation.litellm import LiteLLMInstrumentor, patch
from tokentrail.instrumentation.providers import BY_NAME

from .conftest import MESSAGES, ROUTES

FUNCTIONS = ("completion", "acompletion", "embedding", "aembedding")
TARGETS = [(module, name) for module in (litellm, litellm.main) for name in FUNCTIONS]


def test_it_is_importable_from_tokentrail_and_registered():
    assert tokentrail.LiteLLMInstrumentor is LiteLLMInstrumentor
    assert "LiteLLMInstrumentor" in tokentrail.__all__
    provider = BY_NAME["litellm"]
    assert provider.module == "litellm"
    assert provider.instrumentor() is LiteLLMInstrumentor
    (entry_point,) = entry_points(group="opentelemetry_instrumentor", name="tokentrail_litellm")
    assert entry_point.load() is LiteLLMInstrumentor


def test_its_supported_versions_are_the_litellm_extra():
    (declared,) = LiteLLMInstrumentor().instrumentation_dependencies()
    (extra,) = [
        r
        for r in map(Requirement, requires("tokentrail"))
        if r.name == "litellm" and r.marker.evaluate({"extra": "litellm"})
    ]
    assert Requirement(declared).specifier == extra.specifier


def test_uninstrument_restores_every_patched_function(telemetry):
    originals = {target: target[0].__dict__[target[1]] for target in TARGETS}

    tokentrail.instrument(tracer_provider=telemetry.tracer_provider)
    try:
        for (module, name), original in originals.items():
            assert module.__dict__[name].__wrapped__ is original, (module.__name__, name)
    finally:
        tokentrail.uninstrument()

    for (module, name), original in originals.items():
        assert module.__dict__[name] is original, (module.__name__, name)


def test_instrumenting_twice_reports_once(providers, telemetry):
    tokentrail.instrument(tracer_provider=telemetry.tracer_provider)
    tokentrail.instrument(tracer_provider=telemetry.tracer_provider)
    try:
        litellm.completion(messages=MESSAGES, **providers.route(ROUTES["mistral"]))
    finally:
        tokentrail.uninstrument()

    assert len(telemetry.spans()) == 1


def test_after_uninstrument_calls_record_nothing(providers, telemetry):
    tokentrail.instrument(tracer_provider=telemetry.tracer_provider)
    tokentrail.uninstrument()

    litellm.completion(messages=MESSAGES, **providers.route(ROUTES["mistral"]))

    assert telemetry.spans() == []


def test_providers_selects_litellm_alone(providers, telemetry):
    """Without the openai instrumentation the calls LiteLLM makes through the openai SDK are
    still LiteLLM's spans only."""
    tokentrail.instrument(tracer_provider=telemetry.tracer_provider, providers=["litellm"])
    try:
        litellm.embedding(
            model="text-embedding-3-small", input=["a"], encoding_format="float",
            client=providers.openai.client(),
        )  # fmt: skip
    finally:
        tokentrail.uninstrument()

    assert telemetry.span().name == "embeddings text-embedding-3-small"


class OpenTelemetry(CustomLogger):
    """Stands for LiteLLM's own OpenTelemetry callback (``litellm.callbacks = ["otel"]``
    makes one of LiteLLM's class of this name), without exporting anything."""


def test_litellms_own_opentelemetry_callback_is_warned_about_once(
    providers, instrumented, monkeypatch, caplog
):
    monkeypatch.setattr(patch, "_native_tracing_checked", False)
    monkeypatch.setattr(litellm, "callbacks", [OpenTelemetry()])
    with caplog.at_level(logging.WARNING, logger="tokentrail"):
        for _ in range(2):
            litellm.completion(messages=MESSAGES, **providers.route(ROUTES["mistral"]))

    warnings = [r for r in caplog.records if "OpenTelemetry callback" in r.getMessage()]
    assert len(warnings) == 1
    assert "litellm.callbacks" in warnings[0].getMessage()


def _run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
        env={"TOKENTRAIL_STRICT": "1", "PATH": "/usr/bin:/bin",
             "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_litellm_imported_after_instrument_is_patched_and_no_network_is_touched():
    """In a fresh interpreter that refuses every name lookup and connection but loopback's:
    instrument, then import LiteLLM, call it through a fake, uninstrument. Nothing reaches out
    (without ``LITELLM_LOCAL_MODEL_COST_MAP=True``, LiteLLM's import would: its price list)."""
    out = _run(
        """
        import socket, sys
        outside = []
        connect, getaddrinfo = socket.socket.connect, socket.getaddrinfo
        LOOPBACK = ("127.0.0.1", "::1", "localhost")

        def loopback_only(self, address):
            if isinstance(address, tuple) and address[0] not in LOOPBACK:
                outside.append(address)
                raise OSError("no network in this test")
            return connect(self, address)

        def resolve_loopback_only(host, *args, **kwargs):
            if host not in LOOPBACK:
                outside.append(host)
                raise socket.gaierror("no network in this test")
            return getaddrinfo(host, *args, **kwargs)

        socket.socket.connect = loopback_only
        socket.getaddrinfo = resolve_loopback_only

        import tokentrail
        from tokentrail.testing import Telemetry
        telemetry = Telemetry()
        tokentrail.instrument(tracer_provider=telemetry.tracer_provider,
                              meter_provider=telemetry.meter_provider)
        print("imported by instrument():", "litellm" in sys.modules)

        import litellm
        from tokentrail.fakes.litellm import FakeProviders
        with FakeProviders() as fakes:
            litellm.completion(messages=[{"role": "user", "content": "hi"}],
                               **fakes.route("anthropic/claude-haiku-4-5"))
        print("spans:", [s.name for s in telemetry.spans()])
        tokentrail.uninstrument()
        print("restored:", not hasattr(litellm.completion, "_self_wrapper"))
        print("outside:", outside)
        """
    )
    assert "imported by instrument(): False" in out
    assert "spans: ['chat claude-haiku-4-5']" in out
    assert "restored: True" in out
    assert "outside: []" in out
