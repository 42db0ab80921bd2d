"""SDK errors pass through unchanged: the caller gets the very exception the SDK raised, the
span is ERROR with the exception class's ``__qualname__`` and nothing of its message."""

from __future__ import annotations

import openai
import pytest
from opentelemetry.trace import StatusCode

from tests.instrumentation.driver import record_raised

from .conftest import HTTP, MESSAGES

LEAKY = {"error": {"message": "Incorrect API key provided: sk-fake-key-for-tests.",
                   "type": "invalid_request_error", "code": "invalid_api_key"}}  # fmt: skip


@pytest.fixture
def sdk_errors(api, monkeypatch):
    """The exceptions the SDK's request machinery raised."""
    cls = openai.AsyncOpenAI if api.asynchronous else openai.OpenAI
    return record_raised(monkeypatch, cls, api.asynchronous)


def status(code, body=None):
    return lambda fake: fake.fail_next(code, body=body)


def transport(exception):
    return lambda fake: fake.raise_next(exception)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize(
    ("fail", "expected"),
    [
        pytest.param(status(429), openai.RateLimitError, id="429"),
        pytest.param(status(500), openai.InternalServerError, id="500"),
        pytest.param(status(400), openai.BadRequestError, id="400"),
        pytest.param(status(401, LEAKY), openai.AuthenticationError, id="401"),
        pytest.param(transport(HTTP.ConnectError("refused")), openai.APIConnectionError, id="conn"),
        pytest.param(
            transport(HTTP.ReadTimeout("timed out")), openai.APITimeoutError, id="timeout"
        ),
    ],
)
def test_sdk_error_propagates_unchanged(api, instrumented, sdk_errors, fail, expected, stream):
    """The same exception object reaches the caller; the span is ERROR with ``error.type``;
    ``tokentrail.requests`` counts the call with that ``error.type``. An error response or a
    refused connection was not billed; a read timeout (the request was sent, the answer lost)
    may have been: its input is estimated, never a certain $0."""
    fail(api.fake)

    with pytest.raises(expected) as raised:
        api.call("chat.completions.create", model="gpt-4o", messages=MESSAGES, stream=stream)

    assert sdk_errors == [raised.value]
    assert type(raised.value) is expected
    span = instrumented.span()
    name = expected.__qualname__
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == name
    assert span.attributes["error.type"] == name
    if expected is openai.APITimeoutError:
        assert span.attributes["tokentrail.cost.status"] == "estimated"
        assert span.attributes["gen_ai.usage.input_tokens"] > 0
        assert span.attributes["gen_ai.usage.output_tokens"] == 0
        assert span.attributes["gen_ai.usage.cost"] > 0
    else:
        assert span.attributes["tokentrail.cost.status"] == "priced"
        assert span.attributes.get("gen_ai.usage.cost", 0) == 0
    status = span.attributes["tokentrail.cost.status"]
    assert (
        instrumented.value(
            "tokentrail.requests",
            {
                "error.type": name,
                "tokentrail.cost.status": status,
                "tokentrail.finish_reason": "error",
            },
        )
        == 1
    )
    assert instrumented.count("gen_ai.client.operation.duration", {"error.type": name}) == 1


def test_span_has_no_exception_message(api, instrumented):
    """Exception messages can carry keys and prompts: no event, no description, no attribute
    holds them."""
    api.fake.fail_next(401, body=LEAKY)

    with pytest.raises(openai.AuthenticationError, match="sk-fake-key"):
        api.call("chat.completions.create", model="gpt-4o", messages=MESSAGES)

    span = instrumented.span()
    assert span.events == ()
    assert "sk-" not in (span.status.description or "")
    assert not any("sk-" in str(value) for value in span.attributes.values())
    for name in ("tokentrail.requests", "gen_ai.client.operation.duration"):
        for point in instrumented.points(name):
            assert not any("sk-" in str(v) for v in point.attributes.values())


@pytest.mark.parametrize(
    ("method", "kwargs"),
    [
        pytest.param("responses.create", {"model": "gpt-4o", "input": "hi"}, id="responses"),
        pytest.param(
            "embeddings.create", {"model": "text-embedding-3-small", "input": "hi"}, id="embed"
        ),
        pytest.param(
            "chat.completions.parse", {"model": "gpt-4o", "messages": MESSAGES}, id="parse"
        ),
        pytest.param(
            "completions.create", {"model": "gpt-3.5-turbo-instruct", "prompt": "hi"}, id="legacy"
        ),
    ],
)
def test_every_operation_reports_errors(api, instrumented, sdk_errors, method, kwargs):
    api.fake.fail_next(503)

    with pytest.raises(openai.InternalServerError) as raised:
        api.call(method, **kwargs)

    assert sdk_errors == [raised.value]
    assert instrumented.span().attributes["error.type"] == "InternalServerError"


def test_application_can_retry_after_an_error(api, instrumented):
    """A failed call leaves nothing behind: the next call is its own span, priced."""
    api.fake.fail_next(429)
    with pytest.raises(openai.RateLimitError):
        api.call("chat.completions.create", model="gpt-4o", messages=MESSAGES)

    api.call("chat.completions.create", model="gpt-4o", messages=MESSAGES)

    failed, succeeded = instrumented.spans()
    assert failed.attributes["error.type"] == "RateLimitError"
    assert "error.type" not in succeeded.attributes
    assert succeeded.attributes["tokentrail.cost.status"] == "priced"
