"""Property-based fuzzing of each provider's usage extraction (Hypothesis).

Each target builds SDK objects the way the SDK does from a server's JSON (leniently: a wrong
type stays as it came), with a usage that may be malformed, partial, huge, negative,
wrong-typed or missing, runs the provider's extractor or stream accumulator, and ends a real
call with the result (pricing, span, metrics), in strict mode so that any internal error
fails. For every example:

* nothing raises;
* no token count and no cost is negative, on the span or in the metrics;
* a usage that is unreadable — a count that is not a whole number from 0 to ``MAX_TOKENS``, a
  usage or part of one that is not a record, a part larger than its whole — is ``unpriced``
  with no token counts, never $0;
* a readable one is reported as the provider's documented mapping says, and priced (or, when
  its modality breakdown does not add up for the model's prices, unpriced).

The default run is short and derandomized (``EXAMPLES`` per target); ``TOKENTRAIL_FUZZ_EXAMPLES``
runs more (docs/reliability.md has the figures).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tokentrail import names as sc
from tokentrail.attribution import EMPTY
from tokentrail.pricing import PriceBook
from tokentrail.telemetry.emitter import Emitter
from tokentrail.telemetry.records import Request, Response
from tokentrail.testing import Telemetry
from tokentrail.usage import MAX_TOKENS, Usage

EXAMPLES = int(os.environ.get("TOKENTRAIL_FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
#: examples run, per target (reported by ``test_examples_ran``)
RAN: dict[str, int] = {}

# -- values ------------------------------------------------------------------------------------

GOOD = st.integers(0, 3_000_000)
BAD = st.one_of(
    st.integers(max_value=-1),
    st.integers(min_value=MAX_TOKENS + 1),
    st.sampled_from([-1, MAX_TOKENS + 1, 2**63, 2**64, -(2**63)]),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=4),
    st.lists(st.integers(0, 9), max_size=2),
)
#: a count as a server may send it: absent (None), plausible, or not a count at all
COUNT = st.one_of(st.none(), GOOD, GOOD, GOOD, BAD)
JUNK = st.one_of(st.text(max_size=4), st.integers(), st.lists(st.integers(0, 9), max_size=2))


def record(**fields: st.SearchStrategy) -> st.SearchStrategy:
    """A JSON object with any of ``fields`` (missing ones absent)."""
    return st.fixed_dictionaries({}, optional=fields)


def maybe(strategy: st.SearchStrategy) -> st.SearchStrategy:
    """A record, or nothing, or something that is not a record."""
    return st.one_of(st.none(), strategy, strategy, strategy, JUNK)


class Unreadable(Exception):
    """The oracle's verdict: the usage cannot be read."""


def n(value: Any) -> int:
    """The oracle's reading of a count: 0 when absent, else it must be a count."""
    if value is None:
        return 0
    if type(value) is not int or not 0 <= value <= MAX_TOKENS:
        raise Unreadable
    return value


def sub(value: Any) -> dict:
    """The oracle's reading of a nested record: {} when absent, else it must be one."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Unreadable
    return value


def as_sdk_has_it(value: Any) -> Any:
    """An SDK object as plain data, its fields as they are (extras included, nothing
    validated or converted)."""
    if hasattr(value, "__pydantic_fields__") and hasattr(value, "__dict__"):
        fields = {**vars(value), **(getattr(value, "__pydantic_extra__", None) or {})}
        return {key: as_sdk_has_it(item) for key, item in fields.items()}
    if isinstance(value, list):
        return [as_sdk_has_it(item) for item in value]
    return value


def expect_readable(usage: Usage) -> Usage:
    if not (
        usage.cache_read_tokens + usage.cache_write_tokens <= usage.input_tokens
        and usage.cache_write_1h_tokens <= usage.cache_write_tokens
        and usage.reasoning_tokens <= usage.output_tokens
    ):
        raise Unreadable
    return usage


# -- the call the extraction ends ----------------------------------------------------------------

TELEMETRY = Telemetry()
EMITTER = Emitter(
    price_book=PriceBook(),
    tracer_provider=TELEMETRY.tracer_provider,
    meter_provider=TELEMETRY.meter_provider,
)


@dataclass(frozen=True)
class Target:
    """One extraction: ``build(raw)`` makes the SDK objects from the JSON ``raw`` (as the SDK
    does: it turns some wrong types into right ones, e.g. ``false`` into 0) and runs the
    extractor (or the accumulator) on them: (the usage as the SDK has it, as plain data; the
    ``Response``). ``expect(usage)`` is what the provider's documented mapping makes of that
    usage (None: no usage; raises ``Unreadable``)."""

    provider: str
    operation: str
    model: str
    raw: st.SearchStrategy
    build: Callable[[Any], tuple[Any, Response]]
    expect: Callable[[Any], Usage | None]


def check(name: str, target: Target, raw: Any) -> None:
    RAN[name] = RAN.get(name, 0) + 1
    seen, response = target.build(raw)
    try:
        expected = target.expect(seen)
    except Unreadable:
        expected = "unreadable"
    TELEMETRY.clear()
    request = Request(target.operation, target.provider, target.model)
    EMITTER.start(request, EMPTY).end(response)
    (span,) = TELEMETRY.spans()
    attributes = span.attributes
    tokens = {
        k: v for k, v in attributes.items() if k.startswith("gen_ai.usage.") and "cost" not in k
    }
    assert all(v >= 0 for v in tokens.values()), tokens
    cost = attributes.get(sc.GEN_AI_USAGE_COST)
    status = attributes[sc.TOKENTRAIL_COST_STATUS]
    assert cost is None or cost >= 0, cost
    assert (cost is None) == (status == "unpriced"), (cost, status)
    if expected == "unreadable":
        assert status == "unpriced", (raw, attributes)
        assert not tokens, (raw, tokens)
    elif expected is None:
        assert status == "unpriced"
        assert not tokens
    else:
        assert tokens.get(sc.GEN_AI_USAGE_INPUT_TOKENS) == expected.input_tokens, (raw, tokens)
        assert tokens.get(sc.GEN_AI_USAGE_OUTPUT_TOKENS) == expected.output_tokens, (raw, tokens)
        assert tokens.get(sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, 0) == expected.cache_read_tokens
        assert status in ("priced", "estimated") or expected.details, (raw, attributes)
    totals = EMITTER.totals()
    assert all(v >= 0 for v in totals["tokens"].values())
    assert totals["cost_usd"] >= 0


# -- openai ----------------------------------------------------------------------------------------

OPENAI_CHAT_USAGE = maybe(
    record(
        prompt_tokens=COUNT,
        completion_tokens=COUNT,
        total_tokens=COUNT,
        prompt_tokens_details=maybe(
            record(cached_tokens=COUNT, cache_write_tokens=COUNT, audio_tokens=COUNT)
        ),
        completion_tokens_details=maybe(record(reasoning_tokens=COUNT, audio_tokens=COUNT)),
    )
)


def openai_chat_usage(raw: Any) -> Usage | None:
    if raw is None:
        return None
    usage = sub(raw)
    prompt, completion = (
        sub(usage.get("prompt_tokens_details")),
        sub(usage.get("completion_tokens_details")),
    )
    details = []
    if audio := n(prompt.get("audio_tokens")):
        details.append(("input_audio_tokens", audio))
    if audio := n(completion.get("audio_tokens")):
        details.append(("output_audio_tokens", audio))
    return expect_readable(
        Usage(
            input_tokens=n(usage.get("prompt_tokens")),
            output_tokens=n(usage.get("completion_tokens")),
            cache_read_tokens=n(prompt.get("cached_tokens")),
            cache_write_tokens=n(prompt.get("cache_write_tokens")),
            reasoning_tokens=n(completion.get("reasoning_tokens")),
            details=tuple(details),
        )
    )


def openai_chat(raw: Any) -> tuple[Any, Response]:
    from openai.types.chat import ChatCompletion

    from tokentrail.instrumentation.openai import extractors

    completion = ChatCompletion.construct(
        id="chatcmpl-1", choices=[], created=1, model="gpt-4o-2024-08-06",
        object="chat.completion", usage=raw,
    )  # fmt: skip
    return as_sdk_has_it(completion.usage), extractors.chat_response(
        completion, capture_content=False
    )


def openai_chat_stream(raw: Any) -> tuple[Any, Response]:
    """Content chunks, then the usage-only chunk (``include_usage``) with ``raw``."""
    from openai.types.chat import ChatCompletionChunk

    from tokentrail.instrumentation.openai.streams import CompletionStreamAccumulator

    base = {"id": "chatcmpl-1", "created": 1, "model": "gpt-4o-2024-08-06",
            "object": "chat.completion.chunk"}  # fmt: skip
    chunks = [
        ChatCompletionChunk.construct(
            **base, choices=[{"index": 0, "delta": {"content": "hi"}, "finish_reason": reason}]
        )
        for reason in (None, None, "stop")
    ]
    chunks.append(ChatCompletionChunk.construct(**base, choices=[], usage=raw))
    accumulator = CompletionStreamAccumulator(hide_usage_chunk=False, prompt="hello")
    for chunk in chunks:
        accumulator.add(chunk)
    return as_sdk_has_it(chunks[-1].usage), accumulator.response()


def openai_chat_stream_usage(raw: Any) -> Usage | None:
    """Without usage, the prompt ("hello": 2 tokens) and one token per content chunk."""
    return Usage(input_tokens=2, output_tokens=3) if raw is None else openai_chat_usage(raw)


OPENAI_RESPONSES_USAGE = maybe(
    record(
        input_tokens=COUNT,
        output_tokens=COUNT,
        total_tokens=COUNT,
        input_tokens_details=maybe(record(cached_tokens=COUNT)),
        output_tokens_details=maybe(record(reasoning_tokens=COUNT)),
    )
)


def openai_responses_usage(raw: Any) -> Usage | None:
    if raw is None:
        return None
    usage = sub(raw)
    inputs, outputs = (
        sub(usage.get("input_tokens_details")),
        sub(usage.get("output_tokens_details")),
    )
    return expect_readable(
        Usage(
            input_tokens=n(usage.get("input_tokens")),
            output_tokens=n(usage.get("output_tokens")),
            cache_read_tokens=n(inputs.get("cached_tokens")),
            reasoning_tokens=n(outputs.get("reasoning_tokens")),
        )
    )


def openai_responses(raw: Any) -> tuple[Any, Response]:
    from openai.types.responses import Response as OpenAIResponse

    from tokentrail.instrumentation.openai import extractors

    response = OpenAIResponse.construct(
        id="resp_1", created_at=1, model="gpt-4o-2024-08-06", object="response", output=[],
        status="completed", usage=raw,
    )  # fmt: skip
    return as_sdk_has_it(response.usage), extractors.responses_response(
        response, capture_content=False
    )


def openai_embeddings_usage(raw: Any) -> Usage | None:
    if raw is None:
        return None
    return Usage(input_tokens=n(sub(raw).get("prompt_tokens")))


def openai_embeddings(raw: Any) -> tuple[Any, Response]:
    from openai.types import CreateEmbeddingResponse

    from tokentrail.instrumentation.openai import extractors

    response = CreateEmbeddingResponse.construct(
        data=[], model="text-embedding-3-small", object="list", usage=raw
    )
    return as_sdk_has_it(response.usage), extractors.embeddings_response(response)


# -- anthropic -------------------------------------------------------------------------------------

ANTHROPIC_USAGE = maybe(
    record(
        input_tokens=COUNT,
        output_tokens=COUNT,
        cache_read_input_tokens=COUNT,
        cache_creation_input_tokens=COUNT,
        cache_creation=maybe(record(ephemeral_5m_input_tokens=COUNT,
                                    ephemeral_1h_input_tokens=COUNT)),
        output_tokens_details=maybe(record(thinking_tokens=COUNT)),
        server_tool_use=maybe(record(web_search_requests=COUNT)),
        iterations=st.one_of(
            st.none(),
            JUNK,
            st.lists(
                record(type=st.sampled_from(["compaction", "message"]), input_tokens=COUNT,
                       output_tokens=COUNT, cache_read_input_tokens=COUNT),
                max_size=2,
            ),
        ),
    )
)  # fmt: skip


def anthropic_usage(raw: Any, delta: Any = None) -> Usage | None:
    """Anthropic's input excludes the cache; tokentrail's includes reads and writes. For a
    stream, the delta's non-null fields win."""
    if raw is None:
        return None
    start = sub(raw)
    latest = {**start, **{k: v for k, v in sub(delta).items() if v is not None}}
    uncached, read = n(latest.get("input_tokens")), n(latest.get("cache_read_input_tokens"))
    write, output = n(latest.get("cache_creation_input_tokens")), n(latest.get("output_tokens"))
    write_1h = n(sub(start.get("cache_creation")).get("ephemeral_1h_input_tokens"))
    iterations = latest.get("iterations")
    if iterations is not None and not isinstance(iterations, list):
        raise Unreadable
    for entry in iterations or ():
        if isinstance(entry, dict) and entry.get("type") == "compaction":
            uncached += n(entry.get("input_tokens"))
            read += n(entry.get("cache_read_input_tokens"))
            output += n(entry.get("output_tokens"))
    return expect_readable(
        Usage(
            input_tokens=uncached + read + write,
            output_tokens=output,
            cache_read_tokens=read,
            cache_write_tokens=write,
            cache_write_1h_tokens=min(write_1h, write),
            reasoning_tokens=n(sub(latest.get("output_tokens_details")).get("thinking_tokens")),
            web_search_requests=n(sub(latest.get("server_tool_use")).get("web_search_requests")),
        )
    )


def anthropic_message(raw: Any) -> tuple[Any, Response]:
    from anthropic.types import Message

    from tokentrail.instrumentation.anthropic import extractors

    message = Message.construct(
        id="msg_1", content=[], model="claude-sonnet-4-20250514", role="assistant",
        stop_reason="end_turn", type="message", usage=raw,
    )  # fmt: skip
    return as_sdk_has_it(message.usage), extractors.message_response(message, capture_content=False)


def anthropic_stream(raws: tuple[Any, Any]) -> tuple[Any, Response]:
    """``message_start`` with the first usage, deltas, ``message_delta`` with the second."""
    from anthropic.types import (
        RawContentBlockDeltaEvent,
        RawMessageDeltaEvent,
        RawMessageStartEvent,
    )

    from tokentrail.instrumentation.anthropic.streams import MessageStreamAccumulator

    start, delta = raws
    message = {"id": "msg_1", "content": [], "model": "claude-sonnet-4-20250514",
               "role": "assistant", "type": "message", "usage": start}  # fmt: skip
    events = [RawMessageStartEvent.construct(type="message_start", message=message)]
    events += [
        RawContentBlockDeltaEvent.construct(
            type="content_block_delta", index=0, delta={"type": "text_delta", "text": "hi"}
        )
    ] * 3
    events.append(
        RawMessageDeltaEvent.construct(
            type="message_delta", delta={"stop_reason": "end_turn"}, usage=delta
        )
    )
    accumulator = MessageStreamAccumulator(capture_content=False)
    for event in events:
        accumulator.add(event)
    seen = (as_sdk_has_it(events[0].message.usage), as_sdk_has_it(events[-1].usage))
    return seen, accumulator.response()


def anthropic_stream_usage(raws: tuple[Any, Any]) -> Usage | None:
    start, delta = raws
    if start is None:
        return None
    if delta is not None and not isinstance(delta, dict):
        raise Unreadable
    return anthropic_usage(start, delta)


ANTHROPIC_DELTA = maybe(
    record(
        output_tokens=COUNT,
        input_tokens=COUNT,
        cache_read_input_tokens=COUNT,
        output_tokens_details=maybe(record(thinking_tokens=COUNT)),
    )
)

# -- google-genai ----------------------------------------------------------------------------------

MODALITY_KEYS = ("AUDIO", "IMAGE", "VIDEO", "DOCUMENT")
MODALITIES = st.sampled_from(["TEXT", "BOGUS", *MODALITY_KEYS])
DETAILS = st.one_of(
    st.none(), JUNK, st.lists(record(modality=MODALITIES, token_count=COUNT), max_size=3)
)
GEMINI_USAGE = maybe(
    record(
        prompt_token_count=COUNT,
        candidates_token_count=COUNT,
        thoughts_token_count=COUNT,
        cached_content_token_count=COUNT,
        tool_use_prompt_token_count=COUNT,
        total_token_count=COUNT,
        prompt_tokens_details=DETAILS,
        candidates_tokens_details=DETAILS,
    )
)


def gemini_usage(raw: Any) -> Usage | None:
    """Input is the prompt plus the tool-use prompt; output is candidates plus thoughts."""
    if raw is None:
        return None
    metadata = sub(raw)
    details = False
    for name in ("prompt_tokens_details", "candidates_tokens_details"):
        entries = metadata.get(name)
        if entries is not None and not isinstance(entries, list):
            raise Unreadable
        for entry in entries or ():
            if isinstance(entry, dict) and entry.get("modality") in MODALITY_KEYS:
                details = n(entry.get("token_count")) > 0 or details
    thoughts = n(metadata.get("thoughts_token_count"))
    usage = Usage(
        input_tokens=n(metadata.get("prompt_token_count"))
        + n(metadata.get("tool_use_prompt_token_count")),
        output_tokens=n(metadata.get("candidates_token_count")) + thoughts,
        cache_read_tokens=n(metadata.get("cached_content_token_count")),
        reasoning_tokens=thoughts,
        details=(("breakdown", 1),) if details else (),
    )
    return expect_readable(usage)


def gemini_metadata(raw: Any) -> Any:
    from google.genai import types

    if not isinstance(raw, dict):
        return raw
    fields = dict(raw)
    for name in ("prompt_tokens_details", "candidates_tokens_details"):
        if isinstance(fields.get(name), list):
            fields[name] = [
                types.ModalityTokenCount.model_construct(**e) if isinstance(e, dict) else e
                for e in fields[name]
            ]
    return types.GenerateContentResponseUsageMetadata.model_construct(**fields)


def gemini_generate(raw: Any) -> tuple[Any, Response]:
    from google.genai import types

    from tokentrail.instrumentation.google_genai import extractors

    response = types.GenerateContentResponse.model_construct(
        candidates=[types.Candidate(finish_reason="STOP", index=0)],
        model_version="gemini-2.5-flash", response_id="r1", usage_metadata=gemini_metadata(raw),
    )  # fmt: skip
    return as_sdk_has_it(response.usage_metadata), extractors.generate_response(
        response, tier=None, capture_content=False
    )


def gemini_stream(raw: Any) -> tuple[Any, Response]:
    """Two chunks with running totals that are fine, then the last one with ``raw``."""
    from google.genai import types

    from tokentrail.instrumentation.google_genai.streams import ChunkAccumulator

    running = types.GenerateContentResponseUsageMetadata(prompt_token_count=10)
    chunks = [
        types.GenerateContentResponse.model_construct(
            candidates=[types.Candidate(index=0)],
            model_version="gemini-2.5-flash",
            response_id="r1",
            usage_metadata=running,
        ),
        types.GenerateContentResponse.model_construct(
            candidates=[types.Candidate(index=0, finish_reason="STOP")],
            model_version="gemini-2.5-flash",
            response_id="r1",
            usage_metadata=gemini_metadata(raw),
        ),
    ]
    accumulator = ChunkAccumulator(prompt="hello", tier=None)
    for chunk in chunks:
        accumulator.add(chunk)
    return as_sdk_has_it(chunks[-1].usage_metadata), accumulator.response()


def gemini_stream_usage(raw: Any) -> Usage | None:
    # a last chunk without usage leaves the running total of the one before
    return gemini_usage(raw) if raw is not None else Usage(input_tokens=10)


EMBED_STATISTICS = st.lists(
    st.one_of(st.none(), GOOD, BAD, st.floats(0, 1e6).map(float)), min_size=1, max_size=3
)


def gemini_embed(counts: list[Any]) -> tuple[Any, Response]:
    from google.genai import types

    from tokentrail.instrumentation.google_genai import extractors

    response = types.EmbedContentResponse.model_construct(
        embeddings=[
            types.ContentEmbedding.model_construct(
                values=[0.1], statistics=types.ContentEmbeddingStatistics.model_construct(
                    token_count=c
                ),
            )
            for c in counts
        ]
    )  # fmt: skip
    return counts, Response(extractors.embed_usage(response))


def gemini_embed_usage(counts: list[Any]) -> Usage | None:
    if all(c is None for c in counts):
        return None
    total = 0
    for c in counts:
        if type(c) is float and c.is_integer():
            c = int(c)
        total += n(c)
    return Usage(input_tokens=total)


# -- the targets ----------------------------------------------------------------------------------

TARGETS = {
    "openai.chat": Target("openai", "chat", "gpt-4o", OPENAI_CHAT_USAGE, openai_chat,
                          openai_chat_usage),
    "openai.chat.stream": Target("openai", "chat", "gpt-4o", OPENAI_CHAT_USAGE,
                                 openai_chat_stream, openai_chat_stream_usage),
    "openai.responses": Target("openai", "chat", "gpt-4o", OPENAI_RESPONSES_USAGE,
                               openai_responses, openai_responses_usage),
    "openai.embeddings": Target("openai", "embeddings", "text-embedding-3-small",
                                maybe(record(prompt_tokens=COUNT, total_tokens=COUNT)),
                                openai_embeddings, openai_embeddings_usage),
    "anthropic.message": Target("anthropic", "chat", "claude-sonnet-4-0", ANTHROPIC_USAGE,
                                anthropic_message, anthropic_usage),
    "anthropic.stream": Target("anthropic", "chat", "claude-sonnet-4-0",
                               st.tuples(ANTHROPIC_USAGE, ANTHROPIC_DELTA), anthropic_stream,
                               anthropic_stream_usage),
    "google_genai.generate": Target("gcp.gemini", "generate_content", "gemini-2.5-flash",
                                    GEMINI_USAGE, gemini_generate, gemini_usage),
    "google_genai.stream": Target("gcp.gemini", "generate_content", "gemini-2.5-flash",
                                  GEMINI_USAGE, gemini_stream, gemini_stream_usage),
    "google_genai.embed": Target("gcp.gemini", "embeddings", "gemini-embedding-001",
                                 EMBED_STATISTICS, gemini_embed, gemini_embed_usage),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_usage_extraction_never_raises_never_goes_negative_and_never_prices_garbage(name):
    target = TARGETS[name]

    @FUZZ
    @given(target.raw)
    def fuzz(raw: Any) -> None:
        check(name, target, raw)

    fuzz()


def test_examples_ran(capsys):
    """How many examples each target ran (run after the targets; -s shows it)."""
    if RAN:
        with capsys.disabled():
            print(f"\nfuzz examples: {sum(RAN.values())} ({RAN})")
