"""Each instrumented Bedrock operation is one ``chat`` span with its usage and cost, counted
once, and the caller gets what boto3 alone gives; other operations and other AWS services go
through untouched. (boto3 has no async client: every call here is synchronous.)"""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.eventstream import EventStream
from botocore.response import StreamingBody
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import SpanKind

from tokentrail import names as sc
from tokentrail.fakes.bedrock import FakeBedrock
from tokentrail.instrumentation.bedrock.extractors import endpoint_of, family_of, operation_of

from .conftest import (
    CONVERSE,
    FAMILIES,
    MESSAGES,
    MODEL,
    converse,
    converse_stream,
    invoke,
    invoke_request,
    invoke_stream,
)


def without_metadata(result: dict) -> dict:
    """An answer without ``ResponseMetadata`` (its ``date`` header changes by the second)."""
    return {key: value for key, value in result.items() if key != "ResponseMetadata"}


def test_converse_is_one_chat_span_with_its_usage_and_cost(instrumented, fake, client):
    result = converse(client)

    span = instrumented.span()
    assert span.name == f"chat {MODEL}"
    assert span.kind is SpanKind.CLIENT
    assert span.instrumentation_scope.name == "tokentrail"
    attrs = span.attributes
    assert attrs[sc.GEN_AI_OPERATION_NAME] == "chat"
    assert attrs[sc.GEN_AI_PROVIDER_NAME] == "aws.bedrock"
    assert attrs[sc.GEN_AI_REQUEST_MODEL] == MODEL
    assert sc.GEN_AI_RESPONSE_MODEL not in attrs  # Converse names no model
    assert attrs[sc.GEN_AI_RESPONSE_ID] == result["ResponseMetadata"]["RequestId"]
    assert attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] == (result["stopReason"],)
    assert attrs[sc.GEN_AI_REQUEST_MAX_TOKENS] == 256
    assert attrs[sc.GEN_AI_REQUEST_STREAM] is False
    assert (attrs[sc.SERVER_ADDRESS], attrs[sc.SERVER_PORT]) == ("127.0.0.1", int(fake.url[-5:]))
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == result["usage"]["inputTokens"]
    assert attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == result["usage"]["outputTokens"]
    assert attrs[sc.TOKENTRAIL_COST_STATUS] == "priced"
    assert attrs[sc.GEN_AI_USAGE_COST] > 0
    assert instrumented.value(sc.METRIC_REQUESTS) == 1
    assert instrumented.count(sc.METRIC_TIME_TO_FIRST_CHUNK) == 0


def test_a_regional_client_is_its_endpoint():
    """``server.address`` is the client's regional endpoint (nothing is sent here)."""
    client = boto3.client(
        "bedrock-runtime", region_name="eu-west-1", aws_access_key_id="a", aws_secret_access_key="b"
    )
    found = endpoint_of(client)
    assert (found.provider, found.address, found.port) == (
        "aws.bedrock",
        "bedrock-runtime.eu-west-1.amazonaws.com",
        443,
    )


def test_converse_stream_is_one_span_with_the_metadata_usage(instrumented, client):
    events = converse_stream(client)

    metadata = events[-1]["metadata"]
    stop = next(e["messageStop"] for e in events if "messageStop" in e)
    span = instrumented.span()
    assert span.name == f"chat {MODEL}"
    assert span.attributes[sc.GEN_AI_REQUEST_STREAM] is True
    assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == (stop["stopReason"],)
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == metadata["usage"]["inputTokens"]
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == metadata["usage"]["outputTokens"]
    assert span.attributes[sc.TOKENTRAIL_COST_STATUS] == "priced"
    assert span.attributes[sc.GEN_AI_RESPONSE_ID]
    assert instrumented.count(sc.METRIC_TIME_TO_FIRST_CHUNK) == 1
    assert instrumented.value(sc.METRIC_REQUESTS) == 1


@pytest.mark.parametrize("family", FAMILIES)
def test_invoke_model_is_one_span_per_family_with_the_header_usage(instrumented, client, family):
    model, _ = FAMILIES[family]
    response = client.invoke_model(**invoke_request(family))
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert isinstance(response["body"], StreamingBody)
    assert instrumented.spans() == []  # until the caller reads the body

    json.loads(response["body"].read())

    span = instrumented.span()
    assert span.name == f"chat {model}"
    attrs = span.attributes
    assert attrs[sc.GEN_AI_REQUEST_MAX_TOKENS] == 256
    assert attrs[sc.GEN_AI_REQUEST_STREAM] is False
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == int(headers["x-amzn-bedrock-input-token-count"])
    assert attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == int(headers["x-amzn-bedrock-output-token-count"])
    assert attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS]  # read from the family's own body
    assert attrs[sc.GEN_AI_RESPONSE_ID] == response["ResponseMetadata"]["RequestId"]
    assert attrs[sc.TOKENTRAIL_COST_STATUS] == "priced"
    assert instrumented.value(sc.METRIC_REQUESTS) == 1
    assert instrumented.count(sc.METRIC_TIME_TO_FIRST_CHUNK) == 0


@pytest.mark.parametrize("family", FAMILIES)
def test_invoke_model_stream_is_one_span_per_family_with_the_invocation_metrics(
    instrumented, client, family
):
    model, _ = FAMILIES[family]
    chunks = invoke_stream(client, family)

    metrics = chunks[-1]["amazon-bedrock-invocationMetrics"]
    span = instrumented.span()
    assert span.name == f"chat {model}"
    assert span.attributes[sc.GEN_AI_REQUEST_STREAM] is True
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == metrics["inputTokenCount"]
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == metrics["outputTokenCount"]
    assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS]
    assert span.attributes[sc.TOKENTRAIL_COST_STATUS] == "priced"
    assert instrumented.count(sc.METRIC_TIME_TO_FIRST_CHUNK) == 1
    assert instrumented.value(sc.METRIC_REQUESTS) == 1


@pytest.mark.parametrize(
    ("family", "finish"),
    [("anthropic", "stop"), ("meta", "length"), ("nova", "stop"), ("mistral", "stop")],
)
def test_each_familys_finish_reason_is_normalised(instrumented, client, family, finish):
    # the fake answers up to ~330 tokens: a cap of 5 is reached, one of 4000 is not
    body = {
        "anthropic": {"max_tokens": 4000},
        "meta": {"max_gen_len": 5},
        "nova": {"inferenceConfig": {"max_new_tokens": 4000}},
        "mistral": {"max_tokens": 4000},
    }[family]
    invoke(client, family, **body)
    invoke_stream(client, family, **body)

    points = instrumented.points(sc.METRIC_REQUESTS)
    assert {p.attributes[sc.TOKENTRAIL_FINISH_REASON] for p in points} == {finish}


def run_each(client, fake: FakeBedrock) -> list:
    """Every operation once, as an application reads it (the stream events and bodies)."""
    return [
        without_metadata(converse(client)),
        converse_stream(client),
        invoke(client, "nova"),
        invoke_stream(client, "meta"),
        invoke(client, "anthropic"),
    ]


def test_the_caller_gets_what_boto3_alone_gives(instrumented):
    with FakeBedrock(stream_chunks=4) as alone, suppress_instrumentation():
        expected = run_each(alone.client(), alone)
    with FakeBedrock(stream_chunks=4) as fake:
        assert run_each(fake.client(), fake) == expected
    assert len(instrumented.spans()) == 5


def test_the_answers_keep_their_boto3_types(instrumented, client):
    stream = client.converse_stream(**CONVERSE)["stream"]
    body = client.invoke_model(**invoke_request("meta"))["body"]
    invoke_events = client.invoke_model_with_response_stream(**invoke_request("meta"))["body"]

    assert isinstance(stream, EventStream)
    assert isinstance(invoke_events, EventStream)
    assert isinstance(body, StreamingBody)
    for opened in (stream, invoke_events, body):
        opened.close()
    assert len(instrumented.spans()) == 3


@pytest.mark.parametrize(
    "read",
    [
        pytest.param(lambda body: body.read(), id="read"),
        pytest.param(lambda body: b"".join(iter(lambda: body.read(7), b"")), id="read-amt"),
        pytest.param(lambda body: b"".join(body.iter_chunks(16)), id="iter_chunks"),
        pytest.param(lambda body: b"".join(body), id="iter"),
        pytest.param(lambda body: b"".join(body.iter_lines()), id="iter_lines"),
        pytest.param(lambda body: b"".join(body.readlines()), id="readlines"),
    ],
)
def test_every_way_of_reading_the_body_ends_the_call_with_the_finish_reason(
    instrumented, client, read
):
    response = client.invoke_model(**invoke_request("mistral"))

    answer = json.loads(read(response["body"]))

    span = instrumented.span()
    assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == (
        answer["choices"][0]["finish_reason"],
    )


def test_other_bedrock_runtime_operations_are_not_instrumented(instrumented, client, fake):
    """``CountTokens`` (free) and any other operation go through as they are."""
    with pytest.raises(client.exceptions.ClientError):
        client.apply_guardrail(
            guardrailIdentifier="g", guardrailVersion="1", source="INPUT", content=[]
        )
    assert instrumented.spans() == []
    assert instrumented.points(sc.METRIC_REQUESTS) == []


def test_other_aws_services_go_straight_through(instrumented, fake, monkeypatch):
    """An S3 call (here against the fake, which answers 404) never reaches tokentrail's
    operations: a fault in any of them would show."""
    from tokentrail.instrumentation.bedrock import patch

    def explode(*args, **kwargs):
        raise AssertionError("an S3 call reached the Bedrock instrumentation")

    for operation in patch.OPERATIONS.values():
        monkeypatch.setattr(operation, "request", explode)
    s3 = boto3.client(
        "s3",
        endpoint_url=fake.url,
        region_name="us-east-1",
        aws_access_key_id="AKIAFAKE",
        aws_secret_access_key="fake",
    )
    with pytest.raises(s3.exceptions.ClientError):
        s3.list_buckets()
    assert instrumented.spans() == []


def test_embeddings_and_text_completion_models_name_their_operation():
    assert operation_of("amazon.titan-embed-text-v2:0") == "embeddings"
    assert operation_of("cohere.embed-english-v3") == "embeddings"
    assert operation_of("amazon.titan-text-express-v1") == "text_completion"
    assert operation_of(MODEL) == "chat"
    assert family_of("arn:aws:bedrock:us-east-1::foundation-model/meta.llama3-1-8b-v1:0") == "meta"
    assert family_of("global.amazon.nova-2-lite-v1:0") == "nova"
    assert family_of("amazon.titan-text-lite-v1") == "titan"


def test_a_request_with_a_file_body_is_counted_without_reading_it(instrumented, client):
    """A body given as a file object is sent by botocore as it is; tokentrail does not read
    it (no cap, no prompt estimate), and still reports the call from the headers."""
    import io

    _, native = FAMILIES["meta"]
    response = client.invoke_model(
        modelId=FAMILIES["meta"][0], body=io.BytesIO(json.dumps(native).encode())
    )
    response["body"].read()

    span = instrumented.span()
    assert sc.GEN_AI_REQUEST_MAX_TOKENS not in span.attributes
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] > 0


def test_messages_and_the_model_are_sent_unchanged(instrumented, fake, client):
    converse(client)
    path, body = fake.requests[-1]
    assert body["messages"] == MESSAGES
    assert body["inferenceConfig"] == {"maxTokens": 256}
    assert path.endswith("/converse")
