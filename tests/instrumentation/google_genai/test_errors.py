"""The error policy with google-genai: the SDK's errors pass through unchanged and mark the
span; a budget refusal is raised before anything is sent; a request log that could not be
made still counts each request once. (That tokentrail's own faults never change what the
application gets is tests/reliability/test_fault_sites.py.)"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from google.genai import errors, types
from opentelemetry.trace import StatusCode

import tokentrail
from tokentrail.budgets.admission import Admission
from tokentrail.instrumentation.google_genai import extractors
from tokentrail.runtime import Runtime

from .conftest import get_weather


@pytest.mark.parametrize(
    ("status", "error"), [(400, errors.ClientError), (429, errors.ClientError),
                          (500, errors.ServerError), (503, errors.ServerError)]
)  # fmt: skip
def test_sdk_errors_propagate_unchanged_and_mark_the_span(gemini, instrumented, status, error):
    gemini.fake.fail_next(status)
    with pytest.raises(error) as raised:
        gemini.generate()

    assert type(raised.value) is error
    assert raised.value.code == status
    assert raised.value.message == f"fake error {status}"
    span = instrumented.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == error.__qualname__  # never the message
    assert span.attributes["error.type"] == error.__qualname__
    assert instrumented.value("tokentrail.requests", {"error.type": error.__qualname__}) == 1


def test_an_sdk_validation_error_before_sending_propagates(gemini, instrumented):
    with pytest.raises(ValueError, match="raw HTTP response"):
        gemini.drain(
            gemini.stream(config=types.GenerateContentConfig(should_return_http_response=True))
        )
    assert gemini.fake.requests == []
    assert instrumented.span().attributes["error.type"] == "ValueError"


def test_a_budget_refusal_is_raised_before_anything_is_sent(gemini, instrumented, monkeypatch):
    refusal = tokentrail.BudgetExceededError("team-core", Decimal(5), Decimal(5))

    def refuse(self: Runtime, request: Any, attribution: Any) -> Admission:
        return Admission(refusal=refusal)

    monkeypatch.setattr(Runtime, "admit", refuse)
    with pytest.raises(tokentrail.BudgetExceededError) as raised:
        gemini.generate()
    assert raised.value is refusal
    with pytest.raises(tokentrail.BudgetExceededError):
        gemini.stream()  # refused at the call, before a generator exists

    assert gemini.fake.requests == []
    assert [s.attributes["error.type"] for s in instrumented.spans()] == [
        "BudgetExceededError",
        "BudgetExceededError",
    ]


# -- faults (that the application sees nothing of them: tests/reliability) -----------------


def test_without_a_request_log_each_request_reports_itself_once(
    gemini, instrumented, lenient, monkeypatch
):
    """If the user call's log could not be made, its requests become ordinary child calls:
    still counted once each, and the user's span carries none of them."""

    def broken(config: Any) -> None:
        raise RuntimeError("injected fault")

    monkeypatch.setattr(extractors, "request_tier", broken)
    gemini.fake.tool_rounds = 1
    gemini.generate(config=types.GenerateContentConfig(tools=[get_weather]))

    spans = instrumented.spans()
    (parent,) = [s for s in spans if s.parent is None]
    children = [s for s in spans if s.parent is not None]
    assert len(children) == 2
    assert "tokentrail.cost.status" not in parent.attributes
    assert all(c.attributes["tokentrail.cost.status"] == "priced" for c in children)
    assert instrumented.value("tokentrail.requests") == 2
