"""The google-genai cases of the reliability tests (tests/reliability/cases.py): what
applications do with the SDK (automatic function calling and continued answers included),
and how its calls fail."""

from __future__ import annotations

from typing import Any

from google.genai import types

from tests.reliability.cases import PROMPT, AppError, Env, Loop, fail_transport
from tokentrail.fakes.google_genai import FakeGemini

MODEL = "gemini-2.5-flash"


def get_weather(city: str) -> str:
    """The weather in a city (a tool for automatic function calling)."""
    return f"sunny and 21 degrees in {city}"


AFC = types.GenerateContentConfig(tools=[get_weather])


def models(fake: FakeGemini, loop: Loop) -> Any:
    client = fake.client()
    return client.aio.models if loop is not None else client.models


def server(env: Env, arrange: Any = None, hops: int = 1) -> Any:
    """The env's ``genai.Client`` of a fake answering over ``hops`` requests;
    ``arrange(fake)`` prepares a failure."""
    fake, client = env.made(
        ("google_genai", hops),
        lambda: FakeGemini(stream_chunks=4, continuation_hops=hops),
        lambda f: f.client(),
    )
    if arrange is not None:
        arrange(fake)
    return client


def flavour(env: Env, client: Any) -> Any:
    return client.aio if env.loop is not None else client


def generate(env: Env, arrange: Any = None, hops: int = 1, **kwargs: Any) -> Any:
    target = flavour(env, server(env, arrange, hops)).models
    return env.run(target.generate_content(model=MODEL, contents=PROMPT, **kwargs))


def stream(env: Env, arrange: Any = None, hops: int = 1, **kwargs: Any) -> Any:
    """The stream, not read yet (async: the awaited async generator)."""
    target = flavour(env, server(env, arrange, hops)).models
    return env.run(target.generate_content_stream(model=MODEL, contents=PROMPT, **kwargs))


def read_two_then_close(env: Env) -> list[Any]:
    chunks = stream(env)
    items = env.take(chunks, 2)
    env.run(chunks.aclose()) if env.loop is not None else chunks.close()
    return items


def raise_while_reading(env: Env) -> None:
    chunks = stream(env)
    if env.loop is None:
        for _ in chunks:
            raise AppError()
        return

    async def read() -> None:
        async for _ in chunks:
            raise AppError()

    env.loop.run_until_complete(read())


def chat(env: Env, streamed: bool) -> Any:
    session = flavour(env, server(env)).chats.create(model=MODEL)
    if not streamed:
        return env.run(session.send_message(PROMPT))
    return env.drain(env.run(session.send_message_stream(PROMPT)))


def embed(env: Env, arrange: Any = None) -> Any:
    target = flavour(env, server(env, arrange)).models
    return env.run(target.embed_content(model="gemini-embedding-001", contents=PROMPT))


SCENARIOS = {
    "generate": lambda env: generate(env),
    "generate.stream": lambda env: env.drain(stream(env)),
    "generate.stream.closed": read_two_then_close,
    "generate.stream.dropped": lambda env: env.read_then_drop(stream(env), 2),
    "generate.stream.app_error": raise_while_reading,
    "embed": lambda env: embed(env),
    "afc": lambda env: generate(env, config=AFC),
    "afc.stream": lambda env: env.drain(stream(env, config=AFC)),
    "continued": lambda env: generate(env, hops=2),
    "continued.stream": lambda env: env.drain(stream(env, hops=2)),
    "chat": lambda env: chat(env, streamed=False),
    "chat.stream": lambda env: chat(env, streamed=True),
    "generate.error": lambda env: generate(env, lambda f: f.fail_next(500)),
    "generate.stream.cut": lambda env: env.drain(stream(env, lambda f: f.break_next_stream(2))),
    "embed.error": lambda env: embed(env, lambda f: f.fail_next(429)),
    "afc.error": lambda env: generate(env, lambda f: f.fail_next(503), config=AFC),
    "generate.rejected": lambda env: generate(env, bogus=1),
    "generate.stream.rejected": lambda env: stream(env, bogus=1),
}


class GeminiCases:
    name = "google_genai"
    provider = "gcp.gemini"
    model = MODEL
    scenarios = SCENARIOS
    imported_late = ()

    def fake(self, **options: Any) -> FakeGemini:
        return FakeGemini(stream_chunks=4, **options)

    def client(self, fake: FakeGemini, loop: Loop) -> Any:
        return models(fake, loop)

    def call(self, client: Any, *, stream: bool = False) -> Any:
        method = client.generate_content_stream if stream else client.generate_content
        return method(model=MODEL, contents=PROMPT)

    def fail_next(self, fake: FakeGemini, kind: str) -> None:
        if fail_transport(fake, kind):
            return
        if kind == "http_error":
            message = f"API key not valid: {fake.api_key}. Please pass a valid API key."
            body = {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}}
            fake.fail_next(400, body=body)
        elif kind == "dropped":
            fake.raise_next(fake.http().ReadError("peer closed connection"))
        elif kind == "cut":
            fake.break_next_stream(after=2)
        else:
            raise ValueError(kind)


CASES = GeminiCases()
