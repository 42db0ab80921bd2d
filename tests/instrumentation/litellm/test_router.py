"""The Router is not patched: it calls ``litellm.acompletion``/``completion`` (and the
embedding functions) once per attempt, so each attempt is a call of its own, as each is a
request the provider may bill. A failing first deployment and a succeeding fallback are two
spans: the failed one not billed, the other priced; the metrics and budgets count the same."""

from __future__ import annotations

from decimal import Decimal

import litellm
import pytest

from tokentrail import Budget, attribute
from tokentrail.testing import capture

from .conftest import MESSAGES


@pytest.fixture
def router(providers):
    """Two deployments: ``primary`` (an OpenAI model), whose fallback is ``backup`` (an
    Anthropic one), each on its fake."""
    return litellm.Router(
        model_list=[
            {"model_name": "primary",
             "litellm_params": {"model": "openai/gpt-4o", "api_base": providers.url("openai"),
                                "api_key": "fake-key"}},
            {"model_name": "backup",
             "litellm_params": {"model": "anthropic/claude-haiku-4-5",
                                "api_base": providers.url("anthropic"), "api_key": "fake-key",
                                "max_tokens": 200}},
        ],
        fallbacks=[{"primary": ["backup"]}],
        num_retries=0,
    )  # fmt: skip


def _route(api, router, **kwargs):
    method = router.acompletion if api.asynchronous else router.completion
    return api.wait(method(model="primary", messages=MESSAGES, **kwargs))


def test_a_failing_deployment_and_its_fallback_are_two_calls(api, router):
    budget = Budget("router-cap", "10", "day")
    api.providers.openai.fail_next(500)
    with capture(budgets=[budget]) as telemetry:
        result = _route(api, router)

        failed, answered = telemetry.spans()
        assert failed.attributes["gen_ai.provider.name"] == "openai"
        assert failed.attributes["gen_ai.request.model"] == "gpt-4o"
        error = failed.attributes["error.type"]  # LiteLLM's class for a 500 differs by version
        assert error in ("InternalServerError", "APIError")
        assert failed.attributes["tokentrail.cost.status"] == "priced"
        assert failed.attributes.get("gen_ai.usage.cost", 0) == 0
        assert answered.attributes["gen_ai.provider.name"] == "anthropic"
        assert answered.attributes["gen_ai.response.model"] == "claude-haiku-4-5-20251001"
        assert answered.attributes["gen_ai.usage.input_tokens"] == result.usage.prompt_tokens
        cost = Decimal(str(answered.attributes["gen_ai.usage.cost"]))
        assert cost > 0
        assert "error.type" not in answered.attributes

        assert telemetry.value("tokentrail.requests") == 2
        assert telemetry.value("tokentrail.requests", {"error.type": error}) == 1
        assert Decimal(str(telemetry.value("tokentrail.cost.usd"))) == pytest.approx(cost)
        spent = telemetry.value(
            "tokentrail.budget.spent.usd", {"tokentrail.budget.name": "router-cap"}
        )
        assert Decimal(str(spent)) == pytest.approx(cost)


def test_each_retry_is_a_call(api, providers):
    router = litellm.Router(
        model_list=[{"model_name": "primary", "litellm_params": {
            "model": "openai/gpt-4o", "api_base": providers.url("openai"), "api_key": "k"}}],
        num_retries=1, retry_after=0,
    )  # fmt: skip
    providers.openai.fail_next(429)
    with capture() as telemetry:
        _route(api, router)

    first, second = telemetry.spans()
    assert first.attributes["error.type"] == "RateLimitError"
    assert "error.type" not in second.attributes
    assert len(providers.openai.requests) == 2


def test_router_calls_carry_the_attribution(api, router):
    with capture() as telemetry, attribute(feature="search", team="core"):
        _route(api, router)

    span = telemetry.span()
    assert span.attributes["tokentrail.feature"] == "search"
    assert telemetry.value("tokentrail.requests", {"tokentrail.team": "core"}) == 1


def test_router_embeddings(api, providers):
    deployment = {"model": "mistral/mistral-embed", "api_base": providers.url("mistral"),
                  "api_key": "k"}  # fmt: skip
    router = litellm.Router(model_list=[{"model_name": "embed", "litellm_params": deployment}])
    method = router.aembedding if api.asynchronous else router.embedding
    with capture() as telemetry:
        result = api.wait(method(model="embed", input=["a", "b"]))

    span = telemetry.span()
    assert span.name == "embeddings mistral-embed"
    assert span.attributes["gen_ai.usage.input_tokens"] == result.usage.prompt_tokens
