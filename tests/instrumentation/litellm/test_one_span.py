"""Exactly one usage span per billable call when LiteLLM goes through an SDK that tokentrail
also instruments (the openai SDK: embeddings with an ``encoding_format``, Azure chat): the
SDK's wrapper reports nothing of a call LiteLLM's reports, in spans, metrics and budgets.

Each case is first run with the openai instrumentation alone, which shows that the call does
go through the patched openai method (one openai span), then with both.

And only that: a call is covered while LiteLLM runs it, not after (a context LiteLLM copied
for its callbacks is not covered once the call returned), and only by LiteLLM (a Gemini tool
function that calls a model inside a Gemini call is a call of its own, see
tests/instrumentation/google_genai/test_afc.py, and so is a LiteLLM call made there).
"""

from __future__ import annotations

import contextvars
from decimal import Decimal
from typing import Any

import litellm
import pytest
from litellm.integrations.custom_logger import CustomLogger

from tokentrail import Budget
from tokentrail.testing import capture

from .conftest import MESSAGES

BUDGET = "litellm-cap"


def _embed(api) -> Any:
    """Embeddings through the openai SDK's ``embeddings.create`` (LiteLLM posts directly
    unless an ``encoding_format`` is given)."""
    return api.embedding(input=["rotate keys", "billing"], encoding_format="float", **api.openai(
        "text-embedding-3-small"
    ))  # fmt: skip


def _azure_chat(api) -> Any:
    """Azure chat: ``chat.completions.with_raw_response.create`` on the client given."""
    fake = api.providers.openai
    fake.deployments["prod-4o"] = "gpt-4o"
    client = fake.azure_client(asynchronous=api.asynchronous)
    return api.completion(
        model="azure/prod-4o", messages=MESSAGES, client=client, api_version="2024-10-21",
        api_base="https://fake-resource.openai.azure.com", max_retries=0,
    )  # fmt: skip


CASES = {
    "embeddings": (_embed, "embeddings", "openai"),
    "azure": (_azure_chat, "chat", "azure.ai.openai"),
}


@pytest.fixture(params=sorted(CASES))
def case(request):
    return CASES[request.param]


def test_the_openai_sdk_is_on_the_path(api, case):
    """Without LiteLLM's instrumentation the openai SDK's wrapper reports the call."""
    call, operation, provider = case
    with capture(providers=["openai"]) as telemetry:
        call(api)

    span = telemetry.span()
    assert span.attributes["gen_ai.operation.name"] == operation
    assert span.attributes["gen_ai.provider.name"] == provider
    assert span.instrumentation_scope.name == "tokentrail"


def test_one_span_one_request_one_budget_charge(api, case):
    call, operation, provider = case
    budgets = [Budget(BUDGET, "10", "day")]
    with capture(budgets=budgets) as telemetry:
        result = call(api)

        span = telemetry.span()  # exactly one
        assert span.attributes["gen_ai.operation.name"] == operation
        assert span.attributes["gen_ai.provider.name"] == provider
        assert span.attributes["gen_ai.usage.input_tokens"] == result.usage.prompt_tokens
        cost = Decimal(str(span.attributes["gen_ai.usage.cost"]))
        assert cost > 0
        assert telemetry.value("tokentrail.requests") == 1
        assert telemetry.count("gen_ai.client.operation.duration") == 1
        assert telemetry.value("tokentrail.tokens", {"gen_ai.token.type": "input"}) == (
            result.usage.prompt_tokens
        )
        assert Decimal(str(telemetry.value("tokentrail.cost.usd"))) == pytest.approx(cost)
        spent = telemetry.value("tokentrail.budget.spent.usd", {"tokentrail.budget.name": BUDGET})
        assert Decimal(str(spent)) == pytest.approx(cost)


def test_litellms_own_fallbacks_are_one_call_priced_as_the_attempt_that_answered(
    providers, instrumented, event_loop_for_test
):
    """``fallbacks=`` on the call (not the Router): LiteLLM calls itself for each model; the
    caller's call is the one reported, with the model that answered. The failed attempt was an
    error response, not billed. (Async: the sync form runs the same code in an event loop of
    LiteLLM's own, which it closes with its logging task still pending.)"""
    providers.openai.fail_next(500)
    result = event_loop_for_test.run_until_complete(
        litellm.acompletion(
            messages=MESSAGES, fallbacks=["gpt-4o-mini"], max_retries=0,
            **providers.route("gpt-4o"),
        )
    )  # fmt: skip

    span = instrumented.span()
    assert span.attributes["gen_ai.request.model"] == "gpt-4o"
    assert span.attributes["gen_ai.response.model"] == result.model == "gpt-4o-mini-2024-07-18"
    assert span.attributes["gen_ai.usage.input_tokens"] == result.usage.prompt_tokens
    assert span.attributes["tokentrail.cost.status"] == "priced"
    assert instrumented.value("tokentrail.requests") == 1


class _KeepsContext(CustomLogger):
    """A LiteLLM callback that runs inside the call and keeps a copy of its context, as
    LiteLLM does for the callbacks it runs in threads and tasks."""

    def __init__(self) -> None:
        super().__init__()
        self.context: contextvars.Context | None = None

    def log_pre_api_call(self, model: Any, messages: Any, kwargs: Any) -> None:
        self.context = contextvars.copy_context()


def test_a_context_copied_during_the_call_is_not_covered_after_it(
    providers, instrumented, monkeypatch
):
    keeper = _KeepsContext()
    monkeypatch.setattr(litellm, "callbacks", [keeper])
    litellm.completion(messages=MESSAGES, **providers.route("anthropic/claude-haiku-4-5"))
    assert keeper.context is not None

    client = providers.openai.client()
    keeper.context.run(
        client.chat.completions.create, model="gpt-4o-mini", messages=MESSAGES, max_tokens=20
    )

    assert [s.attributes["gen_ai.provider.name"] for s in instrumented.spans()] == [
        "anthropic",
        "openai",
    ]


def test_a_litellm_call_in_a_gemini_tool_function_is_its_own_call(providers, instrumented):
    """A Gemini call with automatic function calling whose tool asks LiteLLM: the Gemini
    requests and the LiteLLM call are each counted once."""
    types = pytest.importorskip("google.genai.types")
    from tokentrail.fakes.google_genai import FakeGemini

    gemini = FakeGemini()

    def lookup(city: str) -> str:
        """The weather in a city."""
        route = providers.route("mistral/mistral-small-latest")
        answer = litellm.completion(messages=[{"role": "user", "content": city}], **route)
        return answer.choices[0].message.content

    gemini.client().models.generate_content(
        model="gemini-2.5-flash",
        contents="Weather in Lyon?",
        config=types.GenerateContentConfig(tools=[lookup]),
    )

    providers_seen = sorted(s.attributes["gen_ai.provider.name"] for s in instrumented.spans())
    assert providers_seen.count("mistral_ai") == 1
    priced = [s for s in instrumented.spans() if "gen_ai.usage.cost" in s.attributes]
    assert {s.attributes["gen_ai.provider.name"] for s in priced} == {"gcp.gemini", "mistral_ai"}
