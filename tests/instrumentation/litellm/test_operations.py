"""Each patched LiteLLM function, sync and async, through each kind of route: the openai route
(an openai client), and LiteLLM's own HTTP code for Anthropic, Gemini and Mistral (over
loopback). One span per call, named by the model the provider is asked for, with the
provider as the semantic conventions name it, the server, usage and cost; the caller gets
LiteLLM's own result."""

from __future__ import annotations

from urllib.parse import urlsplit

import litellm
import pytest
from litellm.types.utils import EmbeddingResponse, ModelResponse

from tokentrail.instrumentation.litellm.extractors import Routes

from .conftest import MESSAGES, ROUTES

PROVIDER_NAMES = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gemini": "gcp.gemini",
    "mistral": "mistral_ai",
}


def _port(url: str) -> int:
    return urlsplit(url).port


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_each_route_is_one_span_with_provider_model_server_usage_and_cost(api, instrumented, route):
    model = ROUTES[route]
    result = api.completion(messages=MESSAGES, max_tokens=300, temperature=0.3, **api.route(model))

    assert type(result) is ModelResponse
    span = instrumented.span()
    bare = model.split("/", 1)[-1]
    attributes = span.attributes
    assert span.name == f"chat {bare}"
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == PROVIDER_NAMES[route]
    assert attributes["gen_ai.request.model"] == bare
    assert attributes["gen_ai.request.max_tokens"] == 300
    assert attributes["gen_ai.request.temperature"] == 0.3
    assert attributes["gen_ai.request.stream"] is False
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["server.port"] == _port(api.providers.url(route))
    # the model that answered, as the provider named it (the fakes answer aliases with a
    # dated snapshot where the API does)
    assert attributes["gen_ai.response.model"] == result._hidden_params.get(
        "provider_response_model", result.model
    )
    assert attributes["gen_ai.response.id"] == result.id
    assert attributes["gen_ai.usage.input_tokens"] == result.usage.prompt_tokens
    assert attributes["gen_ai.usage.output_tokens"] == result.usage.completion_tokens
    assert attributes["tokentrail.cost.status"] == "priced"
    assert attributes["gen_ai.usage.cost"] > 0
    assert (
        instrumented.value("tokentrail.requests", {"gen_ai.provider.name": PROVIDER_NAMES[route]})
        == 1
    )


def test_the_openai_route_with_a_client_names_the_clients_server(api, instrumented):
    result = api.completion(messages=MESSAGES, **api.openai())

    span = instrumented.span()
    assert span.attributes["server.address"] == "api.openai.com"
    assert span.attributes["server.port"] == 443
    assert span.attributes["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert span.attributes["gen_ai.usage.input_tokens"] == result.usage.prompt_tokens


@pytest.mark.parametrize(
    ("model", "environment", "server"),
    [
        ("anthropic/claude-haiku-4-5", {}, ("api.anthropic.com", 443)),
        ("gemini/gemini-2.5-flash", {}, ("generativelanguage.googleapis.com", 443)),
        ("gpt-4o", {"OPENAI_BASE_URL": "http://llm-proxy.internal:4000/v1"},
         ("llm-proxy.internal", 4000)),
    ],
)  # fmt: skip
def test_a_call_without_api_base_names_the_server_litellm_sends_to(
    monkeypatch, model, environment, server
):
    """No ``api_base``: the base URL LiteLLM reads from the environment, else the provider's
    public endpoint."""
    for name in ("OPENAI_BASE_URL", "OPENAI_API_BASE", "ANTHROPIC_API_BASE", "ANTHROPIC_BASE_URL",
                 "GEMINI_API_BASE"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    route = Routes().of({"model": model})

    assert (route.address, route.port) == server


def test_a_mocked_call_is_not_counted(instrumented):
    """``mock_response``: LiteLLM answers without calling any provider; nothing is billed."""
    result = litellm.completion(model="gpt-4o", messages=MESSAGES, mock_response="fine")

    assert result.choices[0].message.content == "fine"
    assert instrumented.spans() == []


@pytest.mark.parametrize("module", ["litellm", "litellm.main"])
def test_both_the_package_and_litellm_main_are_patched(providers, instrumented, module):
    functions = __import__(module, fromlist=["completion"])

    functions.completion(messages=MESSAGES, **providers.route(ROUTES["anthropic"]))

    assert instrumented.span().name == "chat claude-haiku-4-5"


def test_positional_model_and_messages(providers, instrumented):
    route = providers.route(ROUTES["mistral"])
    model = route.pop("model")

    result = litellm.completion(model, MESSAGES, **route)

    assert type(result) is ModelResponse
    assert instrumented.span().attributes["gen_ai.request.model"] == "mistral-small-latest"


def test_an_async_call_is_one_call_though_litellm_runs_completion_inside_it(
    providers, instrumented, event_loop_for_test
):
    """``acompletion`` runs ``completion(..., acompletion=True)`` in a thread; both are
    patched, the call is counted once."""
    event_loop_for_test.run_until_complete(
        litellm.acompletion(messages=MESSAGES, **providers.route(ROUTES["anthropic"]))
    )

    assert len(instrumented.spans()) == 1
    assert instrumented.value("tokentrail.requests") == 1


@pytest.mark.parametrize(
    ("route", "model", "provider"),
    [
        ("openai", "text-embedding-3-small", "openai"),
        ("gemini", "gemini/gemini-embedding-001", "gcp.gemini"),
        ("mistral", "mistral/mistral-embed", "mistral_ai"),
    ],
)
def test_embeddings(api, instrumented, route, model, provider):
    result = api.embedding(input=["how to rotate keys", "billing FAQ"], **api.route(model))

    assert type(result) is EmbeddingResponse
    span = instrumented.span()
    bare = model.split("/", 1)[-1]
    assert span.name == f"embeddings {bare}"
    assert span.attributes["gen_ai.operation.name"] == "embeddings"
    assert span.attributes["gen_ai.provider.name"] == provider
    assert span.attributes["gen_ai.usage.input_tokens"] == result.usage.prompt_tokens > 0
    assert span.attributes["gen_ai.usage.output_tokens"] == 0
    assert span.attributes["tokentrail.cost.status"] == "priced"
    # embeddings record input tokens only
    assert instrumented.count("gen_ai.client.token.usage") == 1


def test_a_model_litellm_cannot_route_is_reported_as_its_error(instrumented):
    with pytest.raises(litellm.BadRequestError):
        litellm.completion(model="no-such-model-anywhere", messages=MESSAGES)

    span = instrumented.span()
    assert span.attributes["gen_ai.provider.name"] == "litellm"
    assert span.attributes["error.type"] == "BadRequestError"
    assert span.attributes["tokentrail.cost.status"] == "priced"
    assert span.attributes.get("gen_ai.usage.cost", 0) == 0
