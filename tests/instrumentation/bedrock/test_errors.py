"""botocore's errors pass through unchanged: the caller gets the very exception botocore
raised, and the call's one span is ERROR with the exception class's ``__qualname__`` and
nothing of its message. What is billed follows the failure rule (``telemetry/failures.py``):
an HTTP error answer (``ClientError``) is not billed, a request that never left
(``EndpointConnectionError``, ``ConnectTimeoutError``) is not either, and one whose answer was
lost on the way (``ReadTimeoutError``, a connection dropped mid-stream) may have been: it is
``estimated``."""

from __future__ import annotations

import pytest
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from opentelemetry.trace import StatusCode

from tokentrail import names as sc
from tokentrail.fakes.bedrock import FakeBedrock
from tokentrail.telemetry.failures import may_have_been_billed

from .conftest import CONVERSE, converse, converse_stream, invoke, invoke_stream

SECRET = "AKIAFAKEKEYFORTESTS"
CALLS = {
    "converse": converse,
    "converse_stream": converse_stream,
    "invoke_model": invoke,
    "invoke_model_stream": invoke_stream,
}


def raised_by_botocore(error: BaseException) -> bool:
    """The exception was raised in botocore (or below it), not by tokentrail."""
    tb = error.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    return "tokentrail" not in tb.tb_frame.f_code.co_filename


def assert_failed(instrumented, error: BaseException, *, billed: bool) -> None:
    error_type = type(error).__qualname__
    span = instrumented.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == error_type
    assert span.attributes[sc.ERROR_TYPE] == error_type
    assert span.events == ()
    assert not any(SECRET in str(value) for value in span.attributes.values())
    if billed:  # sent, answer lost: it may have been billed
        assert span.attributes[sc.TOKENTRAIL_COST_STATUS] == "estimated"
        assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] > 0
    else:
        assert sc.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes
        assert span.attributes[sc.TOKENTRAIL_COST_STATUS] == "priced"
        assert span.attributes[sc.GEN_AI_USAGE_COST] == 0
    assert instrumented.value(sc.METRIC_REQUESTS, {sc.ERROR_TYPE: error_type}) == 1


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize(
    ("status", "error"),
    [(400, "ValidationException"), (403, "AccessDeniedException"),
     (429, "ThrottlingException"), (500, "InternalServerException"),
     (503, "ServiceUnavailableException")],
)  # fmt: skip
def test_an_error_answer_propagates_unchanged_and_is_not_billed(
    instrumented, fake, client, call, status, error
):
    fake.fail_next(status, body={"message": f"denied for {SECRET}"})
    with pytest.raises(ClientError) as caught:
        CALLS[call](client)

    assert type(caught.value) is getattr(client.exceptions, error)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert raised_by_botocore(caught.value)
    assert_failed(instrumented, caught.value, billed=False)


def test_a_refused_connection_was_not_sent(instrumented):
    with FakeBedrock() as gone:
        client = gone.client()
    with pytest.raises(EndpointConnectionError) as caught:
        converse(client)

    assert raised_by_botocore(caught.value)
    assert_failed(instrumented, caught.value, billed=False)


def test_a_read_timeout_may_have_been_billed(instrumented):
    with FakeBedrock(latency=1.0) as slow:
        client = slow.client(config=Config(read_timeout=0.2, retries={"total_max_attempts": 1}))
        with pytest.raises(ReadTimeoutError) as caught:
            converse(client)

    assert raised_by_botocore(caught.value)
    assert_failed(instrumented, caught.value, billed=True)


def test_a_connection_closed_unanswered_may_have_been_billed(instrumented, fake, client):
    """The request went out and the connection closed without an answer."""
    fake.raise_next(ConnectionResetError())
    with pytest.raises(ConnectionClosedError) as caught:
        client.converse(**CONVERSE)

    assert_failed(instrumented, caught.value, billed=True)


def test_the_failure_rule_reads_botocores_errors():
    """The classes botocore raises for what the loopback fake cannot produce (a connect
    timeout), beside those it can, as botocore builds them."""
    endpoint = "https://bedrock-runtime.us-east-1.amazonaws.com"
    throttled = ClientError(
        {"Error": {"Code": "ThrottlingException"}, "ResponseMetadata": {"HTTPStatusCode": 429}},
        "Converse",
    )
    assert not may_have_been_billed(throttled)
    assert not may_have_been_billed(ConnectTimeoutError(endpoint_url=endpoint))
    assert not may_have_been_billed(EndpointConnectionError(endpoint_url=endpoint))
    assert may_have_been_billed(ReadTimeoutError(endpoint_url=endpoint))


def test_an_error_before_sending_propagates_unchanged(instrumented, fake, client):
    """botocore validates the parameters before sending: its error is the caller's, and the
    call is one failed span that cost nothing."""
    from botocore.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError):
        client.converse(modelId="us.anthropic.claude-haiku-4-5-20251001-v1:0", messages="hi")

    assert fake.requests == []
    span = instrumented.span()
    assert span.attributes[sc.ERROR_TYPE] == "ParamValidationError"
    assert span.attributes[sc.TOKENTRAIL_COST_STATUS] == "priced"


def test_the_application_can_retry_after_an_error(instrumented, fake, client):
    fake.fail_next(429)
    with pytest.raises(client.exceptions.ThrottlingException):
        converse(client)
    converse(client)

    failed, succeeded = instrumented.spans()
    assert failed.attributes[sc.ERROR_TYPE] == "ThrottlingException"
    assert succeeded.status.status_code is StatusCode.UNSET
    assert succeeded.attributes[sc.GEN_AI_USAGE_COST] > 0


def test_botocore_retries_are_one_call(instrumented, fake):
    """botocore retries inside the patched method: a throttled attempt, then a success, is
    one span (the throttled attempt was not billed)."""
    client = fake.client(config=Config(retries={"total_max_attempts": 2, "mode": "standard"}))
    fake.fail_next(429)
    converse(client)

    assert len(fake.requests) == 2
    span = instrumented.span()
    assert span.status.status_code is StatusCode.UNSET
    assert instrumented.value(sc.METRIC_REQUESTS) == 1
