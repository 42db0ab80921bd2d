"""Budgets that act before they block, for every provider and every call shape tokentrail
patches: once a budget's window passes ``at`` x limit, the request that reaches the provider
has the cheaper model (``downgrade``) or the capped output (``clamp``); the span says what
changed; the metrics count the model that ran; the caller's lower cap is kept; a
``budget_action`` alert fires once per budget and window.

Each shape below makes one call with the fakes (sync or async, plain or streamed, helpers)
and reads back what reached the fake: the model and the output cap of the last request."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pydantic
import pytest
from google.genai import types

import tokentrail
from tests.instrumentation.litellm.loops import run_litellm
from tokentrail import Budget
from tokentrail.fakes.anthropic import FakeAnthropic
from tokentrail.fakes.bedrock import FakeBedrock
from tokentrail.fakes.google_genai import FakeGemini
from tokentrail.fakes.litellm import FakeProviders
from tokentrail.fakes.mistral import FakeMistral
from tokentrail.fakes.openai import FakeOpenAI

PROMPT = "Summarise the quarterly figures in two sentences."
MESSAGES = [{"role": "user", "content": PROMPT}]


class Figures(pydantic.BaseModel):
    revenue: int
    summary: str


def run(coroutine_or_value: Any) -> Any:
    if asyncio.iscoroutine(coroutine_or_value):
        return asyncio.run(coroutine_or_value)
    return coroutine_or_value


# -- what was sent -----------------------------------------------------------------------------


def openai_sent(fake: FakeOpenAI) -> tuple[str, int | None]:
    _, body = fake.requests[-1]
    cap = body.get("max_completion_tokens", body.get("max_tokens", body.get("max_output_tokens")))
    return body["model"], cap


def anthropic_sent(fake: FakeAnthropic) -> tuple[str, int | None]:
    _, body = fake.requests[-1]
    return body["model"], body.get("max_tokens")


def mistral_sent(fake: FakeMistral) -> tuple[str, int | None]:
    _, body = fake.requests[-1]
    return body["model"], body.get("max_tokens")


def gemini_sent(fake: FakeGemini) -> tuple[str, int | None]:
    path, body = fake.requests[-1]
    model = path.rsplit("models/", 1)[1].split(":")[0]
    return model, (body.get("generationConfig") or {}).get("maxOutputTokens")


def bedrock_sent(fake: FakeBedrock) -> tuple[str, int | None]:
    from urllib.parse import unquote

    path, body = fake.requests[-1]
    model = unquote(path.split("/")[2])
    for config, cap in (("inferenceConfig", "maxTokens"), ("inferenceConfig", "max_new_tokens")):
        if cap in (body.get(config) or {}):
            return model, body[config][cap]
    return model, body.get("max_tokens", body.get("max_gen_len"))


# -- the call shapes ---------------------------------------------------------------------------


@dataclass
class Shape:
    provider: str
    name: str
    expensive: str
    cheaper: str
    fake: Callable[[], Any]
    #: (fake, model, max_tokens or None) -> makes the call (drains streams)
    call: Callable[[Any, str, int | None], Any]
    sent: Callable[[Any], tuple[str, int | None]]

    def __str__(self) -> str:
        return f"{self.provider}-{self.name}"


def _openai_chat(method: str, stream: bool = False, asynchronous: bool = False, **extra: Any):
    def call(fake: FakeOpenAI, model: str, cap: int | None) -> Any:
        kwargs = {"model": model, "messages": MESSAGES, **extra}
        if cap is not None:
            kwargs["max_tokens"] = cap
        if method == "stream":
            if asynchronous:

                async def helper() -> Any:
                    async with fake.async_client().chat.completions.stream(**kwargs) as s:
                        return [e async for e in s]

                return asyncio.run(helper())
            with fake.client().chat.completions.stream(**kwargs) as s:
                return list(s)
        client = fake.async_client() if asynchronous else fake.client()
        if stream:
            kwargs["stream"] = True
        result = getattr(client.chat.completions, method)(**kwargs)
        if asynchronous:

            async def drain() -> Any:
                value = await result
                return [c async for c in value] if stream else value

            return asyncio.run(drain())
        return list(result) if stream else result

    return call


def _openai_responses(stream: bool = False, helper: bool = False):
    def call(fake: FakeOpenAI, model: str, cap: int | None) -> Any:
        kwargs: dict[str, Any] = {"model": model, "input": PROMPT}
        if cap is not None:
            kwargs["max_output_tokens"] = cap
        client = fake.client()
        if helper:
            with client.responses.stream(**kwargs) as s:
                return list(s)
        result = client.responses.create(**kwargs, stream=stream)
        return list(result) if stream else result

    return call


def _anthropic(how: str, asynchronous: bool = False):
    def call(fake: FakeAnthropic, model: str, cap: int | None) -> Any:
        kwargs = {"model": model, "messages": MESSAGES, "max_tokens": cap or 1024}
        client = fake.async_client() if asynchronous else fake.client()
        if how == "helper":
            if asynchronous:

                async def helper() -> Any:
                    async with client.messages.stream(**kwargs) as s:
                        return await s.get_final_message()

                return asyncio.run(helper())
            with client.messages.stream(**kwargs) as s:
                return s.get_final_message()
        if how == "stream":
            kwargs["stream"] = True
        result = getattr(client.messages, "parse" if how == "parse" else "create")(**kwargs)
        if asynchronous:

            async def drain() -> Any:
                value = await result
                return [e async for e in value] if how == "stream" else value

            return asyncio.run(drain())
        return list(result) if how == "stream" else result

    return call


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def _gemini(how: str, asynchronous: bool = False):
    def call(fake: FakeGemini, model: str, cap: int | None) -> Any:
        client = fake.client()
        models = client.aio.models if asynchronous else client.models
        tools = [get_weather] if how == "afc" else None
        config = types.GenerateContentConfig(max_output_tokens=cap, tools=tools)
        if how == "chat":
            chat = client.chats.create(model=model, config=config)
            return chat.send_message(PROMPT)
        if how == "stream":
            if asynchronous:

                async def drain() -> Any:
                    stream = await models.generate_content_stream(
                        model=model, contents=PROMPT, config=config
                    )
                    return [c async for c in stream]

                return asyncio.run(drain())
            return list(models.generate_content_stream(model=model, contents=PROMPT, config=config))
        return run(models.generate_content(model=model, contents=PROMPT, config=config))

    return call


def _bedrock(operation: str, family: str = "converse"):
    """boto3 ``bedrock-runtime`` (synchronous only): Converse's ``inferenceConfig.maxTokens``,
    or the family's own field in an ``InvokeModel`` body (a JSON string)."""

    def call(fake: FakeBedrock, model: str, cap: int | None) -> Any:
        client = fake.client()
        if operation.startswith("converse"):
            kwargs: dict[str, Any] = {"modelId": model, "messages": BEDROCK_MESSAGES}
            if cap is not None:
                kwargs["inferenceConfig"] = {"maxTokens": cap}
            if operation == "converse_stream":
                return list(client.converse_stream(**kwargs)["stream"])
            return client.converse(**kwargs)
        body: dict[str, Any] = {
            "anthropic": {"anthropic_version": "bedrock-2023-05-31", "messages": MESSAGES,
                          "max_tokens": cap or 1024},
            "meta": {"prompt": PROMPT, **({"max_gen_len": cap} if cap else {})},
            "nova": {"messages": BEDROCK_MESSAGES,
                     "inferenceConfig": {"max_new_tokens": cap} if cap else {}},
        }[family]  # fmt: skip
        kwargs = {"modelId": model, "body": json.dumps(body)}
        if operation == "invoke_model_stream":
            return list(client.invoke_model_with_response_stream(**kwargs)["body"])
        return client.invoke_model(**kwargs)["body"].read()

    return call


def _litellm(route: str, stream: bool = False, asynchronous: bool = False, router: bool = False):
    """LiteLLM's ``completion``/``acompletion`` (or a ``Router`` of one deployment) with the
    model of the ``route`` provider; ``model`` is the provider's name, as budgets see it."""

    def call(fakes: FakeProviders, model: str, cap: int | None) -> Any:
        import litellm

        target = fakes.route(f"{route}/{model}", max_retries=0)
        if route == "openai":  # api.openai.com, through a client; the cap as the new argument
            client = fakes.openai.async_client() if asynchronous else fakes.openai.client()
            target = {"model": model, "client": client, "max_retries": 0}
        kwargs: dict[str, Any] = {"messages": MESSAGES, "stream": stream, **target}
        if cap is not None:
            kwargs["max_completion_tokens" if route == "openai" else "max_tokens"] = cap
        functions: Any = litellm
        if router:
            functions = litellm.Router(
                model_list=[{"model_name": "smart", "litellm_params": target}]
            )
            kwargs["model"] = "smart"
        if not asynchronous:
            result = functions.completion(**kwargs)
            return list(result) if stream else result

        async def drain() -> Any:
            result = await functions.acompletion(**kwargs)
            return [c async for c in result] if stream else result

        return run_litellm(drain())

    return call


def _mistral(resource: str, how: str, asynchronous: bool = False):
    def call(fake: FakeMistral, model: str, cap: int | None) -> Any:
        kwargs: dict[str, Any] = {"model": model}
        if resource == "fim":
            kwargs.update(prompt="def total(rows):", suffix="return result")
        else:
            kwargs["messages"] = MESSAGES
        if cap is not None:
            kwargs["max_tokens"] = cap
        if how == "parse":
            kwargs["response_format"] = Figures
        methods = getattr(fake.client(), resource)
        method = getattr(methods, how + ("_async" if asynchronous else ""))
        if asynchronous:

            async def drain() -> Any:
                value = await method(**kwargs)
                return [e async for e in value] if how == "stream" else value

            return asyncio.run(drain())
        return list(method(**kwargs)) if how == "stream" else method(**kwargs)

    return call


BEDROCK_MESSAGES = [{"role": "user", "content": [{"text": PROMPT}]}]


def _sent_through(provider: str, sent: Callable[[Any], tuple[str, int | None]]):
    return lambda fakes: sent(fakes.fake(provider))


OPENAI = ("openai", "gpt-4o", "gpt-4o-mini", FakeOpenAI, openai_sent)
MISTRAL = ("mistral_ai", "mistral-large-latest", "mistral-small-latest", FakeMistral, mistral_sent)
#: fill-in-the-middle models (the fake serves any model on any endpoint)
CODESTRAL = ("mistral_ai", "codestral-latest", "devstral-small", FakeMistral, mistral_sent)
ANTHROPIC = ("anthropic", "claude-opus-4-1", "claude-haiku-4-5", FakeAnthropic, anthropic_sent)
GEMINI = ("gcp.gemini", "gemini-2.5-pro", "gemini-2.5-flash", FakeGemini, gemini_sent)
CLAUDE_ON_BEDROCK = (
    "aws.bedrock",
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "us.anthropic.claude-haiku-4-5-20251001-v1:0",
    FakeBedrock,
    bedrock_sent,
)
LLAMA_ON_BEDROCK = (
    "aws.bedrock",
    "meta.llama3-1-70b-instruct-v1:0",
    "meta.llama3-1-8b-instruct-v1:0",
    FakeBedrock,
    bedrock_sent,
)
NOVA_ON_BEDROCK = (
    "aws.bedrock",
    "amazon.nova-pro-v1:0",
    "amazon.nova-lite-v1:0",
    FakeBedrock,
    bedrock_sent,
)
LITELLM_ANTHROPIC = ("litellm", "claude-opus-4-1", "claude-haiku-4-5", FakeProviders,
                     _sent_through("anthropic", anthropic_sent))  # fmt: skip
LITELLM_OPENAI = ("litellm", "gpt-4o", "gpt-4o-mini", FakeProviders,
                  _sent_through("openai", openai_sent))  # fmt: skip


def _shape(provider: tuple, name: str, call: Callable) -> Shape:
    label, expensive, cheaper, fake, sent = provider
    return Shape(label, name, expensive, cheaper, fake, call, sent)


SHAPES = [
    _shape(OPENAI, "chat", _openai_chat("create")),
    _shape(OPENAI, "chat-stream", _openai_chat("create", stream=True)),
    _shape(OPENAI, "chat-async", _openai_chat("create", asynchronous=True)),
    _shape(OPENAI, "chat-async-stream", _openai_chat("create", stream=True, asynchronous=True)),
    _shape(OPENAI, "chat-parse", _openai_chat("parse", response_format=Figures)),
    _shape(OPENAI, "chat-stream-helper", _openai_chat("stream")),
    _shape(OPENAI, "chat-stream-helper-async", _openai_chat("stream", asynchronous=True)),
    _shape(OPENAI, "responses", _openai_responses()),
    _shape(OPENAI, "responses-stream", _openai_responses(stream=True)),
    _shape(OPENAI, "responses-stream-helper", _openai_responses(helper=True)),
    _shape(ANTHROPIC, "create", _anthropic("create")),
    _shape(ANTHROPIC, "stream", _anthropic("stream")),
    _shape(ANTHROPIC, "async", _anthropic("create", asynchronous=True)),
    _shape(ANTHROPIC, "parse", _anthropic("parse")),
    _shape(ANTHROPIC, "stream-helper", _anthropic("helper")),
    _shape(ANTHROPIC, "stream-helper-async", _anthropic("helper", asynchronous=True)),
    _shape(MISTRAL, "chat", _mistral("chat", "complete")),
    _shape(MISTRAL, "chat-stream", _mistral("chat", "stream")),
    _shape(MISTRAL, "chat-async", _mistral("chat", "complete", asynchronous=True)),
    _shape(MISTRAL, "chat-async-stream", _mistral("chat", "stream", asynchronous=True)),
    _shape(MISTRAL, "chat-parse", _mistral("chat", "parse")),
    _shape(CODESTRAL, "fim", _mistral("fim", "complete")),
    _shape(CODESTRAL, "fim-async-stream", _mistral("fim", "stream", asynchronous=True)),
    _shape(GEMINI, "generate", _gemini("generate")),
    _shape(GEMINI, "stream", _gemini("stream")),
    _shape(GEMINI, "async", _gemini("generate", asynchronous=True)),
    _shape(GEMINI, "async-stream", _gemini("stream", asynchronous=True)),
    _shape(GEMINI, "chat", _gemini("chat")),
    _shape(GEMINI, "afc", _gemini("afc")),
    _shape(CLAUDE_ON_BEDROCK, "converse", _bedrock("converse")),
    _shape(CLAUDE_ON_BEDROCK, "converse-stream", _bedrock("converse_stream")),
    _shape(CLAUDE_ON_BEDROCK, "invoke-model", _bedrock("invoke_model", "anthropic")),
    _shape(CLAUDE_ON_BEDROCK, "invoke-model-stream", _bedrock("invoke_model_stream", "anthropic")),
    _shape(LLAMA_ON_BEDROCK, "invoke-model-llama", _bedrock("invoke_model", "meta")),
    _shape(NOVA_ON_BEDROCK, "invoke-model-nova", _bedrock("invoke_model", "nova")),
    _shape(LITELLM_ANTHROPIC, "anthropic", _litellm("anthropic")),
    _shape(LITELLM_ANTHROPIC, "anthropic-stream", _litellm("anthropic", stream=True)),
    _shape(LITELLM_ANTHROPIC, "anthropic-async", _litellm("anthropic", asynchronous=True)),
    _shape(
        LITELLM_ANTHROPIC,
        "anthropic-async-stream",
        _litellm("anthropic", stream=True, asynchronous=True),
    ),
    _shape(LITELLM_ANTHROPIC, "router", _litellm("anthropic", router=True)),
    _shape(
        LITELLM_ANTHROPIC, "router-async", _litellm("anthropic", asynchronous=True, router=True)
    ),
    _shape(LITELLM_OPENAI, "openai", _litellm("openai")),
    _shape(
        LITELLM_OPENAI, "openai-async-stream", _litellm("openai", stream=True, asynchronous=True)
    ),
]


@pytest.fixture(params=SHAPES, ids=str)
def shape(request) -> Shape:
    return request.param


def _instrumented(telemetry, budgets, alerts):
    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        budgets=budgets,
        alert_sinks=[alerts.append],
    )


def _first_call_then_act(telemetry, shape: Shape, budget_kwargs: dict, cap: int | None = None):
    """One call on the expensive model fills the window past ``at``; the second is acted on.
    Returns (what the first call sent, what the second sent, its spans, the alerts)."""
    fake = shape.fake()
    alerts: list = []
    budget = Budget("acting", "0.000001", "day", **budget_kwargs)  # any call passes at=0.8
    _instrumented(telemetry, [budget], alerts)
    try:
        shape.call(fake, shape.expensive, cap)
        first = len(telemetry.spans())
        before = shape.sent(fake)
        shape.call(fake, shape.expensive, cap)
        assert tokentrail.flush(5)
    finally:
        tokentrail.uninstrument()
        if hasattr(fake, "close"):  # a fake on a loopback server (Bedrock): its record stays
            fake.close()
    return before, shape.sent(fake), telemetry.spans()[first:], alerts


def test_downgrade_sends_the_cheaper_model(telemetry, shape):
    mapping = {shape.expensive: shape.cheaper}
    before, sent, spans, alerts = _first_call_then_act(
        telemetry, shape, {"action": "downgrade", "downgrade": mapping}, cap=300
    )
    assert before == (shape.expensive, 300)
    assert sent == (shape.cheaper, 300)
    billed = [s for s in spans if "tokentrail.cost.status" in s.attributes]
    assert billed, [s.name for s in spans]
    for span in billed:
        assert span.attributes["gen_ai.request.model"] == shape.cheaper
    changed = [s for s in spans if "tokentrail.budget.action" in s.attributes]
    assert len(changed) == 1  # the user's call (a Gemini AFC call's requests are its children)
    (span,) = changed
    assert span.name.endswith(shape.cheaper)
    assert span.attributes["tokentrail.budget.action"] == "downgrade"
    assert span.attributes["tokentrail.budget.name"] == "acting"
    assert span.attributes["tokentrail.request.model.original"] == shape.expensive
    counted = telemetry.points("tokentrail.requests")
    by_model = {p.attributes["gen_ai.request.model"] for p in counted}
    assert by_model == {shape.expensive, shape.cheaper}
    actions = [a for a in alerts if a.kind == "budget_action"]
    assert len(actions) == 1
    assert actions[0].severity == "warning"
    assert actions[0].action == f"downgrade {shape.expensive} to {shape.cheaper}"


def test_clamp_caps_the_output(telemetry, shape):
    before, sent, spans, alerts = _first_call_then_act(
        telemetry, shape, {"action": "clamp", "max_output_tokens": 64}, cap=300
    )
    assert before == (shape.expensive, 300)
    assert sent == (shape.expensive, 64)
    (span,) = [s for s in spans if "tokentrail.budget.action" in s.attributes]
    assert span.attributes["tokentrail.budget.action"] == "clamp"
    assert span.attributes["gen_ai.request.max_tokens"] == 64
    assert span.attributes["tokentrail.request.max_tokens.original"] == 300
    assert [a.action for a in alerts if a.kind == "budget_action"] == [
        "cap the output at 64 tokens"
    ]


def test_clamp_never_raises_a_lower_cap(telemetry, shape):
    _, sent, spans, alerts = _first_call_then_act(
        telemetry, shape, {"action": "clamp", "max_output_tokens": 64}, cap=20
    )
    assert sent == (shape.expensive, 20)
    assert not any("tokentrail.budget.action" in s.attributes for s in spans)
    assert not [a for a in alerts if a.kind == "budget_action"]


# -- decisions, independent of the call shape --------------------------------------------------


@pytest.fixture
def openai_fake():
    return FakeOpenAI()


def chat(fake, model="gpt-4o", **kwargs):
    return fake.client().chat.completions.create(model=model, messages=MESSAGES, **kwargs)


def test_nothing_happens_below_the_threshold(telemetry, openai_fake):
    budget = Budget("acting", 100, "day", action="downgrade", downgrade={"gpt-4o": "gpt-4o-mini"})
    _instrumented(telemetry, [budget], [])
    try:
        chat(openai_fake)
        chat(openai_fake)
    finally:
        tokentrail.uninstrument()
    assert [body["model"] for _, body in openai_fake.requests] == ["gpt-4o", "gpt-4o"]


def test_globs_and_functions_map_models(telemetry, openai_fake):
    globbed = Budget(
        "globbed", "0.000001", "day", action="downgrade", downgrade={"gpt-4o*": "gpt-4o-mini"}
    )
    _instrumented(telemetry, [globbed], [])
    try:
        chat(openai_fake, model="gpt-4o-2024-08-06")
        chat(openai_fake, model="gpt-4o-2024-08-06")
    finally:
        tokentrail.uninstrument()
    function = Budget(
        "function",
        "0.000001",
        "day",
        action="downgrade",
        downgrade=lambda model: "gpt-4.1-nano" if model.startswith("gpt-4.1") else None,
    )
    _instrumented(telemetry, [function], [])
    try:
        chat(openai_fake, model="gpt-4.1")
        chat(openai_fake, model="gpt-4.1")
        chat(openai_fake, model="gpt-4o")  # the function maps nothing else
    finally:
        tokentrail.uninstrument()
    assert [body["model"] for _, body in openai_fake.requests] == [
        "gpt-4o-2024-08-06",
        "gpt-4o-mini",
        "gpt-4.1",
        "gpt-4.1-nano",
        "gpt-4o",
    ]


def test_an_unmapped_or_unpriced_target_is_left_alone_and_warned_once(
    telemetry, openai_fake, caplog
):
    budget = Budget(
        "acting",
        "0.000001",
        "day",
        action="downgrade",
        downgrade={"gpt-4o": "acme-cheap-ft"},
    )
    _instrumented(telemetry, [budget], [])
    try:
        for _ in range(3):
            chat(openai_fake)
            chat(openai_fake, model="gpt-4.1")
    finally:
        tokentrail.uninstrument()
    assert {body["model"] for _, body in openai_fake.requests} == {"gpt-4o", "gpt-4.1"}
    warnings = [r.getMessage() for r in caplog.records if "leaves calls to" in r.getMessage()]
    assert len(warnings) == 2, warnings
    assert any("'acme-cheap-ft' has no known price" in w for w in warnings)
    assert any("no cheaper model" in w for w in warnings)


def test_the_most_restrictive_action_wins(telemetry, openai_fake):
    """block > downgrade > clamp > alert: a call that two acting budgets match is downgraded
    (not clamped); a blocking budget that has no room refuses it whatever the others say."""
    budgets = [
        Budget("clamping", "0.000001", "day", action="clamp", max_output_tokens=16),
        Budget(
            "downgrading",
            "0.000001",
            "day",
            action="downgrade",
            downgrade={"gpt-4o": "gpt-4o-mini"},
        ),
        Budget("guard", "1", "day", action="block", match={"feature": "capped"}),
    ]
    _instrumented(telemetry, budgets, [])
    try:
        chat(openai_fake, max_tokens=300)
        chat(openai_fake, max_tokens=300)
        with tokentrail.attribute(feature="capped"):
            chat(openai_fake, max_tokens=300)  # the downgraded worst case fits the guard
        tokentrail.uninstrument()
        budgets[2] = Budget("guard", "0.0000001", "day", action="block")
        _instrumented(telemetry, budgets, [])
        with pytest.raises(tokentrail.BudgetExceededError):
            chat(openai_fake, max_tokens=300)
    finally:
        tokentrail.uninstrument()
    sent = [(body["model"], body.get("max_tokens")) for _, body in openai_fake.requests]
    assert sent == [("gpt-4o", 300), ("gpt-4o-mini", 300), ("gpt-4o-mini", 300)]


def test_a_list_in_match_covers_any_of_its_values(telemetry, openai_fake):
    budget = Budget(
        "non-critical",
        "0.000001",
        "day",
        match={"feature": ["digest", "suggestions"]},
        action="downgrade",
        downgrade={"gpt-4o": "gpt-4o-mini"},
    )
    _instrumented(telemetry, [budget], [])
    try:
        for feature in ("digest", "suggestions", "checkout", "digest"):
            with tokentrail.attribute(feature=feature):
                chat(openai_fake)
    finally:
        tokentrail.uninstrument()
    assert [body["model"] for _, body in openai_fake.requests] == [
        "gpt-4o",
        "gpt-4o-mini",
        "gpt-4o",
        "gpt-4o-mini",
    ]


def test_clamp_fit_caps_the_output_to_what_is_left(telemetry):
    """``max_output_tokens="fit"``: the cap is what the budget has left after the prompt, at
    the model's output price."""
    fake = FakeOpenAI(usage={"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100})
    # gpt-4o: $2.50/M in, $10/M out; one call costs $0.0035; limit $0.004 leaves $0.0005,
    # of which the prompt (~13 tokens) takes ~$0.0000325: about 46 output tokens
    budget = Budget("fit", "0.004", "day", action="clamp", max_output_tokens="fit", at=0.5)
    _instrumented(telemetry, [budget], [])
    try:
        chat(fake, max_tokens=1000)
        chat(fake, max_tokens=1000)
    finally:
        tokentrail.uninstrument()
    cap = fake.requests[-1][1]["max_tokens"]
    assert 40 <= cap <= 50, cap


def test_concurrent_calls_around_the_threshold_stay_within_the_bound(telemetry):
    """8 threads call as the window crosses ``at``: the expensive model is sent at most once
    per thread beyond the call that crossed it (the documented bound: calls already deciding
    or in flight when the threshold is crossed finish on the model they were sent to)."""
    from concurrent.futures import ThreadPoolExecutor

    fake = FakeOpenAI(
        usage={"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100}, latency=0.002
    )
    # each gpt-4o call costs $0.0035: the 10th crosses at x limit = $0.035
    budget = Budget(
        "acting", "0.04375", "day", action="downgrade", downgrade={"gpt-4o": "gpt-4o-mini"}
    )
    _instrumented(telemetry, [budget], [])
    try:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _: chat(fake), range(80)))
    finally:
        tokentrail.uninstrument()
    expensive = [body for _, body in fake.requests if body["model"] == "gpt-4o"]
    assert 10 <= len(expensive) <= 10 + 8, len(expensive)


def test_budgets_files_take_the_actions(tmp_path, telemetry, openai_fake):
    path = tmp_path / "budgets.yaml"
    path.write_text(
        "budgets:\n"
        "  - name: downgrade-non-critical\n"
        "    limit_usd: 0.000001\n"
        "    window: month\n"
        "    match: {feature: [digest, suggestions]}\n"
        "    action: downgrade\n"
        "    at: 0.8\n"
        "    downgrade: {gpt-4o*: gpt-4o-mini, claude-opus-4-1: claude-haiku-4-5}\n"
        "  - name: clamp-per-user\n"
        "    limit_usd: 1\n"
        "    window: hour\n"
        "    per: user_id\n"
        "    action: clamp\n"
        "    max_output_tokens: fit\n"
    )
    budgets = tokentrail.budgets.load_budgets(str(path))
    assert [b.action for b in budgets] == ["downgrade", "clamp"]
    assert budgets[0].match == {"feature": ("digest", "suggestions")}
    assert budgets[1].max_output_tokens == "fit"
    _instrumented(telemetry, str(path), [])
    try:
        with tokentrail.attribute(feature="digest"):
            chat(openai_fake)
            chat(openai_fake)
    finally:
        tokentrail.uninstrument()
    assert [body["model"] for _, body in openai_fake.requests] == ["gpt-4o", "gpt-4o-mini"]


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ({"action": "downgrade"}, "field 'action': action='downgrade' needs downgrade="),
        ({"action": "clamp", "max_output_tokens": "lots"}, "field 'action'"),
        ({"downgrade": {"a": "b"}}, "field 'downgrade'"),
        ({"action": "clamp", "max_output_tokens": 5, "at": 2}, "field 'at'"),
    ],
)
def test_a_wrong_action_field_in_a_file_names_file_entry_and_field(tmp_path, entry, fragment):
    import yaml

    path = tmp_path / "budgets.yaml"
    path.write_text(
        yaml.safe_dump({"budgets": [{"name": "x", "limit_usd": 1, "window": "day", **entry}]})
    )
    with pytest.raises(tokentrail.ConfigurationError) as info:
        tokentrail.budgets.load_budgets(str(path))
    message = str(info.value)
    assert str(path) in message
    assert "budgets[0] (budget 'x')" in message
    assert fragment in message
