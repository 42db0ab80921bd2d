"""The openai cases of the reliability tests (tests/reliability/cases.py): what applications do
with the SDK, and how its calls fail."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from tests.reliability.cases import PROMPT, AppError, Env, Loop, fail_transport
from tokentrail.fakes.openai import FakeOpenAI

MODEL = "gpt-4o-mini"
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": PROMPT}]}
RESPONSES = {"model": MODEL, "input": PROMPT}
EMBEDDINGS = {"model": "text-embedding-3-small", "input": PROMPT}
COMPLETIONS = {"model": "gpt-3.5-turbo-instruct", "prompt": PROMPT}


class Figures(BaseModel):
    quarter: str
    revenue: float


def client(fake: FakeOpenAI, loop: Loop) -> Any:
    return fake.async_client() if loop is not None else fake.client()


def server(env: Env, arrange: Any = None) -> tuple[FakeOpenAI, Any]:
    """The env's fake and its client; ``arrange(fake)`` prepares a failure."""
    fake, made = env.made(
        "openai", lambda: FakeOpenAI(stream_chunks=6), lambda f: client(f, env.loop)
    )
    if arrange is not None:
        arrange(fake)
    return fake, made


def call(env: Env, method: str, arrange: Any = None, **kwargs: Any) -> Any:
    """``method`` (``"chat.completions.create"``) of the env's client (a stream is returned
    unread)."""
    target: Any = server(env, arrange)[1]
    for name in method.split("."):
        target = getattr(target, name)
    return env.run(target(**kwargs))


def streamed(env: Env, method: str, arrange: Any = None, **kwargs: Any) -> list[Any]:
    return env.drain(call(env, method, arrange, stream=True, **kwargs))


def embed(env: Env, arrange: Any = None) -> Any:
    """Embeddings through a new client: its first use imports the SDK's embeddings module,
    which the reliability tests keep unimported until then (``imported_late``)."""
    fake = server(env, arrange)[0]
    return env.run(client(fake, env.loop).embeddings.create(**EMBEDDINGS))


def chat_stream(env: Env) -> Any:
    return call(env, "chat.completions.create", **CHAT, stream=True)


def helper(env: Env, method: str, final: str, **kwargs: Any) -> tuple[list[Any], Any]:
    """A ``.stream()`` helper used as documented: its events and its final result."""
    manager = call(env, method, **kwargs)
    if env.loop is None:
        with manager as stream:
            return list(stream), getattr(stream, final)()

    async def use() -> tuple[list[Any], Any]:
        async with manager as stream:
            return [event async for event in stream], await getattr(stream, final)()

    return env.loop.run_until_complete(use())


SCENARIOS = {
    "chat": lambda env: call(env, "chat.completions.create", **CHAT),
    "chat.parse": lambda env: call(env, "chat.completions.parse", **CHAT, response_format=Figures),
    "chat.stream": lambda env: streamed(env, "chat.completions.create", **CHAT),
    "chat.stream.usage": lambda env: streamed(
        env, "chat.completions.create", **CHAT, stream_options={"include_usage": True}
    ),
    "chat.stream.closed": lambda env: env.read_then_close(chat_stream(env), 2),
    "chat.stream.dropped": lambda env: env.read_then_drop(chat_stream(env), 2),
    "chat.stream.with": lambda env: env.in_block(chat_stream(env), n=2),
    "chat.stream.app_error": lambda env: env.in_block(chat_stream(env), n=2, raise_=AppError()),
    "chat.stream.helper": lambda env: helper(
        env, "chat.completions.stream", "get_final_completion", **CHAT
    ),
    "responses": lambda env: call(env, "responses.create", **RESPONSES),
    "responses.stream": lambda env: streamed(env, "responses.create", **RESPONSES),
    "responses.stream.helper": lambda env: helper(
        env, "responses.stream", "get_final_response", **RESPONSES
    ),
    "embeddings": lambda env: embed(env),
    "completions": lambda env: call(env, "completions.create", **COMPLETIONS),
    "completions.stream": lambda env: streamed(env, "completions.create", **COMPLETIONS),
    "chat.error": lambda env: call(
        env, "chat.completions.create", lambda f: f.fail_next(500), **CHAT
    ),
    "chat.stream.cut": lambda env: streamed(
        env, "chat.completions.create", lambda f: f.break_next_stream(after=3), **CHAT
    ),
    "chat.rejected": lambda env: call(env, "chat.completions.create", **CHAT, bogus=1),
    "responses.error": lambda env: call(
        env, "responses.create", lambda f: f.fail_next(429), **RESPONSES
    ),
    "embeddings.error": lambda env: embed(env, lambda f: f.fail_next(503)),
    "completions.error": lambda env: call(
        env, "completions.create", lambda f: f.fail_next(400), **COMPLETIONS
    ),
}


class OpenAICases:
    name = "openai"
    provider = "openai"
    model = MODEL
    scenarios = SCENARIOS
    imported_late = ("openai.resources.embeddings",)

    def fake(self, **options: Any) -> FakeOpenAI:
        return FakeOpenAI(stream_chunks=6, **options)

    def client(self, fake: FakeOpenAI, loop: Loop) -> Any:
        return client(fake, loop)

    def call(self, client: Any, *, stream: bool = False) -> Any:
        return client.chat.completions.create(**CHAT, stream=stream)

    def fail_next(self, fake: FakeOpenAI, kind: str) -> None:
        if fail_transport(fake, kind):
            return
        if kind == "http_error":
            message = f"Incorrect API key provided: {fake.api_key}."
            body = {"error": {"message": message, "type": "invalid_request_error",
                              "code": "invalid_api_key"}}  # fmt: skip
            fake.fail_next(401, body=body)
        elif kind == "dropped":
            fake.break_next_stream(after=0)
        elif kind == "cut":
            fake.break_next_stream(after=4)
        else:
            raise ValueError(kind)


CASES = OpenAICases()
