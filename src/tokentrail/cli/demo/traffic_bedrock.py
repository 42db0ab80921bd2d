"""Amazon Bedrock traffic of the demo, through boto3's ``bedrock-runtime`` client against the
fake Bedrock Runtime (a loopback server the demo starts and stops): Converse with a cached
policy document (Claude through a US inference profile), a ConverseStream chat (Nova), and
``invoke_model`` in two model families' own formats (Llama, and Claude's Messages body through
a global profile), one of them throttled once."""

from __future__ import annotations

import json
from typing import Any

from ...fakes.bedrock import FakeBedrock
from .workload import Step

#: the insurer's claims policy, sent with every claim and cached by Bedrock after the first
POLICY = (
    "Policy 7.2: water damage is covered when sudden and accidental; gradual leaks, mould and "
    "wear are excluded. Claims above 5,000 USD need an adjuster's photos and a repair quote. "
) * 60

CLAUDE = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
CLAUDE_GLOBAL = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
NOVA = "amazon.nova-lite-v1:0"
LLAMA = "meta.llama3-1-8b-instruct-v1:0"


def steps(fake: FakeBedrock) -> list[Step]:
    client = fake.client()
    policy = [{"text": POLICY}, {"cachePoint": {"type": "default"}}]

    def claims() -> Any:
        return client.converse(
            modelId=CLAUDE,
            system=policy,
            messages=[
                {"role": "user", "content": [{"text": "Is a burst pipe in the attic covered?"}]}
            ],
            inferenceConfig={"maxTokens": 400},
        )

    def claims_chat() -> Any:
        stream = client.converse_stream(
            modelId=NOVA,
            messages=[{"role": "user", "content": [{"text": "Which documents do I need?"}]}],
            inferenceConfig={"maxTokens": 300},
        )["stream"]
        return list(stream)

    def tagging() -> Any:
        prompt = "Tag this claim: 'kitchen ceiling stain after heavy rain, 1,200 USD'"
        response = client.invoke_model(
            modelId=LLAMA, body=json.dumps({"prompt": prompt, "max_gen_len": 64})
        )
        return json.loads(response["body"].read())

    fraud_calls = 0

    def fraud_review() -> Any:
        nonlocal fraud_calls
        fraud_calls += 1
        if fraud_calls == 2:
            fake.fail_next(429)  # Bedrock throttles the account for a moment
        body = {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 600,
            "messages": [{"role": "user", "content": "Any signs of fraud in claim C-1042?"}],
        }
        response = client.invoke_model(modelId=CLAUDE_GLOBAL, body=json.dumps(body))
        return json.loads(response["body"].read())

    return [
        Step(
            "claims · Bedrock Converse, cached policy",
            {"feature": "claims", "team": "insurance", "endpoint": "/api/claims"},
            claims,
            weight=3,
        ),
        Step(
            "claims chat · Bedrock ConverseStream (Nova)",
            {"feature": "claims-chat", "team": "insurance", "user_id": "u-2048"},
            claims_chat,
            weight=2,
        ),
        Step(
            "tagging · Bedrock InvokeModel (Llama)",
            {"feature": "claim-tagging", "team": "data"},
            tagging,
            weight=2,
        ),
        Step(
            "fraud · Bedrock InvokeModel (Claude, global profile)",
            {"feature": "fraud-review", "team": "risk"},
            fraud_review,
            weight=2,
            expected_errors=(client.exceptions.ThrottlingException,),
        ),
    ]
