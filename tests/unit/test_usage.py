"""``Usage``: a frozen value whose subsets (cache, reasoning) stay inside the totals, and the
rough token estimate used when a provider reports nothing."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

import tokentrail
import tokentrail.runtime
from tokentrail import Usage
from tokentrail.usage import (
    MAX_TOKENS,
    UNREADABLE_USAGE,
    UnreadableUsage,
    estimate_tokens,
)
from tokentrail.usage import readable as readable_usage


def test_usage_is_a_frozen_dataclass():
    usage = Usage(input_tokens=10, output_tokens=5)

    assert dataclasses.is_dataclass(usage)
    with pytest.raises(dataclasses.FrozenInstanceError):
        usage.input_tokens = 11  # type: ignore[misc]
    assert usage == Usage(input_tokens=10, output_tokens=5)
    assert hash(usage) == hash(Usage(input_tokens=10, output_tokens=5))


def test_usage_copies_pickles_and_replaces_like_any_dataclass():
    # built without the dataclass __init__ (as its mutable twin, then given its class)
    usage = Usage(1200, 300, 1024, 0, 0, 128, 0, (("input_audio_tokens", 40),), True)

    assert type(usage) is Usage
    assert pickle.loads(pickle.dumps(usage)) == usage
    assert copy.deepcopy(usage) == usage
    assert dataclasses.replace(usage, estimated=False) == Usage(
        input_tokens=1200,
        output_tokens=300,
        cache_read_tokens=1024,
        reasoning_tokens=128,
        details=(("input_audio_tokens", 40),),
    )
    assert dataclasses.asdict(usage)["reasoning_tokens"] == 128
    with pytest.raises(TypeError):
        Usage(1, tokens=2)  # type: ignore[call-arg]


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


@pytest.mark.parametrize(
    ("usage", "readable"),
    [
        (Usage(input_tokens=100, output_tokens=20, cache_read_tokens=60, cache_write_tokens=40,
               cache_write_1h_tokens=40, reasoning_tokens=20), True),
        (Usage(), True),  # nothing reported: none of anything
        (Usage(input_tokens=-1), False),
        (Usage(input_tokens=MAX_TOKENS + 1), False),
        (Usage(input_tokens=True), False),  # type: ignore[arg-type]
        (Usage(input_tokens=3.0), False),  # type: ignore[arg-type]
        (Usage(input_tokens=10, cache_read_tokens=6, cache_write_tokens=5), False),
        (Usage(input_tokens=10, cache_write_tokens=2, cache_write_1h_tokens=3), False),
        (Usage(output_tokens=10, reasoning_tokens=11), False),
        (Usage(input_tokens=10, details=(("input_audio_tokens", -2),)), False),
        (UNREADABLE_USAGE, False),
    ],
)  # fmt: skip
def test_a_usage_is_readable_when_its_counts_are_counts_and_its_parts_fit(usage, readable):
    assert readable_usage(usage) is readable


def test_an_unreadable_usage_is_unpriced_without_tokens_never_zero(instrumented, caplog):
    """The provider's usage is garbage: the call is counted as unpriced, once warned about,
    with no token counts, never as $0; it is no internal error (strict mode would raise)."""
    from tokentrail.attribution import EMPTY
    from tokentrail.telemetry.records import Request, Response

    runtime = tokentrail.runtime.state().runtimes()[-1]
    for _ in range(2):
        call = runtime.emitter.start(Request("chat", "openai", "gpt-4o"), EMPTY)
        call.end(Response(Usage(input_tokens=10, output_tokens=5, reasoning_tokens=6)))
    for span in instrumented.spans():
        assert span.attributes["tokentrail.cost.status"] == "unpriced"
        assert not any(k.startswith("gen_ai.usage.") for k in span.attributes)
    assert instrumented.value("tokentrail.requests", {"tokentrail.cost.status": "unpriced"}) == 2
    assert instrumented.value("tokentrail.tokens") == 0
    assert len([r for r in caplog.records if "cannot be read" in r.getMessage()]) == 1


def test_a_breakdown_that_does_not_fit_a_models_prices_is_unpriced_not_an_error(instrumented):
    """More cached audio than cached tokens: genai-prices refuses it; that is the provider's
    data, not a bug of ours: unpriced, the tokens kept."""
    from tokentrail.attribution import EMPTY
    from tokentrail.telemetry.records import Request, Response

    runtime = tokentrail.runtime.state().runtimes()[-1]
    usage = Usage(
        input_tokens=10, output_tokens=5, cache_read_tokens=2,
        details=(("cache_audio_read_tokens", 5),),
    )  # fmt: skip
    call = runtime.emitter.start(Request("chat", "gcp.gemini", "gemini-2.5-flash"), EMPTY)
    call.end(Response(usage))

    attributes = instrumented.span().attributes
    assert attributes["tokentrail.cost.status"] == "unpriced"
    assert attributes["gen_ai.usage.input_tokens"] == 10
    with pytest.raises(UnreadableUsage):
        tokentrail.calc_cost(usage, "gemini-2.5-flash", "gcp.gemini")
