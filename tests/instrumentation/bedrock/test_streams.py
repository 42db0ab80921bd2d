"""Bedrock's streams end their call exactly once, however the caller leaves them: the
``EventStream`` of ``converse_stream`` and of ``invoke_model_with_response_stream``, and the
``StreamingBody`` of ``invoke_model`` (whose usage is known from the headers, so leaving it
unread costs nothing but the finish reason). A stream left before its usage arrived is
estimated: the prompt and one token per text delta (per chunk)."""

from __future__ import annotations

import json

import pytest
from botocore.eventstream import EventStream
from botocore.exceptions import EventStreamError
from opentelemetry.trace import StatusCode
from urllib3.exceptions import ProtocolError

from tests.instrumentation.driver import collected
from tokentrail import names as sc

from .conftest import CONVERSE, invoke_request

KINDS = ["converse_stream", "invoke_stream"]
MODEL_ERROR = {"type": "modelStreamErrorException", "message": "the model stopped"}


def open_stream(client, kind: str) -> EventStream:
    """A stream of text deltas only after the first event: ConverseStream's ``messageStart``
    then ``contentBlockDelta``s; Llama's chunks, one generation piece each."""
    if kind == "converse_stream":
        return client.converse_stream(**CONVERSE)["stream"]
    return client.invoke_model_with_response_stream(**invoke_request("meta"))["body"]


def text_events(kind: str, taken: int) -> int:
    """How many of the first ``taken`` events carry text."""
    return taken - 1 if kind == "converse_stream" else taken


def assert_estimated(span, *, output: int) -> None:
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] > 1  # the prompt's estimate
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == output
    assert span.attributes[sc.TOKENTRAIL_COST_STATUS] == "estimated"
    assert sc.GEN_AI_RESPONSE_FINISH_REASONS not in span.attributes


@pytest.mark.parametrize("kind", KINDS)
def test_a_drained_stream_ends_once_with_its_final_usage(instrumented, client, kind):
    stream = open_stream(client, kind)
    events = list(stream)

    span = instrumented.span()
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes[sc.TOKENTRAIL_COST_STATUS] == "priced"
    assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS]
    assert len(events) >= 6
    stream.close()  # closing, then dropping, changes nothing
    del stream
    collected()
    assert len(instrumented.spans()) == 1
    assert instrumented.value(sc.METRIC_REQUESTS) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_a_stream_broken_out_of_and_dropped_ends_when_collected(instrumented, client, kind):
    stream = open_stream(client, kind)
    for taken, _ in enumerate(stream, start=1):
        if taken == 4:
            break
    assert instrumented.spans() == []

    del stream
    collected()
    assert_estimated(instrumented.span(), output=text_events(kind, 4))


@pytest.mark.parametrize("kind", KINDS)
def test_closing_a_stream_part_way_ends_the_call(instrumented, client, kind):
    stream = open_stream(client, kind)
    next(iter(stream)), next(iter(stream)), next(iter(stream))  # one iterator throughout
    stream.close()

    assert_estimated(instrumented.span(), output=text_events(kind, 3))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("cut", "raised"),
    [
        pytest.param(MODEL_ERROR, EventStreamError, id="exception-event"),
        pytest.param(None, ProtocolError, id="connection-lost"),
    ],
)
def test_a_stream_cut_mid_way_fails_the_call_and_keeps_what_arrived(
    instrumented, fake, client, kind, cut, raised
):
    fake.break_next_stream(after=4, error=cut)
    stream = open_stream(client, kind)
    received = []

    with pytest.raises(raised) as caught:
        received.extend(stream)

    assert len(received) == 4
    error_type = type(caught.value).__qualname__
    span = instrumented.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == error_type
    assert span.events == ()  # no exception event: messages may carry secrets
    assert_estimated(span, output=text_events(kind, 4))
    assert instrumented.value(sc.METRIC_REQUESTS, {sc.ERROR_TYPE: error_type}) == 1
    del stream
    collected()
    assert len(instrumented.spans()) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_a_stream_that_drops_before_its_first_event_is_estimated(instrumented, fake, client, kind):
    """The answer started, then the connection dropped: the model may have run, so the
    input is estimated from the prompt (never a certain $0)."""
    fake.break_next_stream(after=0)
    with pytest.raises(ProtocolError):
        list(open_stream(client, kind))

    span = instrumented.span()
    assert span.attributes[sc.ERROR_TYPE] == "ProtocolError"
    assert span.attributes[sc.TOKENTRAIL_COST_STATUS] == "estimated"
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] > 0
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 0
    assert instrumented.count(sc.METRIC_TIME_TO_FIRST_CHUNK) == 0


# -- invoke_model's body ------------------------------------------------------------------------


def test_a_body_read_in_part_and_dropped_ends_with_the_header_usage(instrumented, client):
    response = client.invoke_model(**invoke_request("anthropic"))
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    response["body"].read(10)
    assert instrumented.spans() == []

    del response
    collected()
    span = instrumented.span()
    assert span.attributes[sc.TOKENTRAIL_COST_STATUS] == "priced"  # the headers are exact
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == int(
        headers["x-amzn-bedrock-output-token-count"]
    )
    assert sc.GEN_AI_RESPONSE_FINISH_REASONS not in span.attributes


def test_a_body_closed_unread_ends_the_call(instrumented, client):
    response = client.invoke_model(**invoke_request("nova"))
    response["body"].close()

    span = instrumented.span()
    assert span.attributes[sc.TOKENTRAIL_COST_STATUS] == "priced"
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] > 0


def test_a_body_read_in_a_with_block_ends_the_call(instrumented, client):
    response = client.invoke_model(**invoke_request("meta"))
    with response["body"] as body:
        answer = json.loads(body.read())

    span = instrumented.span()
    assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == (answer["stop_reason"],)
    assert len(instrumented.spans()) == 1


def test_the_duration_is_the_answers_not_the_readers(instrumented, client):
    """The call ends when the answer arrived, however late the caller reads the body."""
    import time

    response = client.invoke_model(**invoke_request("meta"))
    time.sleep(0.3)
    response["body"].read()

    (point,) = instrumented.points(sc.METRIC_OPERATION_DURATION)
    assert point.sum < 0.3
