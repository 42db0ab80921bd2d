"""Fixtures for the Bedrock instrumentor tests: a ``FakeBedrock`` server on a loopback port,
a boto3 ``bedrock-runtime`` client of it, and the requests of each call and model family.

boto3 is synchronous only (aiobotocore, its asyncio twin, is another package), so unlike the
other providers' suites there is no async flavour to run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.instrumentation.driver import (  # noqa: F401 - fixtures
    _collections_skip_what_is_loaded,
)
from tokentrail.fakes.bedrock import FakeBedrock

PROMPT = "Summarise the quarterly figures in two sentences."
MODEL = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
MESSAGES = [{"role": "user", "content": [{"text": PROMPT}]}]
CONVERSE = {"modelId": MODEL, "messages": MESSAGES, "inferenceConfig": {"maxTokens": 256}}

#: one model of each family the fake answers, and its native ``InvokeModel`` body
FAMILIES: dict[str, tuple[str, dict[str, Any]]] = {
    "anthropic": (MODEL, {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 256,
                          "messages": [{"role": "user", "content": PROMPT}]}),
    "meta": ("meta.llama3-1-70b-instruct-v1:0", {"prompt": PROMPT, "max_gen_len": 256}),
    "nova": ("amazon.nova-lite-v1:0", {"schemaVersion": "messages-v1", "messages": MESSAGES,
                                       "inferenceConfig": {"max_new_tokens": 256}}),
    "mistral": ("mistral.mistral-large-2402-v1:0",
                {"messages": [{"role": "user", "content": PROMPT}], "max_tokens": 256}),
}  # fmt: skip


def invoke_request(family: str, **body: Any) -> dict[str, Any]:
    """``invoke_model`` arguments for ``family`` (``body`` entries added to its body)."""
    model, native = FAMILIES[family]
    return {"modelId": model, "body": json.dumps({**native, **body})}


@pytest.fixture
def fake() -> Iterator[FakeBedrock]:
    """The fake Bedrock Runtime; streams have 6 text deltas."""
    with FakeBedrock(stream_chunks=6) as server:
        yield server


@pytest.fixture
def client(fake: FakeBedrock) -> Any:
    return fake.client()


def converse(client: Any, **kwargs: Any) -> Any:
    return client.converse(**{**CONVERSE, **kwargs})


def converse_stream(client: Any, **kwargs: Any) -> list[Any]:
    return list(client.converse_stream(**{**CONVERSE, **kwargs})["stream"])


def invoke(client: Any, family: str = "anthropic", **body: Any) -> dict[str, Any]:
    """``invoke_model``, its body read and decoded as an application does."""
    response = client.invoke_model(**invoke_request(family, **body))
    return json.loads(response["body"].read())


def invoke_stream(client: Any, family: str = "anthropic", **body: Any) -> list[dict[str, Any]]:
    """``invoke_model_with_response_stream``, drained; each chunk's JSON."""
    response = client.invoke_model_with_response_stream(**invoke_request(family, **body))
    return [json.loads(event["chunk"]["bytes"]) for event in response["body"]]
