"""``Usage``: a frozen value whose subsets (cache, reasoning) stay inside the totals, and the
rough token estimate used when a provider reports nothing."""

from __future__ import annotations

import dataclasses

import pytest

from tokentrail import Usage
from tokentrail.usage import estimate_tokens


def test_usage_is_a_frozen_dataclass():
    usage = Usage(input_tokens=10, output_tokens=5)

    assert dataclasses.is_dataclass(usage)
    with pytest.raises(dataclasses.FrozenInstanceError):
        usage.input_tokens = 11  # type: ignore[misc]
    assert usage == Usage(input_tokens=10, output_tokens=5)
    assert hash(usage) == hash(Usage(input_tokens=10, output_tokens=5))


def test_defaults_are_zero_and_exact():
    usage = Usage()

    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (0, 0, 0)
    assert usage.details == ()
    assert usage.estimated is False


def test_total_counts_input_and_output_only():
    """Cache and reasoning tokens are subsets: they are not added again."""
    usage = Usage(
        input_tokens=1200,
        output_tokens=300,
        cache_read_tokens=1024,
        cache_write_tokens=100,
        reasoning_tokens=128,
    )

    assert usage.total_tokens == 1500


def test_addition_sums_every_count_and_merges_details():
    first = Usage(1, 2, 3, 4, 5, 6, 7, details=(("input_audio_tokens", 10),))
    second = Usage(
        10, 20, 30, 40, 50, 60, 70, details=(("input_audio_tokens", 1), ("output_audio_tokens", 2))
    )

    total = first + second

    assert total == Usage(
        11, 22, 33, 44, 55, 66, 77, details=(("input_audio_tokens", 11), ("output_audio_tokens", 2))
    )
    assert (first + Usage(estimated=True)).estimated is True
    assert (first + second).estimated is False


def test_addition_with_something_else_is_a_type_error():
    with pytest.raises(TypeError):
        Usage() + 1


@pytest.mark.parametrize(
    ("content", "tokens"),
    [
        ("", 0),
        ("abcd", 1),
        ("abcde", 2),  # rounds up
        ([{"role": "user", "content": "a" * 40}], 10),
        (
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "a" * 8},
                        {"type": "image_url", "image_url": {"url": "x" * 99}},
                    ],
                }
            ],
            2,
        ),
        ({"input": "a" * 4, "instructions": "b" * 4, "model": "ignored-key"}, 2),
        (type("Part", (), {"text": "a" * 12})(), 3),
        (None, 0),
        (42, 0),
    ],
    ids=["empty", "one", "round-up", "messages", "parts", "mapping", "object-text", "none", "int"],
)
def test_estimate_tokens(content, tokens):
    """About four characters per token, counting text only (roles, urls, keys are not text)."""
    assert estimate_tokens(content) == tokens
