"""LiteLLM's errors pass through unchanged, and each failed call is billed as the provider
bills it: an error response, or a request that never left, cost nothing (``priced``, $0); a
request that was sent and whose answer was lost (a read timeout, a dropped connection) may
have been billed: its input is estimated, never a certain $0.

LiteLLM gives each of its errors an HTTP status, also when no response arrived (408 for a
timeout, 500 for a lost connection): tokentrail reads the errors beneath it. Both kinds of
route: the openai route (the openai SDK underneath) and Anthropic's (LiteLLM's own HTTP code,
httpx for sync calls and aiohttp for async ones)."""

from __future__ import annotations

import socket

import litellm
import openai
import pytest
from opentelemetry.trace import StatusCode

from tokentrail.fakes.openai import FakeOpenAI

from .conftest import MESSAGES, ROUTES

HTTP = FakeOpenAI.http()
NOT_BILLED = "not billed"
MAYBE_BILLED = "maybe billed"

LEAKY = {"error": {"message": "Incorrect API key provided: sk-fake-key-for-tests.",
                   "type": "invalid_request_error", "code": "invalid_api_key"}}  # fmt: skip


def _assert_failed(telemetry, error: BaseException, billing: str) -> None:
    span = telemetry.span()
    name = type(error).__qualname__
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == name
    assert span.attributes["error.type"] == name
    assert span.events == ()
    if billing == MAYBE_BILLED:
        assert span.attributes["tokentrail.cost.status"] == "estimated"
        assert span.attributes["gen_ai.usage.input_tokens"] > 0
        assert span.attributes["gen_ai.usage.output_tokens"] == 0
        assert span.attributes["gen_ai.usage.cost"] > 0
    else:
        assert span.attributes["tokentrail.cost.status"] == "priced"
        assert span.attributes.get("gen_ai.usage.cost", 0) == 0
    status = span.attributes["tokentrail.cost.status"]
    assert (
        telemetry.value(
            "tokentrail.requests",
            {"error.type": name, "tokentrail.cost.status": status,
             "tokentrail.finish_reason": "error"},
        )
        == 1
    )  # fmt: skip


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize(
    ("fail", "expected", "billing"),
    [
        pytest.param(lambda f: f.fail_next(429), litellm.RateLimitError, NOT_BILLED, id="429"),
        # LiteLLM's class for a 500 and for a refused connection changed over its versions
        # (``APIError``, ``InternalServerError``): any of its errors, reported as raised
        pytest.param(lambda f: f.fail_next(500), openai.APIError, NOT_BILLED, id="500"),
        pytest.param(lambda f: f.fail_next(400), litellm.BadRequestError, NOT_BILLED, id="400"),
        pytest.param(
            lambda f: f.fail_next(401, body=LEAKY),
            litellm.AuthenticationError,
            NOT_BILLED,
            id="401",
        ),
        pytest.param(
            lambda f: f.raise_next(HTTP.ConnectError("refused")),
            openai.APIError,
            NOT_BILLED,
            id="refused",
        ),
        pytest.param(
            lambda f: f.raise_next(HTTP.ReadTimeout("timed out")),
            litellm.Timeout,
            MAYBE_BILLED,
            id="timeout",
        ),
    ],
)
def test_the_openai_route(api, instrumented, fail, expected, billing, stream):
    fail(api.providers.openai)

    with pytest.raises(expected) as raised:
        api.completion(messages=MESSAGES, stream=stream, **api.openai())

    assert type(raised.value).__module__.startswith("litellm.")
    _assert_failed(instrumented, raised.value, billing)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_anthropic_route_error_response(api, instrumented):
    api.providers.anthropic.fail_next(529)

    with pytest.raises(openai.APIError) as raised:
        api.completion(messages=MESSAGES, **api.route(ROUTES["anthropic"]))

    _assert_failed(instrumented, raised.value, NOT_BILLED)


def test_anthropic_route_refused_connection(api, instrumented):
    route = api.route(ROUTES["anthropic"], api_base=f"http://127.0.0.1:{_closed_port()}")

    with pytest.raises(openai.APIError) as raised:
        api.completion(messages=MESSAGES, **route)

    _assert_failed(instrumented, raised.value, NOT_BILLED)


def test_anthropic_route_connection_dropped_before_the_answer(api, instrumented):
    api.providers.anthropic.raise_next(RuntimeError("the server hangs up"))

    with pytest.raises(openai.APIError) as raised:
        api.completion(messages=MESSAGES, **api.route(ROUTES["anthropic"]))

    _assert_failed(instrumented, raised.value, MAYBE_BILLED)


def test_anthropic_route_read_timeout(api, instrumented):
    api.providers.anthropic.latency = 1.0

    with pytest.raises(litellm.Timeout) as raised:
        api.completion(messages=MESSAGES, timeout=0.2, **api.route(ROUTES["anthropic"]))

    _assert_failed(instrumented, raised.value, MAYBE_BILLED)


def test_no_message_of_an_error_reaches_the_telemetry(api, instrumented):
    """Exception messages can carry keys and prompts."""
    api.providers.openai.fail_next(401, body=LEAKY)

    with pytest.raises(litellm.AuthenticationError, match="sk-fake"):
        api.completion(messages=MESSAGES, **api.openai())

    span = instrumented.span()
    assert "sk-" not in (span.status.description or "")
    assert not any("sk-" in str(value) for value in span.attributes.values())
    for name in ("tokentrail.requests", "gen_ai.client.operation.duration"):
        for point in instrumented.points(name):
            assert not any("sk-" in str(v) for v in point.attributes.values())


def test_the_application_can_retry_after_an_error(api, instrumented):
    api.providers.openai.fail_next(429)
    with pytest.raises(litellm.RateLimitError):
        api.completion(messages=MESSAGES, **api.openai())

    api.completion(messages=MESSAGES, **api.openai())

    failed, succeeded = instrumented.spans()
    assert failed.attributes["error.type"] == "RateLimitError"
    assert "error.type" not in succeeded.attributes
    assert succeeded.attributes["tokentrail.cost.status"] == "priced"
