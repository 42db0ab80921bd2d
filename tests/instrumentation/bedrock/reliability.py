"""The bedrock cases of the reliability tests (tests/reliability/cases.py): what applications
do with boto3's ``bedrock-runtime`` client, and how its calls fail.

boto3 has no async client, so the scenarios have no async flavour and no task can be
cancelled. The fake is a server on a loopback port: a refused connection is a client of a
port nothing listens on, a read timeout a client that waits less than the fake takes to
answer."""

from __future__ import annotations

import json
import socket
import weakref
from typing import Any

from botocore.config import Config

from tests.instrumentation.driver import collected
from tests.reliability.cases import FAILURE_KINDS, PROMPT, Env, Loop
from tokentrail.fakes.bedrock import FakeBedrock

MODEL = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
CONVERSE = {
    "modelId": MODEL,
    "messages": [{"role": "user", "content": [{"text": PROMPT}]}],
    "inferenceConfig": {"maxTokens": 256},
}
INVOKE = {
    "modelId": MODEL,
    "body": json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 256,
                        "messages": [{"role": "user", "content": PROMPT}]}),
}  # fmt: skip
#: what differs between two identical answers: the date and connection headers
_VOLATILE_HEADERS = {"date", "connection"}
#: the client options a failure needs (``fail_next``), by fake
_client_options: weakref.WeakKeyDictionary[FakeBedrock, dict[str, Any]] = (
    weakref.WeakKeyDictionary()
)


def answer(result: dict[str, Any]) -> dict[str, Any]:
    """What the application keeps of an answer (the metadata without the date)."""
    kept = dict(result)
    metadata = dict(kept.pop("ResponseMetadata", {}))
    headers = metadata.pop("HTTPHeaders", {})
    metadata["HTTPHeaders"] = {k: v for k, v in headers.items() if k not in _VOLATILE_HEADERS}
    return {**kept, "ResponseMetadata": metadata}


def call(env: Env, operation: str, arrange: Any = None, **kwargs: Any) -> dict[str, Any]:
    """``operation`` (``"converse"``) of the env's client, as boto3 returns it (a stream is
    in it unread); ``arrange(fake)`` prepares a failure."""
    fake, client = env.made("bedrock", lambda: FakeBedrock(stream_chunks=6), lambda f: f.client())
    if arrange is not None:
        arrange(fake)
    return getattr(client, operation)(**kwargs)


def events(stream: Any, n: int | None = None) -> list[Any]:
    """The stream's events (``n`` of them, the stream left open)."""
    found = []
    for event in stream:
        found.append(event)
        if len(found) == n:
            break
    return found


def drained(env: Env, operation: str, key: str, arrange: Any = None, **kwargs: Any) -> Any:
    result = call(env, operation, arrange, **kwargs)
    return answer({**result, key: events(result[key])})


def closed(env: Env, operation: str, key: str, **kwargs: Any) -> Any:
    """Two events, then ``close()``."""
    result = call(env, operation, **kwargs)
    read = events(result[key], 2)
    result[key].close()
    return answer({**result, key: read})


def dropped(env: Env, operation: str, key: str, **kwargs: Any) -> Any:
    """Two events, then the stream is dropped and collected."""
    result = call(env, operation, **kwargs)
    read = events(result.pop(key), 2)
    collected()
    return answer({**result, key: read})


def invoked(env: Env, arrange: Any = None, *, read: str = "all") -> Any:
    """``invoke_model``, its body read all at once, in a ``with`` block, or part of it
    before ``close()``."""
    result = call(env, "invoke_model", arrange, **INVOKE)
    body = result["body"]
    if read == "all":
        content = json.loads(body.read())
    elif read == "with":
        with body as opened:
            content = json.loads(opened.read())
    else:
        content = body.read(16).decode()
        body.close()
    return answer({**result, "body": content})


def model_failed(fake: FakeBedrock) -> None:
    """The next stream ends, after two events, with the model's error event."""
    error = {"type": "modelStreamErrorException", "message": "the model failed mid-answer"}
    fake.break_next_stream(after=2, error=error)


SCENARIOS = {
    "converse": lambda env: answer(call(env, "converse", **CONVERSE)),
    "converse_stream": lambda env: drained(env, "converse_stream", "stream", **CONVERSE),
    "converse_stream.closed": lambda env: closed(env, "converse_stream", "stream", **CONVERSE),
    "converse_stream.dropped": lambda env: dropped(env, "converse_stream", "stream", **CONVERSE),
    "invoke_model": lambda env: invoked(env),
    "invoke_model.with": lambda env: invoked(env, read="with"),
    "invoke_model.part_closed": lambda env: invoked(env, read="part"),
    "invoke_model_stream": lambda env: drained(
        env, "invoke_model_with_response_stream", "body", **INVOKE
    ),
    "invoke_model_stream.closed": lambda env: closed(
        env, "invoke_model_with_response_stream", "body", **INVOKE
    ),
    "invoke_model_stream.dropped": lambda env: dropped(
        env, "invoke_model_with_response_stream", "body", **INVOKE
    ),
    "converse.error": lambda env: call(env, "converse", lambda f: f.fail_next(429), **CONVERSE),
    "converse_stream.error": lambda env: call(
        env, "converse_stream", lambda f: f.fail_next(503), **CONVERSE
    ),
    "converse_stream.cut": lambda env: drained(
        env, "converse_stream", "stream", lambda f: f.break_next_stream(after=3), **CONVERSE
    ),
    "converse.rejected": lambda env: call(env, "converse", modelId=MODEL, messages="hi"),
    "invoke_model.error": lambda env: invoked(env, lambda f: f.fail_next(400)),
    "invoke_model_stream.error": lambda env: call(
        env, "invoke_model_with_response_stream", lambda f: f.fail_next(500), **INVOKE
    ),
    "invoke_model_stream.cut": lambda env: drained(
        env, "invoke_model_with_response_stream", "body", model_failed, **INVOKE
    ),
}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class BedrockCases:
    name = "bedrock"
    provider = "aws.bedrock"
    model = MODEL
    scenarios = SCENARIOS
    imported_late = ()
    asynchronous = False
    kinds = FAILURE_KINDS
    interruptible = True

    def fake(self, **options: Any) -> FakeBedrock:
        return FakeBedrock(stream_chunks=6, **options)

    def client(self, fake: FakeBedrock, loop: Loop) -> Any:
        assert loop is None, "boto3 has no async client"
        options = _client_options.get(fake, {})
        config = Config(retries={"total_max_attempts": 1}, **options.get("config", {}))
        return fake.client(config=config, **options.get("client", {}))

    def call(self, client: Any, *, stream: bool = False) -> Any:
        """``converse``, or the event stream of ``converse_stream``."""
        if stream:
            return client.converse_stream(**CONVERSE)["stream"]
        return client.converse(**CONVERSE)

    def before_loop_closes(self, loop: Any) -> None:
        raise AssertionError("boto3 has no async client")

    def fail_next(self, fake: FakeBedrock, kind: str) -> None:
        if kind == "http_error":
            # AWS names the access key it does not know (UnrecognizedClientException)
            fake.fail_next(403, body={"message": "The security token included in the request "
                                      f"is invalid: {fake.access_key_id}"})  # fmt: skip
        elif kind == "refused":
            port = _closed_port()
            _client_options[fake] = {"client": {"endpoint_url": f"http://127.0.0.1:{port}"}}
        elif kind == "read_timeout":
            fake.latency = 1.0
            _client_options[fake] = {"config": {"read_timeout": 0.2}}
        elif kind == "dropped":
            fake.break_next_stream(after=0)
        elif kind == "cut":
            fake.break_next_stream(after=4)
        else:
            raise ValueError(kind)


CASES = BedrockCases()
