"""The anthropic cases of the reliability tests (tests/reliability/cases.py): what applications
do with the SDK (its own tracing on, as users get it), and how its calls fail."""

from __future__ import annotations

from typing import Any

from tests.reliability.cases import PROMPT, AppError, Env, Loop, fail_transport
from tokentrail.fakes.anthropic import FakeAnthropic

MODEL = "claude-haiku-4-5"
REQUEST = {"model": MODEL, "max_tokens": 256, "messages": [{"role": "user", "content": PROMPT}]}


def client(fake: FakeAnthropic, loop: Loop) -> Any:
    return fake.async_client() if loop is not None else fake.client()


def call(env: Env, method: str, arrange: Any = None, **kwargs: Any) -> Any:
    """``method`` (``"messages.create"``) of the env's client; ``arrange(fake)`` prepares a
    failure."""
    fake, target = env.made(
        "anthropic", lambda: FakeAnthropic(stream_chunks=6), lambda f: client(f, env.loop)
    )
    if arrange is not None:
        arrange(fake)
    for name in method.split("."):
        target = getattr(target, name)
    return env.run(target(**kwargs))


def helper(env: Env, arrange: Any = None, *, method: str = "messages.stream",
           text: bool = False) -> Any:  # fmt: skip
    """``with client.messages.stream(...) as s``: its final message (or its text stream)."""
    manager = call(env, method, arrange, **REQUEST)
    if env.loop is None:
        with manager as stream:
            return list(stream.text_stream) if text else stream.get_final_message()

    async def use() -> Any:
        async with manager as stream:
            if text:
                return [piece async for piece in stream.text_stream]
            return await stream.get_final_message()

    return env.loop.run_until_complete(use())


def stream(env: Env, arrange: Any = None) -> Any:
    return call(env, "messages.create", arrange, **REQUEST, stream=True)


SCENARIOS = {
    "create": lambda env: call(env, "messages.create", **REQUEST),
    "parse": lambda env: call(env, "messages.parse", **REQUEST),
    "beta.create": lambda env: call(env, "beta.messages.create", **REQUEST),
    "create.stream": lambda env: env.drain(stream(env)),
    "create.stream.closed": lambda env: env.read_then_close(stream(env), 3),
    "create.stream.dropped": lambda env: env.read_then_drop(stream(env), 3),
    "create.stream.with": lambda env: env.in_block(stream(env), n=3),
    "create.stream.app_error": lambda env: env.in_block(stream(env), n=3, raise_=AppError()),
    "stream.helper": lambda env: helper(env),
    "stream.helper.text": lambda env: helper(env, text=True),
    "stream.helper.left": lambda env: env.in_block(call(env, "messages.stream", **REQUEST), n=3),
    "beta.stream.helper": lambda env: helper(env, method="beta.messages.stream"),
    "create.error": lambda env: call(env, "messages.create", lambda f: f.fail_next(529), **REQUEST),
    "create.stream.cut": lambda env: env.drain(stream(env, lambda f: f.break_next_stream(after=5))),
    "stream.helper.error": lambda env: helper(env, lambda f: f.fail_next(500)),
    "create.rejected": lambda env: call(env, "messages.create", **REQUEST, bogus=1),
}


class AnthropicCases:
    name = "anthropic"
    provider = "anthropic"
    model = MODEL
    scenarios = SCENARIOS
    imported_late = ()

    def fake(self, **options: Any) -> FakeAnthropic:
        return FakeAnthropic(stream_chunks=6, **options)

    def client(self, fake: FakeAnthropic, loop: Loop) -> Any:
        return client(fake, loop)

    def call(self, client: Any, *, stream: bool = False) -> Any:
        return client.messages.create(**REQUEST, stream=stream)

    def fail_next(self, fake: FakeAnthropic, kind: str) -> None:
        if fail_transport(fake, kind):
            return
        if kind == "http_error":
            error = {
                "type": "authentication_error",
                "message": f"invalid x-api-key: {fake.api_key}",
            }
            fake.fail_next(401, body={"type": "error", "error": error})
        elif kind == "dropped":
            fake.break_next_stream(after=0)
        elif kind == "cut":
            fake.break_next_stream(after=5)
        else:
            raise ValueError(kind)


CASES = AnthropicCases()
