"""The mistralai SDK's own OpenTelemetry tracing (1.10+: on whenever a global tracer provider
is set, up to 2.x; 3.x: with ``MISTRAL_SDK_TELEMETRY=global``) opens a span with the call's
usage. With tokentrail, a call it instruments has exactly one span, tokentrail's; the SDK's
other calls, and a client that has a tracer provider of its own, keep the SDK's spans."""

from __future__ import annotations

import pytest
from opentelemetry.instrumentation.utils import suppress_instrumentation

import tokentrail

from .conftest import CHAT, EMBEDDINGS, FIM, needs_native_tracing

pytestmark = needs_native_tracing

SDK_SCOPE = "mistralai_sdk_tracer"


@pytest.fixture
def sdk_tracing(monkeypatch, global_tracer):
    """The SDK's tracing on, into ``telemetry`` (the global tracer provider)."""
    monkeypatch.setenv("MISTRAL_SDK_TELEMETRY", "global")  # 3.x; older versions ignore it
    return global_tracer


@pytest.fixture
def traced(api, sdk_tracing):
    """A client made once the global tracer provider is set (mistralai 1.10 decides whether
    to trace when the client is made)."""
    return api.with_client()


def scopes(telemetry):
    return [(s.instrumentation_scope.name, s.name) for s in telemetry.spans()]


def usage_spans(telemetry):
    return [s for s in telemetry.spans() if "gen_ai.usage.output_tokens" in s.attributes]


def calls(api):
    api.call("chat.complete", **CHAT)
    api.drain(api.call("chat.stream", **CHAT))
    api.call("fim.complete", **FIM)
    api.call("embeddings.create", **EMBEDDINGS)


def test_without_tokentrail_the_sdk_traces_the_call(traced, sdk_tracing):
    """The premise: the SDK's span carries the usage (so two spans would count it twice)."""
    with suppress_instrumentation():
        traced.call("chat.complete", **CHAT)

    (span,) = sdk_tracing.spans()
    assert span.instrumentation_scope.name == SDK_SCOPE
    assert span.attributes["gen_ai.usage.output_tokens"] > 0  # (1.10 names input differently)


def test_each_instrumented_call_has_one_span_tokentrails(traced, sdk_tracing):
    tokentrail.instrument(
        tracer_provider=sdk_tracing.tracer_provider, meter_provider=sdk_tracing.meter_provider
    )
    try:
        calls(traced)
    finally:
        tokentrail.uninstrument()

    assert scopes(sdk_tracing) == [
        ("tokentrail", "chat mistral-small-latest"),
        ("tokentrail", "chat mistral-small-latest"),
        ("tokentrail", "text_completion codestral-latest"),
        ("tokentrail", "embeddings mistral-embed"),
    ]
    assert len(usage_spans(sdk_tracing)) == 4
    assert sdk_tracing.value("tokentrail.requests") == 4


def test_calls_tokentrail_does_not_instrument_keep_the_sdks_span(traced, sdk_tracing):
    """``models.list`` (not billed, not instrumented): traced by the SDK as before."""
    tokentrail.instrument(
        tracer_provider=sdk_tracing.tracer_provider, meter_provider=sdk_tracing.meter_provider
    )
    try:
        traced.call("chat.complete", **CHAT)
        try:
            traced.call("models.list")
        except Exception:  # the fake has no /v1/models: the SDK's error, traced all the same
            pass
    finally:
        tokentrail.uninstrument()

    names = scopes(sdk_tracing)
    assert names[0] == ("tokentrail", "chat mistral-small-latest")
    assert [scope for scope, _ in names[1:]] == [SDK_SCOPE]


def test_after_uninstrument_the_sdk_traces_again(traced, sdk_tracing):
    tokentrail.instrument(
        tracer_provider=sdk_tracing.tracer_provider, meter_provider=sdk_tracing.meter_provider
    )
    tokentrail.uninstrument()

    traced.call("chat.complete", **CHAT)

    assert [scope for scope, _ in scopes(sdk_tracing)] == [SDK_SCOPE]


def test_a_client_with_its_own_tracer_provider_keeps_its_spans(traced, sdk_tracing):
    """3.x ``configure_telemetry(client, provider=...)``: the SDK's spans of that client go to
    that provider (they are not in tokentrail's traces), so tokentrail leaves them alone."""
    try:
        from mistralai.extra.observability.telemetry import configure_telemetry
    except ImportError:
        pytest.skip("this mistralai has no per-client telemetry (< 3)")
    from tokentrail.testing import Telemetry

    own = Telemetry()
    configure_telemetry(traced.client, provider=own.tracer_provider)
    tokentrail.instrument(
        tracer_provider=sdk_tracing.tracer_provider, meter_provider=sdk_tracing.meter_provider
    )
    try:
        traced.call("chat.complete", **CHAT)
    finally:
        tokentrail.uninstrument()
        own.shutdown()

    assert scopes(sdk_tracing) == [("tokentrail", "chat mistral-small-latest")]
    assert [s.instrumentation_scope.name for s in own.spans()] == [SDK_SCOPE]
