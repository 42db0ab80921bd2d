from __future__ import annotations

from decimal import Decimal

import pytest

from tokentrail import calc_cost
from tokentrail.budgets.money import to_nanos_ceil, to_usd
from tokentrail.budgets.tracker import DEFAULT_MAX_OUTPUT_TOKENS
from tokentrail.fakes.openai import FakeOpenAI
from tokentrail.usage import Usage, estimate_tokens

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Summarise the quarterly figures for the board."}]
#: a fixed usage for the fake: 1000 input and 500 output tokens of gpt-4o-mini
FIXED_USAGE = {
    "prompt_tokens": 1000,
    "completion_tokens": 500,
    "total_tokens": 1500,
    "prompt_tokens_details": {"cached_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0},
}
FIXED_COST = Decimal("0.00045")  # 1000 x $0.15/M + 500 x $0.60/M


def reservation(max_tokens: int | None, messages=MESSAGES) -> Decimal:
    """What a blocking budget holds for a call: the prompt estimate and max_tokens, priced."""
    usage = Usage(
        input_tokens=estimate_tokens(messages),
        output_tokens=max_tokens or DEFAULT_MAX_OUTPUT_TOKENS,
    )
    return to_usd(to_nanos_ceil(calc_cost(usage, MODEL, "openai").amount_usd))


@pytest.fixture
def fake() -> FakeOpenAI:
    return FakeOpenAI()


@pytest.fixture
def fixed_fake() -> FakeOpenAI:
    return FakeOpenAI(usage=FIXED_USAGE)


def chat(client, max_tokens: int | None = 500, **kwargs):
    if max_tokens is not None:
        kwargs["max_tokens"] = max_tokens
    return client.chat.completions.create(model=MODEL, messages=MESSAGES, **kwargs)
