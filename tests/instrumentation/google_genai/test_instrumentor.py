"""The instrumentor: what it patches (and that those methods exist in the installed SDK),
registration, uninstrument, embeddings, what is not billed, and the fallback for an SDK that
renamed its private per-request methods."""

from __future__ import annotations

import inspect
from importlib.metadata import entry_points

import genai_prices
import pytest
import wrapt
from google.genai import models, types
from opentelemetry.instrumentation.utils import suppress_instrumentation

import tokentrail
from tokentrail.fakes.google_genai import FakeGemini
from tokentrail.instrumentation.google_genai import GoogleGenAIInstrumentor, patch
from tokentrail.instrumentation.providers import BY_NAME

from .conftest import MODEL, Gemini, get_weather, needs_embed_usage

PATCHED = (
    "generate_content",
    "generate_content_stream",
    "embed_content",
    "_generate_content",
    "_generate_content_stream",
)


def test_the_private_per_request_methods_exist_in_the_installed_sdk():
    """If this fails, google-genai renamed the methods that send one model request each:
    tokentrail then reads the public result, and automatic function calling is under-counted
    (only the last request's usage). Update ``patch.PER_REQUEST_METHODS``."""
    assert patch.PER_REQUEST_METHODS == ("_generate_content", "_generate_content_stream")
    for cls in (models.Models, models.AsyncModels):
        missing = [name for name in patch.PER_REQUEST_METHODS if not hasattr(cls, name)]
        assert not missing, f"google-genai {cls.__name__} lost {missing}"
    assert inspect.isgeneratorfunction(models.Models._generate_content_stream)
    assert inspect.isgeneratorfunction(models.Models.generate_content_stream)
    assert inspect.iscoroutinefunction(models.AsyncModels._generate_content)
    assert inspect.iscoroutinefunction(models.AsyncModels._generate_content_stream)
    assert inspect.iscoroutinefunction(models.AsyncModels.generate_content_stream)
    # the per-request methods take the public methods' keywords
    for name in ("_generate_content", "_generate_content_stream"):
        parameters = inspect.signature(getattr(models.Models, name)).parameters
        assert {"model", "contents", "config"} <= set(parameters)


def test_uninstrument_restores_every_patched_method(telemetry):
    originals = {
        (cls, name): cls.__dict__[name]
        for cls in (models.Models, models.AsyncModels)
        for name in PATCHED
    }
    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    try:
        for (cls, name), original in originals.items():
            current = cls.__dict__[name]
            assert isinstance(current, wrapt.FunctionWrapper), f"{cls.__name__}.{name}"
            assert current.__wrapped__ is original
    finally:
        tokentrail.uninstrument()
    for (cls, name), original in originals.items():
        assert cls.__dict__[name] is original, f"{cls.__name__}.{name} not restored"


def test_it_is_registered_everywhere():
    (entry_point,) = [
        ep for ep in entry_points(group="opentelemetry_instrumentor")
        if ep.name == "tokentrail_google_genai"
    ]  # fmt: skip
    assert entry_point.load() is GoogleGenAIInstrumentor
    assert tokentrail.GoogleGenAIInstrumentor is GoogleGenAIInstrumentor
    assert "GoogleGenAIInstrumentor" in tokentrail.__all__
    provider = BY_NAME["google_genai"]
    assert provider.module == "google.genai"
    assert provider.instrumentor() is GoogleGenAIInstrumentor
    assert provider.entry_point == "tokentrail_google_genai"
    assert list(GoogleGenAIInstrumentor().instrumentation_dependencies()) == [
        "google-genai >= 1.50, < 4"
    ]


def test_the_instrumentor_works_on_its_own(telemetry, fake):
    instrumentor = GoogleGenAIInstrumentor()
    instrumentor.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    client = fake.client()  # kept: some releases close its HTTP client when it is collected
    try:
        client.models.generate_content(model=MODEL, contents="hi")
    finally:
        instrumentor.uninstrument()
    client.models.generate_content(model=MODEL, contents="hi")
    assert len(telemetry.spans()) == 1


def test_instrumenting_only_gemini_leaves_openai_alone(telemetry):
    chat = pytest.importorskip("openai.resources.chat.completions", reason="needs openai")

    original = chat.Completions.__dict__["create"]
    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        providers=["google_genai"],
    )
    try:
        assert chat.Completions.__dict__["create"] is original
        assert isinstance(models.Models.__dict__["generate_content"], wrapt.FunctionWrapper)
    finally:
        tokentrail.uninstrument()


def test_a_client_made_before_instrumenting_is_observed(fake, telemetry):
    client = fake.client()
    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    try:
        client.models.generate_content(model=MODEL, contents="hi")
    finally:
        tokentrail.uninstrument()
    assert len(telemetry.spans()) == 1


def test_suppressed_instrumentation_records_nothing(gemini, instrumented):
    with suppress_instrumentation():
        gemini.generate()
        gemini.drain(gemini.stream())
    assert instrumented.spans() == []
    assert instrumented.value("tokentrail.requests") == 0


def test_count_tokens_is_not_billed(gemini, instrumented):
    assert gemini.count_tokens().total_tokens > 0
    assert instrumented.spans() == []
    assert instrumented.value("tokentrail.requests") == 0


@needs_embed_usage
def test_embeddings_are_priced_from_their_usage(gemini, instrumented):
    response = gemini.embed(contents=["how to rotate API keys", "how to revoke a token"])

    tokens = response.usage_metadata.prompt_token_count
    span = instrumented.span()
    assert span.name == "embeddings gemini-embedding-001"
    assert span.attributes["gen_ai.operation.name"] == "embeddings"
    assert span.attributes["gen_ai.usage.input_tokens"] == tokens
    expected = genai_prices.calc_price(
        genai_prices.Usage(input_tokens=tokens), "gemini-embedding-001", provider_id="google"
    ).total_price
    assert span.attributes["gen_ai.usage.cost"] == pytest.approx(float(expected))
    assert instrumented.count("gen_ai.client.token.usage", {"gen_ai.token.type": "output"}) == 0


def test_embeddings_without_usage_are_estimated(instrumented, loop):
    gemini = Gemini(FakeGemini(embed_usage=False), None)
    gemini.embed(contents="x" * 400)
    span = instrumented.span()
    assert span.attributes["gen_ai.usage.input_tokens"] == 100
    assert span.attributes["tokentrail.cost.status"] == "estimated"


def test_vertex_embeddings_count_the_tokens_of_their_statistics(gemini, instrumented):
    vertex = gemini.other(vertexai=True)
    vertex.embed(model="text-embedding-005", contents=["abcd" * 10, "efgh" * 5])
    span = instrumented.span()
    assert span.attributes["gen_ai.provider.name"] == "gcp.vertex_ai"
    assert span.attributes["gen_ai.usage.input_tokens"] == 15
    # Vertex bills these per character and genai-prices has no price: unpriced, never $0
    assert span.attributes["tokentrail.cost.status"] == "unpriced"


def test_without_the_private_methods_the_public_result_is_read(gemini, telemetry, monkeypatch):
    """A google-genai that renamed its per-request methods: calls are still priced from the
    public result (for automatic function calling: only the last request, never twice)."""
    monkeypatch.setattr(patch, "PER_REQUEST_METHODS", ("_renamed_generate_content",))
    originals = {name: models.Models.__dict__[name] for name in PATCHED[3:]}
    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
    )
    try:
        for name, original in originals.items():
            assert models.Models.__dict__[name] is original
        plain = gemini.generate()
        chunks = gemini.drain(gemini.stream())
        gemini.fake.tool_rounds = 2
        afc = gemini.generate(config=types.GenerateContentConfig(tools=[get_weather]))
    finally:
        tokentrail.uninstrument()

    plain_span, stream_span, afc_span = telemetry.spans()
    assert plain_span.attributes["gen_ai.usage.input_tokens"] == (
        plain.usage_metadata.prompt_token_count
    )
    assert stream_span.attributes["gen_ai.usage.input_tokens"] == (
        chunks[-1].usage_metadata.prompt_token_count
    )
    assert afc_span.attributes["gen_ai.usage.input_tokens"] == afc.usage_metadata.prompt_token_count
    assert telemetry.value("tokentrail.requests") == 3
