"""The mistralai cases of the reliability tests (tests/reliability/cases.py): what applications
do with the SDK (one ``Mistral`` client has the sync methods and their ``*_async`` twins), and
how its calls fail."""

from __future__ import annotations

from typing import Any

from tests.reliability.cases import FAILURE_KINDS, PROMPT, AppError, Env, Loop, fail_transport
from tokentrail.fakes.mistral import FakeMistral

MODEL = "mistral-small-latest"
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": PROMPT}]}
FIM = {"model": "codestral-latest", "prompt": PROMPT, "suffix": "That is all."}
EMBEDDINGS = {"model": "mistral-embed", "inputs": [PROMPT]}


class Client:
    """A ``Mistral`` client whose calls are its sync methods (``loop`` None) or their
    ``*_async`` twins, as the application's flavour has it."""

    def __init__(self, fake: FakeMistral, loop: Loop) -> None:
        self.sdk = fake.client()
        self.suffix = "_async" if loop is not None else ""

    def __call__(self, method: str, **kwargs: Any) -> Any:
        """``method`` (``"chat.complete"``): the result, or a coroutine of it."""
        group, name = method.split(".")
        return getattr(getattr(self.sdk, group), name + self.suffix)(**kwargs)


def call(env: Env, method: str, arrange: Any = None, **kwargs: Any) -> Any:
    """``method`` of the env's client (a stream is returned unread); ``arrange(fake)``
    prepares a failure."""
    fake, client = env.made(
        "mistralai", lambda: FakeMistral(stream_chunks=6), lambda f: Client(f, env.loop)
    )
    if arrange is not None:
        arrange(fake)
    return env.run(client(method, **kwargs))


def chat_stream(env: Env, arrange: Any = None) -> Any:
    return call(env, "chat.stream", arrange, **CHAT)


SCENARIOS = {
    "chat": lambda env: call(env, "chat.complete", **CHAT),
    "chat.stream": lambda env: env.drain(chat_stream(env)),
    "chat.stream.closed": lambda env: env.read_then_close(chat_stream(env), 2),
    "chat.stream.dropped": lambda env: env.read_then_drop(chat_stream(env), 2),
    "chat.stream.with": lambda env: env.in_block(chat_stream(env), n=2),
    "chat.stream.app_error": lambda env: env.in_block(chat_stream(env), n=2, raise_=AppError()),
    "fim": lambda env: call(env, "fim.complete", **FIM),
    "fim.stream": lambda env: env.drain(call(env, "fim.stream", **FIM)),
    "embeddings": lambda env: call(env, "embeddings.create", **EMBEDDINGS),
    "chat.error": lambda env: call(env, "chat.complete", lambda f: f.fail_next(429), **CHAT),
    "chat.stream.error": lambda env: chat_stream(env, lambda f: f.fail_next(503)),
    "chat.stream.cut": lambda env: env.drain(
        chat_stream(env, lambda f: f.break_next_stream(after=3))
    ),
    "chat.rejected": lambda env: call(env, "chat.complete", **CHAT, bogus=1),
    "fim.error": lambda env: call(env, "fim.complete", lambda f: f.fail_next(500), **FIM),
    "fim.stream.error": lambda env: call(env, "fim.stream", lambda f: f.fail_next(502), **FIM),
    "fim.stream.cut": lambda env: env.drain(
        call(env, "fim.stream", lambda f: f.break_next_stream(after=2), **FIM)
    ),
    "embeddings.error": lambda env: call(
        env, "embeddings.create", lambda f: f.fail_next(400), **EMBEDDINGS
    ),
}


class MistralCases:
    name = "mistralai"
    provider = "mistral_ai"
    model = MODEL
    scenarios = SCENARIOS
    imported_late = ()
    asynchronous = True
    kinds = FAILURE_KINDS
    #: the SDK builds pydantic models for every request it serialises, and pydantic-core
    #: turns an interrupt during a build into a ``SchemaError``, or swallows it ("Exception
    #: ignored"): a Ctrl-C can be lost by the SDK itself, with or without tokentrail
    interruptible = False

    def fake(self, **options: Any) -> FakeMistral:
        return FakeMistral(stream_chunks=6, **options)

    def client(self, fake: FakeMistral, loop: Loop) -> Any:
        return Client(fake, loop)

    def call(self, client: Client, *, stream: bool = False) -> Any:
        return client("chat.stream" if stream else "chat.complete", **CHAT)

    def before_loop_closes(self, loop: Any) -> None:
        pass  # its async client leaves nothing running

    def fail_next(self, fake: FakeMistral, kind: str) -> None:
        if fail_transport(fake, kind):
            return
        if kind == "http_error":
            fake.fail_next(401, body={"object": "error", "type": "unauthorized", "param": None,
                                      "message": f"Unauthorized: key {fake.api_key} is invalid",
                                      "code": "1000"})  # fmt: skip
        elif kind == "dropped":
            fake.break_next_stream(after=0)
        elif kind == "cut":
            fake.break_next_stream(after=4)
        else:
            raise ValueError(kind)


CASES = MistralCases()
