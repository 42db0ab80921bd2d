"""``with_raw_response`` and ``with_streaming_response`` keep working: the caller gets the
SDK's ``APIResponse`` (whose ``parse()`` is a coroutine on the async client), and the call is
counted once — priced when the body was read, unpriced when the caller reads it itself."""

from __future__ import annotations

import anthropic
import pytest

from tokentrail import names as sc

from .conftest import REQUEST


@pytest.mark.parametrize("method", ["messages", "beta.messages"])
def test_with_raw_response_returns_the_sdks_response_and_prices_the_call(instrumented, api, method):
    raw = api.call(f"{method}.with_raw_response.create", **REQUEST)

    expected = anthropic.AsyncAPIResponse if api.asynchronous else anthropic.APIResponse
    assert isinstance(raw, expected)
    message = api.wait(raw.parse())
    assert raw.headers["request-id"].startswith("req_")
    span = instrumented.span()
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] == message.id
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == message.usage.output_tokens
    assert span.attributes[sc.TOKENTRAIL_COST_STATUS] == "priced"


def test_a_raw_streamed_response_is_counted_unpriced(instrumented, api):
    raw = api.call("messages.with_raw_response.create", **REQUEST, stream=True)

    events = api.drain(api.wait(raw.parse()))
    assert events[-1].type == "message_stop"
    span = instrumented.span()
    assert span.attributes[sc.TOKENTRAIL_COST_STATUS] == "unpriced"
    assert instrumented.value(sc.METRIC_REQUESTS) == 1


def test_with_streaming_response_is_read_by_the_caller_and_counted_unpriced(instrumented, api):
    if api.asynchronous:

        async def read():
            async with api.client.messages.with_streaming_response.create(**REQUEST) as response:
                return await response.parse()

        message = api.wait(read())
    else:
        with api.client.messages.with_streaming_response.create(**REQUEST) as response:
            message = response.parse()

    assert message.usage.output_tokens > 0
    span = instrumented.span()
    assert span.attributes[sc.TOKENTRAIL_COST_STATUS] == "unpriced"
    assert instrumented.value(sc.METRIC_REQUESTS) == 1
