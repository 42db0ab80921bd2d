"""The litellm cases of the reliability tests (tests/reliability/cases.py): what applications
do with LiteLLM (``completion``/``acompletion``, plain and streamed, ``embedding``/
``aembedding``), through both kinds of route — the openai one (the openai SDK underneath,
given a client of ``FakeOpenAI``) and Anthropic's (LiteLLM's own HTTP code, to a fake on a
loopback port) — and how its calls fail.

The calls of ``call`` (billing, interrupts, soak, secrets) take the openai route: its fake
fails in every way the billing rule distinguishes, as the openai cases make it fail."""

from __future__ import annotations

from typing import Any

import litellm

from tests.instrumentation.litellm.loops import finish_logging
from tests.instrumentation.openai.reliability import CASES as OPENAI
from tests.reliability.cases import FAILURE_KINDS, PROMPT, AppError, Env, Loop
from tokentrail.fakes.litellm import FakeProviders
from tokentrail.fakes.openai import FakeOpenAI

MODEL = "gpt-4o-mini"
ANTHROPIC = "anthropic/claude-haiku-4-5"
MESSAGES = [{"role": "user", "content": PROMPT}]
#: what LiteLLM makes up for each answer or chunk: the time it was made, and (on routes
#: other than openai's) a random id
_VOLATILE = {"created", "id"}


class Client:
    """LiteLLM's functions, sync (``loop`` None) or async, with the arguments that reach the
    fakes: the openai route through a client of ``openai`` (a ``FakeOpenAI``), the others
    through ``providers`` when given."""

    def __init__(self, openai: FakeOpenAI, loop: Loop, providers: FakeProviders | None = None):
        self.asynchronous = loop is not None
        self.sdk = openai.async_client() if self.asynchronous else openai.client()
        self.providers = providers

    def __call__(self, function: str, model: str = MODEL, **kwargs: Any) -> Any:
        """``completion`` (or ``acompletion``: a coroutine) of ``model``."""
        if "/" in model:
            route = self.providers.route(model)  # type: ignore[union-attr]
        else:
            route = {"model": model, "client": self.sdk}
        name = "a" + function if self.asynchronous else function
        return getattr(litellm, name)(**route, max_retries=0, **kwargs)


class Fakes:
    """The openai fake and the other providers' (on loopback ports), reset together."""

    def __init__(self) -> None:
        self.providers = FakeProviders(stream_chunks=6)
        self.openai = self.providers.openai

    def reset(self) -> None:
        for name in ("openai", "anthropic"):
            self.providers.fake(name).reset()


def dump(value: Any) -> Any:
    """An answer, a chunk or a list of them as plain data, without what LiteLLM makes up."""
    if isinstance(value, list):
        return [dump(item) for item in value]
    data = value.model_dump(mode="json", warnings=False)
    return {key: item for key, item in data.items() if key not in _VOLATILE}


def call(env: Env, function: str, arrange: Any = None, **kwargs: Any) -> Any:
    """``function`` of the env's client (a stream is returned unread); ``arrange(fakes)``
    prepares a failure."""
    fakes, client = env.made("litellm", Fakes, lambda f: Client(f.openai, env.loop, f.providers))
    if arrange is not None:
        arrange(fakes)
    return env.run(client(function, **kwargs))


def stream(env: Env, arrange: Any = None, **kwargs: Any) -> Any:
    return call(env, "completion", arrange, messages=MESSAGES, stream=True, **kwargs)


def closed(env: Env, opened: Any) -> list[Any]:
    """Two chunks, then ``close()`` (``aclose()``: the async twin)."""
    read = env.take(opened, 2)
    env.wait(opened.aclose() if env.loop is not None else opened.close())
    return dump(read)


def embed(env: Env, arrange: Any = None) -> Any:
    return call(env, "embedding", arrange, model="text-embedding-3-small", input=[PROMPT])


def overloaded(fakes: Fakes) -> None:
    fakes.providers.anthropic.fail_next(529)


SCENARIOS = {
    "completion": lambda env: dump(call(env, "completion", messages=MESSAGES)),
    "completion.anthropic": lambda env: dump(
        call(env, "completion", model=ANTHROPIC, messages=MESSAGES)
    ),
    "completion.stream": lambda env: dump(env.drain(stream(env))),
    "completion.stream.anthropic": lambda env: dump(env.drain(stream(env, model=ANTHROPIC))),
    "completion.stream.closed": lambda env: closed(env, stream(env)),
    "completion.stream.dropped": lambda env: dump(env.read_then_drop(stream(env), 2)),
    "completion.stream.app_error": lambda env: env.in_block(stream(env), n=2, raise_=AppError()),
    "embedding": lambda env: dump(embed(env)),
    "completion.error": lambda env: call(
        env, "completion", lambda f: f.openai.fail_next(429), messages=MESSAGES
    ),
    "completion.anthropic.error": lambda env: call(
        env, "completion", overloaded, model=ANTHROPIC, messages=MESSAGES
    ),
    "completion.stream.error": lambda env: stream(env, lambda f: f.openai.fail_next(503)),
    "completion.stream.cut": lambda env: env.drain(
        stream(env, lambda f: f.openai.break_next_stream(after=3))
    ),
    "completion.rejected": lambda env: call(
        env, "completion", model=ANTHROPIC, messages=MESSAGES, frequency_penalty=0.5
    ),
    "embedding.error": lambda env: embed(env, lambda f: f.openai.fail_next(400)),
}


class LiteLLMCases:
    name = "litellm"
    provider = "openai"
    model = MODEL
    scenarios = SCENARIOS
    imported_late = ()
    asynchronous = True
    kinds = FAILURE_KINDS
    #: LiteLLM runs an event loop of its own inside a sync call (its service logging,
    #: ``loop.run_until_complete``): a Ctrl-C there leaves a coroutine never awaited (a
    #: warning at exit), and in some runs the interrupt was lost, with or without tokentrail
    interruptible = False

    def fake(self, **options: Any) -> FakeOpenAI:
        """The fake behind the openai route (``call`` takes it)."""
        return OPENAI.fake(**options)

    def client(self, fake: FakeOpenAI, loop: Loop) -> Client:
        return Client(fake, loop)

    def call(self, client: Client, *, stream: bool = False) -> Any:
        return client("completion", messages=MESSAGES, stream=stream)

    def before_loop_closes(self, loop: Any) -> None:
        loop.run_until_complete(finish_logging())

    def fail_next(self, fake: FakeOpenAI, kind: str) -> None:
        OPENAI.fail_next(fake, kind)


CASES = LiteLLMCases()
