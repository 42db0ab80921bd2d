"""The pure readers of google-genai objects: usage and its modality breakdown (as
genai-prices' google extractor reads the same response), price variants, provider identity,
model names."""

from __future__ import annotations

from types import SimpleNamespace

import genai_prices
import pytest
from google.genai import types

from tokentrail.instrumentation.google_genai import extractors as ex

from .conftest import needs_service_tier

WIRE_USAGE = {
    "promptTokenCount": 2000,
    "cachedContentTokenCount": 800,
    "candidatesTokenCount": 300,
    "thoughtsTokenCount": 120,
    "toolUsePromptTokenCount": 60,
    "totalTokenCount": 2480,
    "promptTokensDetails": [
        {"modality": "TEXT", "tokenCount": 1200},
        {"modality": "AUDIO", "tokenCount": 400},
        {"modality": "IMAGE", "tokenCount": 250},
        {"modality": "DOCUMENT", "tokenCount": 100},
        {"modality": "VIDEO", "tokenCount": 50},
    ],
    "cacheTokensDetails": [
        {"modality": "TEXT", "tokenCount": 500},
        {"modality": "AUDIO", "tokenCount": 200},
        {"modality": "IMAGE", "tokenCount": 60},
        {"modality": "DOCUMENT", "tokenCount": 30},
        {"modality": "VIDEO", "tokenCount": 10},
    ],
    "candidatesTokensDetails": [
        {"modality": "TEXT", "tokenCount": 200},
        {"modality": "AUDIO", "tokenCount": 70},
        {"modality": "IMAGE", "tokenCount": 30},
    ],
    "toolUsePromptTokensDetails": [
        {"modality": "TEXT", "tokenCount": 40},
        {"modality": "AUDIO", "tokenCount": 20},
    ],
}


def test_usage_follows_the_design_mapping():
    metadata = types.GenerateContentResponseUsageMetadata.model_validate(WIRE_USAGE)
    usage = ex.usage_of(metadata)
    assert usage.input_tokens == 2000 + 60  # prompt (cache included) + tool-use prompt
    assert usage.output_tokens == 300 + 120  # candidates + thoughts
    assert usage.cache_read_tokens == 800
    assert usage.reasoning_tokens == 120


def test_modality_details_are_genai_prices_usage_keys_without_text():
    """The details are exactly genai-prices' google extractor's non-text keys."""
    metadata = types.GenerateContentResponseUsageMetadata.model_validate(WIRE_USAGE)
    reference = genai_prices.extract_usage(
        {"usageMetadata": WIRE_USAGE, "modelVersion": "gemini-2.5-flash"}, provider_id="google"
    ).usage
    reference_keys = {
        key: value
        for key, value in vars(reference).items()
        if key not in {"input_tokens", "output_tokens", "cache_read_tokens",
                       "output_reasoning_tokens", "input_tool_tokens"}
        and "text" not in key
    }  # fmt: skip
    assert dict(ex.usage_of(metadata).details) == reference_keys
    assert reference_keys["input_audio_tokens"] == 400 + 20
    assert reference_keys["input_image_tokens"] == 250 + 100
    assert reference_keys["cache_image_read_tokens"] == 60 + 30


def test_text_only_usage_has_no_details():
    metadata = types.GenerateContentResponseUsageMetadata(
        prompt_token_count=10,
        candidates_token_count=5,
        prompt_tokens_details=[types.ModalityTokenCount(modality="TEXT", token_count=10)],
    )
    assert ex.usage_of(metadata).details == ()


def test_usage_of_an_older_sdk_without_thoughts_or_tool_use():
    """google-genai 1.0's usage object has prompt, cached, candidates and total only."""
    old = SimpleNamespace(
        prompt_token_count=100, cached_content_token_count=None, candidates_token_count=20
    )
    usage = ex.usage_of(old)
    assert (usage.input_tokens, usage.output_tokens, usage.reasoning_tokens) == (100, 20, 0)
    assert ex.usage_of(None) is None


@pytest.mark.parametrize(
    ("traffic", "requested", "context"),
    [
        (None, "FLEX", (("service_tier", "flex"),)),
        (None, "priority", (("service_tier", "priority"),)),
        (None, "STANDARD", ()),
        (None, None, ()),
        ("ON_DEMAND_FLEX", None, (("service_tier", "flex"),)),
        ("ON_DEMAND_PRIORITY", "flex", (("service_tier", "priority"),)),
        ("ON_DEMAND", "flex", ()),  # the response says what served it
        ("PROVISIONED_THROUGHPUT", None, ()),
    ],
)
@needs_service_tier
def test_price_context(traffic, requested, context):
    metadata = types.GenerateContentResponseUsageMetadata(traffic_type=traffic)
    tier = ex.request_tier(types.GenerateContentConfig(service_tier=requested))
    assert ex.request_tier({"service_tier": requested}) == tier
    assert ex.price_context(metadata, tier) == context


@pytest.mark.parametrize(
    ("model", "name"),
    [
        ("gemini-2.5-flash", "gemini-2.5-flash"),
        ("models/gemini-2.5-flash", "gemini-2.5-flash"),
        ("publishers/google/models/gemini-2.5-pro", "gemini-2.5-pro"),
        ("projects/p/locations/us-central1/publishers/google/models/gemini-2.0-flash",
         "gemini-2.0-flash"),
        ("tunedModels/1234567890", "tunedModels/1234567890"),
        ("google/gemini-2.5-flash", "google/gemini-2.5-flash"),
        ("", None),
        (None, None),
    ],
)  # fmt: skip
def test_model_name(model, name):
    assert ex.model_name(model) == name


def _api_client(vertexai, base_url):
    return SimpleNamespace(vertexai=vertexai, _http_options=SimpleNamespace(base_url=base_url))


def test_provider_identity_and_address():
    gemini = ex.endpoint_of(_api_client(None, "https://generativelanguage.googleapis.com/"))
    assert (gemini.provider, gemini.address, gemini.port) == (
        "gcp.gemini",
        "generativelanguage.googleapis.com",
        443,
    )
    vertex = ex.endpoint_of(_api_client(True, "https://europe-west4-aiplatform.googleapis.com/"))
    assert (vertex.provider, vertex.address) == (
        "gcp.vertex_ai",
        "europe-west4-aiplatform.googleapis.com",
    )
    local = ex.endpoint_of(_api_client(False, "http://127.0.0.1:8081/"))
    assert (local.provider, local.address, local.port) == ("gcp.gemini", "127.0.0.1", 8081)
    assert ex.endpoint_of(_api_client(None, None)).address is None
