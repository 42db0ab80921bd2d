"""The fake Bedrock Runtime through the real boto3 client: botocore parses its JSON, its
errors and its event streams (its own CRC-checking decoder), for the four calls and the four
model families."""

from __future__ import annotations

import json

import pytest

boto3 = pytest.importorskip("boto3", reason="needs the bedrock extra")
from botocore.exceptions import ClientError, EventStreamError  # noqa: E402
from urllib3.exceptions import ProtocolError  # noqa: E402

from tokentrail.fakes.bedrock import FakeBedrock, family_of  # noqa: E402

MODELS = {
    "anthropic": "us.anthropic.claude-haiku-4-5-20251001-v1:0",
    "meta": "meta.llama3-1-70b-instruct-v1:0",
    "amazon": "amazon.nova-lite-v1:0",
    "mistral": "mistral.mistral-large-2407-v1:0",
}
PROMPT = "Summarise the quarterly figures in two sentences."
MESSAGES = [{"role": "user", "content": [{"text": PROMPT}]}]


def native_request(family: str) -> dict:
    """An ``InvokeModel`` body in the family's own format."""
    if family == "anthropic":
        return {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 300,
                "messages": [{"role": "user", "content": PROMPT}]}  # fmt: skip
    if family == "meta":
        return {"prompt": PROMPT, "max_gen_len": 300}
    if family == "amazon":
        return {"schemaVersion": "messages-v1", "messages": MESSAGES,
                "inferenceConfig": {"maxTokens": 300}}  # fmt: skip
    return {"messages": [{"role": "user", "content": PROMPT}], "max_tokens": 300}


def native_usage(family: str, body: dict) -> tuple[int, int]:
    """(input, output) tokens as each family's body reports them."""
    if family == "anthropic":
        return body["usage"]["input_tokens"], body["usage"]["output_tokens"]
    if family == "meta":
        return body["prompt_token_count"], body["generation_token_count"]
    if family == "amazon":
        return body["usage"]["inputTokens"], body["usage"]["outputTokens"]
    return body["usage"]["prompt_tokens"], body["usage"]["completion_tokens"]


@pytest.fixture(scope="module")
def fake():
    with FakeBedrock(stream_chunks=5) as server:
        yield server


@pytest.fixture(scope="module")
def client(fake):
    return fake.client()


def test_cross_region_profiles_name_their_family():
    assert family_of("us.anthropic.claude-sonnet-4-5-20250929-v1:0") == "anthropic"
    assert family_of("global.anthropic.claude-haiku-4-5-20251001-v1:0") == "anthropic"
    assert family_of("eu.meta.llama3-2-3b-instruct-v1:0") == "meta"
    assert family_of("amazon.nova-pro-v1:0") == "amazon"


@pytest.mark.parametrize("family", MODELS)
def test_converse_and_its_stream_report_the_same_usage(client, family):
    plain = client.converse(modelId=MODELS[family], messages=MESSAGES,
                            inferenceConfig={"maxTokens": 300})  # fmt: skip
    usage = plain["usage"]
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"] > 0
    assert plain["stopReason"] in ("end_turn", "max_tokens")

    events = list(client.converse_stream(modelId=MODELS[family], messages=MESSAGES,
                                         inferenceConfig={"maxTokens": 300})["stream"])  # fmt: skip
    kinds = [next(iter(event)) for event in events]
    assert kinds == ["messageStart", *["contentBlockDelta"] * 5, "contentBlockStop",
                     "messageStop", "metadata"]  # fmt: skip
    assert events[-1]["metadata"]["usage"] == usage
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events[1:6])
    assert text.split() == plain["output"]["message"]["content"][0]["text"].split()


@pytest.mark.parametrize("family", MODELS)
def test_invoke_model_answers_the_familys_body_and_the_token_headers(client, family):
    response = client.invoke_model(modelId=MODELS[family], body=json.dumps(native_request(family)))
    body = json.loads(response["body"].read())
    headers = response["ResponseMetadata"]["HTTPHeaders"]

    assert response["contentType"] == "application/json"
    input_tokens, output_tokens = native_usage(family, body)
    assert int(headers["x-amzn-bedrock-input-token-count"]) == input_tokens > 0
    assert int(headers["x-amzn-bedrock-output-token-count"]) == output_tokens > 0


@pytest.mark.parametrize("family", MODELS)
def test_invoke_model_stream_ends_with_the_invocation_metrics(client, family):
    request = json.dumps(native_request(family))
    plain = json.loads(client.invoke_model(modelId=MODELS[family], body=request)["body"].read())
    response = client.invoke_model_with_response_stream(modelId=MODELS[family], body=request)
    chunks = [json.loads(event["chunk"]["bytes"]) for event in response["body"]]

    metrics = chunks[-1]["amazon-bedrock-invocationMetrics"]
    assert (metrics["inputTokenCount"], metrics["outputTokenCount"]) == native_usage(family, plain)
    assert all("amazon-bedrock-invocationMetrics" not in chunk for chunk in chunks[:-1])
    if family == "anthropic":  # Anthropic's own events, usage in message_start/message_delta
        assert chunks[0]["type"] == "message_start"
        assert chunks[-2]["usage"]["output_tokens"] == plain["usage"]["output_tokens"]
    if family == "meta":
        assert chunks[0]["prompt_token_count"] == plain["prompt_token_count"]
        assert chunks[-1]["generation_token_count"] == plain["generation_token_count"]


def test_the_older_mistral_models_answer_outputs_without_usage(client):
    request = {"prompt": "<s>[INST] hello [/INST]", "max_tokens": 50}
    response = client.invoke_model(modelId="mistral.mistral-7b-instruct-v0:2",
                                   body=json.dumps(request))  # fmt: skip
    body = json.loads(response["body"].read())
    assert set(body) == {"outputs"}
    assert int(response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-bedrock-output-token-count"])


def test_a_cache_point_writes_the_prefix_then_reads_it(fake):
    client = fake.client()
    system = [
        {"text": "You are the finance team's assistant. " * 140},
        {"cachePoint": {"type": "default"}},
    ]
    first = client.converse(modelId=MODELS["anthropic"], system=system, messages=MESSAGES)["usage"]
    second = client.converse(modelId=MODELS["anthropic"], system=system, messages=MESSAGES)["usage"]

    assert first["cacheWriteInputTokens"] > 1024
    assert first["cacheReadInputTokens"] == 0
    assert second["cacheReadInputTokens"] == first["cacheWriteInputTokens"]
    assert second["inputTokens"] == first["inputTokens"]
    assert second["totalTokens"] == sum(v for k, v in second.items() if k != "totalTokens")


def test_anthropic_bedrock_and_boto3_report_the_same_usage(fake):
    """The same request through ``AnthropicBedrock`` (its own fake) and through boto3."""
    anthropic = pytest.importorskip("anthropic")
    request = native_request("anthropic")
    model = "anthropic.claude-haiku-4-5-20251001-v1:0"
    boto = json.loads(
        fake.client().invoke_model(modelId=model, body=json.dumps(request))["body"].read()
    )
    native = fake.anthropic.bedrock_client().messages.create(
        model=model, **{k: v for k, v in request.items() if k != "anthropic_version"}
    )
    assert isinstance(native, anthropic.types.Message)
    assert native.usage.input_tokens == boto["usage"]["input_tokens"]
    assert native.usage.output_tokens == boto["usage"]["output_tokens"]


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, "ValidationException"), (403, "AccessDeniedException"),
     (429, "ThrottlingException"), (500, "InternalServerException"),
     (503, "ServiceUnavailableException")],
)  # fmt: skip
def test_errors_are_the_clients_modeled_exceptions(fake, client, status, error):
    fake.fail_next(status)
    with pytest.raises(ClientError) as raised:
        client.converse(modelId=MODELS["amazon"], messages=MESSAGES)
    assert type(raised.value) is getattr(client.exceptions, error)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


def test_an_exception_event_mid_stream_is_an_event_stream_error(fake, client):
    fake.break_next_stream(after=3, error={"type": "modelStreamErrorException", "message": "x"})
    stream = client.converse_stream(modelId=MODELS["amazon"], messages=MESSAGES)["stream"]
    received = []
    with pytest.raises(EventStreamError) as raised:
        received.extend(stream)
    assert len(received) == 3
    assert raised.value.response["Error"]["Code"] == "modelStreamErrorException"


@pytest.mark.parametrize("operation", ["converse_stream", "invoke_model_with_response_stream"])
def test_a_connection_lost_mid_stream_raises_from_urllib3(fake, client, operation):
    fake.break_next_stream(after=2)
    if operation == "converse_stream":
        events = client.converse_stream(modelId=MODELS["meta"], messages=MESSAGES)["stream"]
    else:
        events = client.invoke_model_with_response_stream(
            modelId=MODELS["meta"], body=json.dumps(native_request("meta"))
        )["body"]
    received = []
    with pytest.raises(ProtocolError):
        received.extend(events)
    assert len(received) == 2


def test_an_unanswered_connection_is_a_botocore_connection_error(fake, client):
    from botocore.exceptions import ConnectionClosedError

    fake.raise_next(ConnectionResetError())
    with pytest.raises(ConnectionClosedError):
        client.converse(modelId=MODELS["amazon"], messages=MESSAGES)
