"""tokentrail's instruments: names (``names``), units, descriptions and bucket boundaries."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from opentelemetry.metrics import CallbackOptions, Counter, Histogram, Meter, Observation

from .. import names as sc

Callback = Callable[[CallbackOptions], Iterable[Observation]]


class CallInstruments:
    """The per-call instruments. The histograms are recorded synchronously; the counters are
    observable, fed from the emitter's in-process totals at collection time."""

    def __init__(
        self,
        meter: Meter,
        *,
        observe_tokens: Callback,
        observe_cost: Callback,
        observe_requests: Callback,
        observe_internal_errors: Callback,
    ) -> None:
        self.token_usage: Histogram = meter.create_histogram(
            sc.METRIC_TOKEN_USAGE,
            unit="{token}",
            description="Number of input and output tokens used",
            explicit_bucket_boundaries_advisory=sc.TOKEN_BUCKETS,
        )
        self.duration: Histogram = meter.create_histogram(
            sc.METRIC_OPERATION_DURATION,
            unit="s",
            description="GenAI operation duration",
            explicit_bucket_boundaries_advisory=sc.DURATION_BUCKETS,
        )
        self.time_to_first_chunk: Histogram = meter.create_histogram(
            sc.METRIC_TIME_TO_FIRST_CHUNK,
            unit="s",
            description="Time from sending a streamed request to receiving its first chunk",
            explicit_bucket_boundaries_advisory=sc.DURATION_BUCKETS,
        )
        meter.create_observable_counter(
            sc.METRIC_TOKENS,
            callbacks=[observe_tokens],
            unit="{token}",
            description="Tokens used, by type (input includes cache; output includes reasoning)",
        )
        meter.create_observable_counter(
            sc.METRIC_COST,
            callbacks=[observe_cost],
            unit="{USD}",
            description="Cost of priced calls in US dollars",
        )
        meter.create_observable_counter(
            sc.METRIC_REQUESTS,
            callbacks=[observe_requests],
            unit="{request}",
            description="Model requests, by outcome and pricing status",
        )
        meter.create_observable_counter(
            sc.METRIC_INTERNAL_ERRORS,
            callbacks=[observe_internal_errors],
            unit="{error}",
            description="Errors inside tokentrail that it caught (the calls went on)",
        )


def create_budget_gauges(
    meter: Meter, *, observe_spent: Callback, observe_limit: Callback, observe_remaining: Callback
) -> None:
    meter.create_observable_gauge(
        sc.METRIC_BUDGET_SPENT,
        callbacks=[observe_spent],
        unit="{USD}",
        description="Spending in the budget's current window",
    )
    meter.create_observable_gauge(
        sc.METRIC_BUDGET_LIMIT,
        callbacks=[observe_limit],
        unit="{USD}",
        description="The budget's limit per window",
    )
    meter.create_observable_gauge(
        sc.METRIC_BUDGET_WINDOW_REMAINING,
        callbacks=[observe_remaining],
        unit="s",
        description="Seconds until the budget's current window resets",
    )


def create_alerts_counter(meter: Meter) -> Counter:
    return meter.create_counter(
        sc.METRIC_ALERTS, unit="{alert}", description="Cost alerts fired, by kind and severity"
    )


def create_budget_store_errors_counter(meter: Meter, observe: Callback) -> None:
    meter.create_observable_counter(
        sc.METRIC_BUDGET_STORE_ERRORS,
        callbacks=[observe],
        unit="{error}",
        description="Budget store operations that failed or were skipped because the store "
        "was unreachable, and spending records dropped",
    )
