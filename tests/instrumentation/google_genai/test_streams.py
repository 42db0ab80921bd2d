"""The stream matrix, sync and async: however a Gemini stream ends (drained, broken out of,
closed, failed, dropped unread), its call ends exactly once with what arrived."""

from __future__ import annotations

import asyncio

import pytest
from google.genai import errors
from opentelemetry.trace import StatusCode

from tests.instrumentation.driver import collected

REQUESTS = "tokentrail.requests"


def _finished_spans(gemini, telemetry, n: int = 1) -> list:
    """The finished spans once ``n`` have ended. A dropped generator is closed when the last
    reference goes (an exception's traceback may hold one until the cycle collector runs);
    an async one by its event loop, a few iterations later."""
    if len(telemetry.spans()) < n:
        collected()
    for _ in range(20):
        if len(telemetry.spans()) >= n or not gemini.asynchronous:
            break
        gemini.loop.run_until_complete(asyncio.sleep(0))
    return telemetry.spans()


def test_breaking_out_reports_the_usage_seen_so_far_as_estimated(gemini, instrumented):
    stream = gemini.stream()
    chunks = gemini.read_until_break(stream, 1)
    assert not instrumented.spans()  # the caller may still resume the stream
    del stream

    (span,) = _finished_spans(gemini, instrumented)
    seen = chunks[0].usage_metadata
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes["gen_ai.usage.input_tokens"] == seen.prompt_token_count
    assert span.attributes["gen_ai.usage.output_tokens"] == (
        seen.candidates_token_count + seen.thoughts_token_count
    )
    assert span.attributes["tokentrail.cost.status"] == "estimated"
    assert instrumented.value(REQUESTS, {"tokentrail.cost.status": "estimated"}) == 1


def test_closing_early_ends_the_call_at_once(gemini, instrumented):
    stream = gemini.stream()
    gemini.take(stream, 2)
    gemini.close(stream)

    span = instrumented.span()
    assert span.attributes["tokentrail.cost.status"] == "estimated"
    assert instrumented.value(REQUESTS) == 1
    assert len(gemini.fake.requests) == 1


def test_an_error_mid_stream_propagates_and_keeps_what_arrived(gemini, instrumented):
    gemini.fake.break_next_stream(after=1, status=503)
    stream = gemini.stream()
    chunks: list = []
    with pytest.raises(errors.ServerError) as raised:
        gemini.drain(stream, into=chunks)

    assert raised.value.code == 503
    assert len(chunks) == 1
    span = instrumented.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "ServerError"
    seen = chunks[0].usage_metadata
    assert span.attributes["gen_ai.usage.input_tokens"] == seen.prompt_token_count
    assert span.attributes["tokentrail.cost.status"] == "estimated"
    assert instrumented.value(REQUESTS, {"error.type": "ServerError"}) == 1


def test_an_error_status_fails_the_stream_before_any_chunk(gemini, instrumented):
    gemini.fake.fail_next(429)
    stream = gemini.stream()
    with pytest.raises(errors.ClientError) as raised:
        gemini.drain(stream)

    assert raised.value.code == 429
    span = instrumented.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "ClientError"
    assert "gen_ai.usage.input_tokens" not in span.attributes
    assert instrumented.value(REQUESTS, {"error.type": "ClientError"}) == 1
    assert instrumented.value("tokentrail.cost.usd") == 0


def test_an_application_error_while_reading_is_not_the_streams(gemini, instrumented):
    stream = gemini.stream()

    class Stop(Exception):
        pass

    with pytest.raises(Stop):
        gemini.raise_while_reading(stream, Stop())
    del stream

    (span,) = _finished_spans(gemini, instrumented)
    assert span.status.status_code is StatusCode.UNSET
    assert instrumented.value(REQUESTS) == 1


def test_a_stream_never_read_sends_nothing_and_counts_nothing(gemini, instrumented):
    stream = gemini.stream()
    del stream  # never started: nothing of it ran
    collected()

    assert gemini.fake.requests == []
    span = instrumented.span()  # ended, so that nothing stays open
    assert "gen_ai.usage.input_tokens" not in span.attributes
    assert "tokentrail.cost.status" not in span.attributes
    assert instrumented.value(REQUESTS) == 0
    assert instrumented.count("gen_ai.client.operation.duration") == 0


def test_a_stream_read_after_the_attribution_block_keeps_it(gemini, instrumented):
    import tokentrail

    with tokentrail.attribute(feature="digest"):
        stream = gemini.stream()
    gemini.drain(stream)
    assert instrumented.span().attributes["tokentrail.feature"] == "digest"


def test_chunks_pass_through_unchanged(gemini, fake, instrumented):
    """The caller sees the SDK's own chunk objects, the same ones uninstrumented."""
    instrumented_chunks = gemini.drain(gemini.stream())
    import tokentrail

    tokentrail.uninstrument()
    plain_chunks = gemini.drain(gemini.stream())
    assert [type(c) for c in instrumented_chunks] == [type(c) for c in plain_chunks]
    ignored = {"sdk_http_response", "response_id"}
    assert [c.model_dump(exclude=ignored) for c in instrumented_chunks] == [
        c.model_dump(exclude=ignored) for c in plain_chunks
    ]
