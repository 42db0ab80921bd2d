"""SDK errors pass through unchanged: the caller gets the very exception the SDK raised, the
span is ERROR with the exception class's ``__qualname__`` and nothing of its message. What was
billed follows the failure billing rule: an error response (``SDKError`` has its status code)
or a connection never made was not billed; a request sent whose answer was lost (a read
timeout, a dropped connection) may have been, so it is estimated, never a certain $0."""

from __future__ import annotations

import pytest
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import StatusCode

from .conftest import CHAT, EMBEDDINGS, FIM, HTTP, HTTPValidationError, SDKError

LEAKY = {"object": "error", "message": "Unauthorized: key fake-mistral-key-for-tests is invalid",
         "type": "unauthorized", "param": None, "code": "1000"}  # fmt: skip


@pytest.fixture
def created(monkeypatch):
    """The SDK errors the SDK created, as it created them."""
    made: list[BaseException] = []
    for cls in (SDKError, HTTPValidationError):
        original = cls.__init__

        def spy(self, *args, __original=original, **kwargs):
            made.append(self)
            __original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__init__", spy)
    return made


def status(code, body=None):
    return lambda fake: fake.fail_next(code, body=body)


def transport(exception):
    return lambda fake: fake.raise_next(exception)


def call(api, stream: bool, method: str = "chat"):
    if method == "chat":
        result = api.call("chat.stream" if stream else "chat.complete", **CHAT)
    else:
        result = api.call("fim.stream" if stream else "fim.complete", **FIM)
    return api.drain(result) if stream else result


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize(
    ("fail", "expected", "billed"),
    [
        pytest.param(status(429), SDKError, False, id="429"),
        pytest.param(status(500), SDKError, False, id="500"),
        pytest.param(status(401, LEAKY), SDKError, False, id="401"),
        pytest.param(status(422, {"detail": []}), HTTPValidationError, False, id="422"),
        pytest.param(transport(HTTP.ConnectError("refused")), HTTP.ConnectError, False, id="conn"),
        pytest.param(transport(HTTP.ReadTimeout("timed out")), HTTP.ReadTimeout, True, id="read"),
    ],
)
def test_sdk_error_propagates_unchanged(api, instrumented, created, fail, expected, billed, stream):
    """The same exception object reaches the caller; the span is ERROR with ``error.type``;
    ``tokentrail.requests`` counts the call with that ``error.type`` and its cost status."""
    fail(api.fake)
    queued = api.fake._failures[0].exception

    with pytest.raises(expected) as raised:
        call(api, stream)

    assert type(raised.value) is expected
    assert raised.value is (queued if queued is not None else created[-1])
    span = instrumented.span()
    name = expected.__qualname__
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == name
    assert span.attributes["error.type"] == name
    if billed:
        assert span.attributes["tokentrail.cost.status"] == "estimated"
        assert span.attributes["gen_ai.usage.input_tokens"] > 0
        assert span.attributes["gen_ai.usage.output_tokens"] == 0
        assert span.attributes["gen_ai.usage.cost"] > 0
    else:
        assert span.attributes["tokentrail.cost.status"] == "priced"
        assert span.attributes.get("gen_ai.usage.cost", 0) == 0
    status_ = span.attributes["tokentrail.cost.status"]
    counted = {"error.type": name, "tokentrail.cost.status": status_,
               "tokentrail.finish_reason": "error"}  # fmt: skip
    assert instrumented.value("tokentrail.requests", counted) == 1
    assert instrumented.count("gen_ai.client.operation.duration", {"error.type": name}) == 1


def test_the_sdk_error_carries_the_status_the_billing_rule_reads(api, instrumented):
    """``SDKError.status_code`` is what says "an error response": not billed."""
    api.fake.fail_next(503)

    with pytest.raises(SDKError) as raised:
        call(api, stream=False)

    assert raised.value.status_code == 503
    assert instrumented.span().attributes["tokentrail.cost.status"] == "priced"


def test_span_has_no_exception_message(api, instrumented):
    """Exception messages can carry keys and prompts: no event, no description, no attribute
    holds them."""
    api.fake.fail_next(401, body=LEAKY)

    with pytest.raises(SDKError, match="fake-mistral-key"):
        call(api, stream=False)

    span = instrumented.span()
    assert span.events == ()
    assert "fake-mistral-key" not in (span.status.description or "")
    assert not any("fake-mistral-key" in str(value) for value in span.attributes.values())
    for name in ("tokentrail.requests", "gen_ai.client.operation.duration"):
        for point in instrumented.points(name):
            assert not any("fake-mistral-key" in str(v) for v in point.attributes.values())


@pytest.mark.parametrize(
    ("method", "kwargs"),
    [("fim.complete", FIM), ("fim.stream", FIM), ("embeddings.create", EMBEDDINGS)],
)
def test_every_operation_reports_errors(api, instrumented, method, kwargs):
    api.fake.fail_next(503)

    with pytest.raises(SDKError):
        api.call(method, **kwargs)

    assert instrumented.span().attributes["error.type"] == "SDKError"


def test_application_can_retry_after_an_error(api, instrumented):
    """A failed call leaves nothing behind: the next call is its own span, priced."""
    api.fake.fail_next(429)
    with pytest.raises(SDKError):
        call(api, stream=False)

    call(api, stream=False)

    failed, succeeded = instrumented.spans()
    assert failed.attributes["error.type"] == "SDKError"
    assert "error.type" not in succeeded.attributes
    assert succeeded.attributes["tokentrail.cost.status"] == "priced"


def test_the_sdks_own_retries_are_one_call(api, instrumented):
    """The SDK retries a 5xx itself (``retries=``): one call, one span, one request counted,
    priced from the answer that came (the failed attempts were not billed)."""
    try:
        from mistralai.client.utils import BackoffStrategy, RetryConfig
    except ImportError:  # 1.x
        from mistralai.utils import BackoffStrategy, RetryConfig

    retries = RetryConfig("backoff", BackoffStrategy(1, 2, 1.1, 1000), False)
    api.fake.fail_next(503, times=2)
    with suppress_instrumentation():
        try:
            api.call("chat.complete", **CHAT, retries=retries)
        except Exception as exc:  # mistralai 1.2: its user-agent hook breaks on a retry
            pytest.skip(f"this mistralai cannot retry on its own ({type(exc).__name__})")
    api.fake.requests.clear()

    api.fake.fail_next(503, times=2)
    api.call("chat.complete", **CHAT, retries=retries)

    assert len(api.fake.requests) == 3
    span = instrumented.span()
    assert "error.type" not in span.attributes
    assert span.attributes["tokentrail.cost.status"] == "priced"
    assert instrumented.value("tokentrail.requests") == 1
