"""SDK errors pass through unchanged: the caller gets the very exception the SDK raised, and
the call's one span is ERROR with the exception class's ``__qualname__`` and nothing of its
message (which may quote the API key)."""

from __future__ import annotations

import anthropic
import pytest
from opentelemetry.trace import StatusCode

from tests.instrumentation.driver import record_raised
from tokentrail import names as sc

from .conftest import HTTP, REQUEST

API_KEY = "sk-ant-fake-key-for-tests"
#: anthropic < 0.49 has no ``OverloadedError``: a 529 is an ``InternalServerError`` there
OVERLOADED = getattr(anthropic, "OverloadedError", anthropic.InternalServerError)
LEAKY = {"type": "error", "error": {"type": "authentication_error",
                                    "message": f"invalid x-api-key: {API_KEY}"}}  # fmt: skip


@pytest.fixture
def sdk_errors(api, monkeypatch):
    """The exceptions the SDK's request machinery raised, as it raised them."""
    cls = anthropic.AsyncAnthropic if api.asynchronous else anthropic.Anthropic
    return record_raised(monkeypatch, cls, api.asynchronous)


def call(api, how: str):
    if how == "create":
        return api.call("messages.create", **REQUEST)
    if how == "stream":
        return api.call("messages.create", **REQUEST, stream=True)
    return api.final_message(**REQUEST)


@pytest.mark.parametrize("how", ["create", "stream", "helper"])
@pytest.mark.parametrize(
    ("fail", "expected"),
    [
        pytest.param(lambda fake: fake.fail_next(429), anthropic.RateLimitError, id="429"),
        pytest.param(lambda fake: fake.fail_next(529), OVERLOADED, id="529"),
        pytest.param(
            lambda fake: fake.fail_next(401, body=LEAKY), anthropic.AuthenticationError, id="401"
        ),
        pytest.param(
            lambda fake: fake.raise_next(HTTP.ConnectError("connection refused")),
            anthropic.APIConnectionError,
            id="connection",
        ),
        pytest.param(
            lambda fake: fake.raise_next(HTTP.ReadTimeout("timed out")),
            anthropic.APITimeoutError,
            id="timeout",
        ),
    ],
)
def test_sdk_errors_propagate_unchanged_and_fail_the_span(
    instrumented, api, fake, sdk_errors, how, fail, expected
):
    fail(fake)
    with pytest.raises(expected) as caught:
        call(api, how)

    assert caught.value is sdk_errors[-1]
    error_type = type(caught.value).__qualname__
    span = instrumented.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == error_type
    assert span.attributes[sc.ERROR_TYPE] == error_type
    if expected is anthropic.APITimeoutError:  # sent, answer lost: it may have been billed
        assert span.attributes[sc.TOKENTRAIL_COST_STATUS] == "estimated"
        assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] > 0
    else:
        assert sc.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes
        assert span.attributes[sc.TOKENTRAIL_COST_STATUS] == "priced"
    assert not any(API_KEY in str(value) for value in span.attributes.values())
    assert instrumented.value(sc.METRIC_REQUESTS, {sc.ERROR_TYPE: error_type}) == 1


def test_an_sdk_error_before_sending_propagates_unchanged(instrumented, api):
    """The SDK refuses a non-streamed request that could outlast its timeout before sending
    it; that error is the caller's, and the call is one failed span."""
    with pytest.raises(ValueError, match="Streaming is required") as caught:
        api.call("messages.create", **{**REQUEST, "max_tokens": 128_000})

    span = instrumented.span()
    assert span.attributes[sc.ERROR_TYPE] == type(caught.value).__qualname__ == "ValueError"
    assert api.fake.requests == []
