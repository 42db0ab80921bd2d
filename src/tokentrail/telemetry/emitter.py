"""The one place that talks to the OpenTelemetry API.

An instrumentor describes a call as a ``Request``; ``Emitter.start()`` opens its span and
returns a ``Call``, which is ended exactly once with a ``Response`` (or an exception). Ending
prices the usage once; the span, the metrics and the listeners (budgets, alerts) all read that
same ``Call``, so they cannot disagree. Data flows one way: what the budgets decided before
the call (``admission``) and what the instrumentor keeps about it (``state``) are given to
``start()``; the outcome is written by the emitter when the call ends; nothing else writes
into a ``Call``.

A call may send several model requests (Gemini's automatic function calling): the instrumentor
then reports each request as a child ``Call`` (``start(parent=..., start_time=...)``, ended
with ``end_time``) and ends the user's call with ``container=True``: its span carries no usage
or cost and it records no metrics, so that every request is counted exactly once.

The hot path follows the rules in docs/architecture.md: the semconv histograms are recorded
directly with attribute dicts built once per (provider, operation, models, server,
attribution); tokentrail's own counters are fed from an in-process aggregate that observable
instruments read at collection time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextvars import ContextVar
from decimal import Decimal
from time import perf_counter, time_ns
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import SpanKind, Status, StatusCode

from .. import _guard
from .. import names as sc
from ..attribution import Attribution
from ..pricing import PriceBook
from ..pricing.cost import NOT_BILLED, UNPRICED_COST, Cost
from ..usage import UnreadableUsage, Usage, estimate_tokens, readable
from ..version import __version__
from .failures import may_have_been_billed
from .instruments import CallInstruments
from .records import EMPTY_RESPONSE, Request, Response

logger = logging.getLogger("tokentrail")

#: distinct metric attribute sets kept before new ones fold into one overflow series
_MAX_SERIES = 2000
_OVERFLOW = {"otel.metric.overflow": True}

#: ``current_call()``; set by ``Call.activate`` (and by a stream reader, per read)
current_call_var: ContextVar[Call | None] = ContextVar("tokentrail_current_call", default=None)

_PRICING = _guard.site("pricing", "tokentrail.pricing.book:PriceBook.cost")
_SPAN = _guard.site("span", "tokentrail.telemetry.emitter:Call.span_attributes")
_METRICS = _guard.site("metrics", "tokentrail.telemetry.emitter:Emitter.record")
#: the listeners are the budget tracker's (the only one tokentrail adds)
_LISTENER = _guard.site("listener", "tokentrail.budgets.tracker:BudgetTracker.on_call_end")


def current_call() -> Call | None:
    """The call whose SDK method is running (between ``Call.activate()`` and ``deactivate()``):
    what an instrumented method that the SDK calls from inside it reports to."""
    return current_call_var.get()


def finish_kind(reasons: tuple[str, ...] | None, error_type: str | None) -> str:
    """The ``tokentrail.finish_reason`` of a call: its first finish reason in the closed set
    of ``names.FINISH_KINDS`` (``error`` when it raised; ``stop`` when it finished without
    reporting one, as embeddings do; ``other`` when it reported one outside the set)."""
    if error_type is not None:
        return sc.FINISH_ERROR
    if not reasons:
        return sc.FINISH_STOP
    return sc.FINISH_REASON_KINDS.get(reasons[0].lower(), sc.FINISH_OTHER)


class _Series:
    """One metric attribute set and the running totals of tokentrail's counters for it."""

    __slots__ = ("common", "cost", "input", "output", "requests", "token_attrs", "tokens")

    def __init__(self, common: dict[str, Any]) -> None:
        self.common = common
        self.input = {**common, sc.GEN_AI_TOKEN_TYPE: sc.TOKEN_INPUT}
        self.output = {**common, sc.GEN_AI_TOKEN_TYPE: sc.TOKEN_OUTPUT}
        self.token_attrs = (
            self.input,
            self.output,
            {**common, sc.GEN_AI_TOKEN_TYPE: sc.TOKEN_CACHE_READ},
            {**common, sc.GEN_AI_TOKEN_TYPE: sc.TOKEN_CACHE_CREATION},
            {**common, sc.GEN_AI_TOKEN_TYPE: sc.TOKEN_REASONING},
        )
        #: input, output, cache_read, cache_creation, reasoning
        self.tokens = [0, 0, 0, 0, 0]
        self.cost = Decimal(0)
        #: (error.type, cost status, finish kind) -> [count, attributes]
        self.requests: dict[tuple[str | None, str, str], list[Any]] = {}

    def error_attrs(self, error_type: str) -> dict[str, Any]:
        return {**self.common, sc.ERROR_TYPE: error_type}


class Emitter:
    """Creates spans and records metrics for calls; owns tokentrail's instruments."""

    def __init__(
        self,
        *,
        price_book: PriceBook,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        capture_content: bool = False,
    ) -> None:
        self.price_book = price_book
        self.capture_content = capture_content
        self.tracer = trace.get_tracer(sc.SCOPE_NAME, __version__, tracer_provider)
        self.meter = metrics.get_meter(sc.SCOPE_NAME, __version__, meter_provider)
        #: called with each ended ``Call`` (budgets, alerts); each is guarded
        self.listeners: list[Callable[[Call], None]] = []
        self._unreadable_warned: set[tuple[str, str | None]] = set()
        #: the calls started and not ended yet (``end_unfinished``)
        self._open: dict[int, Call] = {}
        self._series: dict[tuple, _Series] = {}
        self._lock = threading.Lock()
        self.instruments = CallInstruments(
            self.meter,
            observe_tokens=self._observe_tokens,
            observe_cost=self._observe_cost,
            observe_requests=self._observe_requests,
            observe_internal_errors=_observe_internal_errors,
        )

    # -- calls -------------------------------------------------------------------------------

    def start(
        self,
        request: Request,
        attribution: Attribution,
        *,
        admission: Any = None,
        state: Any = None,
        with_span: bool = True,
        parent: Call | None = None,
        start_time: int | None = None,
    ) -> Call:
        """Open the span of a call that is about to be sent.

        ``admission``: what the budgets decided (its ``span_attributes`` go on the span, and
        the budget listener settles it when the call ends). ``state``: whatever the
        instrumentor keeps about the call until it ends. ``parent`` and ``start_time`` report
        a model request after it happened, inside another call: the span is a child of
        ``parent``'s span (not of the current one) and starts at ``start_time`` (ns since the
        epoch, ``time.time_ns()``); end the call with ``end_time``.
        """
        span = None
        if with_span:
            attributes: dict[str, Any] = {
                sc.GEN_AI_OPERATION_NAME: request.operation,
                sc.GEN_AI_PROVIDER_NAME: request.provider,
                # known for every call: False says "not streamed", which dashboards can filter
                sc.GEN_AI_REQUEST_STREAM: request.stream,
            }
            if request.model:
                attributes[sc.GEN_AI_REQUEST_MODEL] = request.model
            if request.server_address:
                attributes[sc.SERVER_ADDRESS] = request.server_address
            if request.server_port:
                attributes[sc.SERVER_PORT] = request.server_port
            if request.max_tokens is not None:
                attributes[sc.GEN_AI_REQUEST_MAX_TOKENS] = request.max_tokens
            if request.temperature is not None:
                attributes[sc.GEN_AI_REQUEST_TEMPERATURE] = request.temperature
            if attribution.values:
                attributes.update(attribution.span_attributes)
            if request.attributes:
                attributes.update(request.attributes)
            if admission is not None and admission.span_attributes:
                attributes.update(admission.span_attributes)
            name = f"{request.operation} {request.model}" if request.model else request.operation
            context = None
            if parent is not None and parent.span is not None:
                context = trace.set_span_in_context(parent.span)
            span = self.tracer.start_span(
                name,
                context=context,
                kind=SpanKind.CLIENT,
                attributes=attributes,
                start_time=start_time,
            )
        call = Call(self, request, attribution, span, admission, state, start_time)
        self._open[id(call)] = call
        return call

    def end_unfinished(self, error: BaseException | None) -> int:
        """End the calls that were started and are not over (at exit: a stream never read
        to its end nor closed, or a call a Ctrl-C interrupted between tokentrail's steps),
        with ``error`` (the exception that ends the process, if any); how many there were. A
        stream's call ends through its observer, with what the stream delivered so far (the
        usage it reported, else an estimate), as it would have had the stream been dropped."""
        unfinished = list(self._open.values())
        for call in unfinished:
            try:
                if call.ended:  # ending it was interrupted: end its span, if that was not reached
                    if call.span is not None and getattr(call.span, "end_time", None) is None:
                        call.span.end()
                    self._open.pop(id(call), None)
                    continue
                if call.observer is not None:
                    call.observer.end(error)  # with what its stream delivered so far
                if not call.ended:
                    if error is None:
                        call.end(EMPTY_RESPONSE)
                    else:
                        call.fail(error)
            except Exception as exc:
                _guard.report(_SPAN, exc)
        return len(unfinished)

    def finish(
        self,
        call: Call,
        response: Response,
        error: BaseException | None,
        end_time: int | None,
        container: bool,
    ) -> None:
        """End ``call`` (``Call.end``/``fail`` come here once): price it, end its span,
        record its metrics, tell the listeners. Each part fails on its own: a bug in one must
        neither leave the span open nor keep the spend from the budgets; and a Ctrl-C that
        lands here still ends the span."""
        span = call.span
        try:
            if container:
                usage, cost = None, NOT_BILLED  # its requests were priced as child calls
            else:
                usage, cost = self._priced(call.request, response, error)
            call.finished(response, error, end_time, container, usage, cost)
            if span is not None:
                try:
                    span.set_attributes(call.span_attributes())
                    if call.error_type is not None:
                        span.set_status(Status(StatusCode.ERROR, call.error_type))
                except Exception as exc:
                    _guard.report(_SPAN, exc)
        finally:
            if span is not None:
                span.end(end_time)
            self._open.pop(id(call), None)
        if not container:
            try:
                self.record(call)
            except Exception as exc:
                _guard.report(_METRICS, exc)
        for listener in self.listeners:
            try:
                listener(call)
            except Exception as exc:
                _guard.report(_LISTENER, exc)

    def _priced(
        self, request: Request, response: Response, error: BaseException | None
    ) -> tuple[Usage | None, Cost]:
        """The call's usage and what it cost. A failure without usage cost nothing (an error
        response is not billed), unless the request may have reached the model before it
        failed (``failures``): then its input is estimated from the prompt. A usage that
        cannot be read (``usage.readable``) is unpriced and has no token counts."""
        usage = response.usage
        if usage is None:
            if error is None:
                return None, UNPRICED_COST
            if not may_have_been_billed(error):
                return None, NOT_BILLED
            usage = Usage(input_tokens=estimate_tokens(request.prompt), estimated=True)
        elif not readable(usage):
            self._unreadable(request, response, "a count that is not a whole number of tokens")
            return None, UNPRICED_COST
        try:
            cost = self.price_book.cost(
                usage, request.provider, response.model, request.model, response.price_context
            )
        except UnreadableUsage as exc:  # odd data from the provider, not our error
            self._unreadable(request, response, str(exc))
            cost = UNPRICED_COST
        except Exception as exc:  # a price that cannot be computed is an unpriced call
            _guard.report(_PRICING, exc)
            cost = UNPRICED_COST
        return usage, cost

    def _unreadable(self, request: Request, response: Response, why: str) -> None:
        """Warn once per provider and model that its usage could not be read."""
        model = response.model or request.model
        key = (request.provider, model if isinstance(model, str) else None)
        if key in self._unreadable_warned or len(self._unreadable_warned) > 1000:
            return
        self._unreadable_warned.add(key)
        logger.warning(
            "tokentrail: %s reported a usage for %r that cannot be read (%s): such calls are "
            "counted as unpriced, never as $0",
            request.provider,
            key[1],
            why,
        )

    # -- metrics -------------------------------------------------------------------------------

    def series(self, request: Request, response_model: str | None, attribution: Attribution):
        key = (
            request.provider,
            request.operation,
            request.model,
            response_model,
            request.server_address,
            attribution.metric_key,
        )
        series = self._series.get(key)
        if series is None:
            series = self._new_series(key, request, response_model, attribution)
        return series

    def _new_series(self, key, request: Request, response_model, attribution) -> _Series:
        with self._lock:
            series = self._series.get(key)
            if series is not None:
                return series
            if len(self._series) >= _MAX_SERIES:
                series = self._series.get(("overflow",))
                if series is None:
                    series = self._series[("overflow",)] = _Series(dict(_OVERFLOW))
                return series
            common: dict[str, Any] = {
                sc.GEN_AI_PROVIDER_NAME: request.provider,
                sc.GEN_AI_OPERATION_NAME: request.operation,
            }
            for name, value in (
                (sc.GEN_AI_REQUEST_MODEL, request.model),
                (sc.GEN_AI_RESPONSE_MODEL, response_model),
                (sc.SERVER_ADDRESS, request.server_address),
                (sc.TOKENTRAIL_FEATURE, attribution.feature),
                (sc.TOKENTRAIL_TEAM, attribution.team),
                (sc.TOKENTRAIL_ENDPOINT, attribution.endpoint),
            ):
                if value:
                    common[name] = value
            series = self._series[key] = _Series(common)
            return series

    def record(self, call: Call) -> None:
        """The metrics of one ended call: the histograms now, the counters' aggregate."""
        series = self.series(call.request, call.response.model, call.attribution)
        usage, cost, error_type = call.usage, call.cost, call.error_type
        instruments = self.instruments
        duration_attrs = series.common if error_type is None else series.error_attrs(error_type)
        # the context each recording would look up (for exemplars), looked up once
        context = otel_context.get_current()
        instruments.duration.record(call.duration, duration_attrs, context)
        if call.time_to_first_chunk is not None:
            instruments.time_to_first_chunk.record(call.time_to_first_chunk, series.common, context)
        if usage is not None:
            instruments.token_usage.record(usage.input_tokens, series.input, context)
            if call.request.operation != sc.OP_EMBEDDINGS:
                instruments.token_usage.record(usage.output_tokens, series.output, context)
        key = (error_type, cost.status, call.finish_kind)
        with self._lock:
            if usage is not None:
                tokens = series.tokens
                tokens[0] += usage.input_tokens
                tokens[1] += usage.output_tokens
                tokens[2] += usage.cache_read_tokens
                tokens[3] += usage.cache_write_tokens
                tokens[4] += usage.reasoning_tokens
            if cost.amount_usd is not None:
                series.cost += cost.amount_usd
            entry = series.requests.get(key)
            if entry is None:
                attrs = dict(duration_attrs)
                attrs[sc.TOKENTRAIL_COST_STATUS] = cost.status
                attrs[sc.TOKENTRAIL_FINISH_REASON] = call.finish_kind
                series.requests[key] = [1, attrs]
            else:
                entry[0] += 1

    # -- observable counters (run at collection time, not per call) ----------------------------

    def _observe_tokens(self, options: CallbackOptions) -> list[Observation]:
        with self._lock:
            return [
                Observation(count, attrs)
                for series in self._series.values()
                for count, attrs in zip(series.tokens, series.token_attrs, strict=True)
                if count
            ]

    def _observe_cost(self, options: CallbackOptions) -> list[Observation]:
        with self._lock:
            return [
                Observation(float(series.cost), series.common)
                for series in self._series.values()
                if series.cost
            ]

    def _observe_requests(self, options: CallbackOptions) -> list[Observation]:
        with self._lock:
            return [
                Observation(count, attrs)
                for series in self._series.values()
                for count, attrs in series.requests.values()
            ]

    def totals(self) -> dict[str, Any]:
        """Everything recorded so far: requests, tokens by type and cost (``Decimal``)."""
        with self._lock:
            series = list(self._series.values())
            tokens = [sum(s.tokens[i] for s in series) for i in range(5)]
            return {
                "requests": sum(e[0] for s in series for e in s.requests.values()),
                "tokens": dict(
                    zip(
                        (sc.TOKEN_INPUT, sc.TOKEN_OUTPUT, sc.TOKEN_CACHE_READ,
                         sc.TOKEN_CACHE_CREATION, sc.TOKEN_REASONING),
                        tokens,
                        strict=True,
                    )
                ),
                "cost_usd": sum((s.cost for s in series), Decimal(0)),
            }  # fmt: skip


def _observe_internal_errors(options: CallbackOptions) -> list[Observation]:
    # A zero series from the start, so that increase() sees the first error (a series that is
    # born with a value hides its first increment from Prometheus' increase()).
    return [_NO_INTERNAL_ERRORS] + [
        Observation(count, {sc.TOKENTRAIL_ERROR_SITE: site})
        for site, count in _guard.counts().items()
    ]


_NO_INTERNAL_ERRORS = Observation(0)


class Call:
    """One model request in flight. Ends exactly once: ``end()`` or ``fail()``.

    Set when it starts: ``request``, ``attribution``, ``admission`` (what the budgets decided,
    or None), ``state`` (the instrumentor's), ``span``. Set by the emitter when it ends: the
    outcome (``response``, ``usage``, ``cost``, ``error_type``, ``finish_kind``,
    ``duration``). A call ended with ``container=True`` reported its model requests as child
    calls: its span gets the response metadata and the error, but no usage or cost; it records
    no metrics; its ``cost`` is ``NOT_BILLED``; the listeners still run (to settle a budget
    reservation made for it). A streamed call's ``observer`` (``observed_by``) is what reads
    its stream: the one that can end it with what the stream delivered.
    """

    __slots__ = (
        "_call_token",
        "_context",
        "_token",
        "admission",
        "attribution",
        "container",
        "cost",
        "duration",
        "emitter",
        "ended",
        "error_type",
        "finish_kind",
        "observer",
        "request",
        "response",
        "span",
        "start_time",
        "started",
        "state",
        "time_to_first_chunk",
        "usage",
    )

    def __init__(
        self,
        emitter: Emitter,
        request: Request,
        attribution: Attribution,
        span: Any,
        admission: Any,
        state: Any,
        start_time: int | None,
    ) -> None:
        self.emitter = emitter
        self.request = request
        self.attribution = attribution
        self.span = span
        self.admission = admission
        self.state = state
        self.started = perf_counter()
        #: ns since the epoch when the call was reported after it happened, else None
        self.start_time = start_time
        self.ended = False
        self.container = False
        self.usage: Usage | None = None
        self.cost: Cost = UNPRICED_COST
        self.response: Response = EMPTY_RESPONSE
        self.duration = 0.0
        self.time_to_first_chunk: float | None = None
        self.error_type: str | None = None
        self.finish_kind: str = sc.FINISH_OTHER
        self._token: object = None
        self._call_token: Any = None
        self._context: Any = None
        self.observer: Any = None

    # -- context ------------------------------------------------------------------------------

    def activate(self) -> None:
        """Make the span current while the SDK sends the request (HTTP spans nest under it),
        and this call the ``current_call()``. A stream that sends its request as it is read
        (google-genai) activates its call around its reads: the context with the span is made
        once, from the context the call started in."""
        self._call_token = current_call_var.set(self)
        if self.span is not None:
            context = self._context
            if context is None:
                context = self._context = trace.set_span_in_context(self.span)
            self._token = otel_context.attach(context)

    def deactivate(self) -> None:
        if self._token is not None:
            otel_context.detach(self._token)
            self._token = None
        if self._call_token is not None:
            current_call_var.reset(self._call_token)
            self._call_token = None

    def observed_by(self, observer: Any) -> None:
        """``observer`` reads this call's stream and ends the call when the stream is over
        (``telemetry.stream.StreamObserver``)."""
        self.observer = observer

    def first_chunk(self, seconds: float | None = None) -> None:
        """The first chunk of a stream arrived (now, or ``seconds`` after the start)."""
        if self.time_to_first_chunk is None:
            self.time_to_first_chunk = perf_counter() - self.started if seconds is None else seconds

    # -- ending ---------------------------------------------------------------------------------

    def end(
        self, response: Response, *, end_time: int | None = None, container: bool = False
    ) -> None:
        """The call succeeded (a stream: it was read, closed or dropped). ``end_time`` (ns
        since the epoch) ends a call reported after it happened."""
        if self.ended:
            return
        self.ended = True
        self.emitter.finish(self, response, None, end_time, container)

    def fail(
        self,
        exc: BaseException,
        response: Response = EMPTY_RESPONSE,
        *,
        end_time: int | None = None,
        container: bool = False,
    ) -> None:
        """The call (or the reading of its stream) raised ``exc``; ``response`` holds what
        arrived before."""
        if self.ended:
            return
        self.ended = True
        self.emitter.finish(self, response, exc, end_time, container)

    def finished(
        self,
        response: Response,
        error: BaseException | None,
        end_time: int | None,
        container: bool,
        usage: Usage | None,
        cost: Cost,
    ) -> None:
        """The emitter writes the outcome (only ``Emitter.finish`` calls this)."""
        if end_time is None:
            self.duration = perf_counter() - self.started
        elif self.start_time is not None:
            self.duration = (end_time - self.start_time) / 1e9
        else:  # ended now, reported as over at end_time: not the time since
            self.duration = perf_counter() - self.started - (time_ns() - end_time) / 1e9
        self.response = response
        self.container = container
        self.usage = usage
        self.cost = cost
        self.observer = None  # it refers to this call: no cycle left for the GC to find
        error_type = self.error_type = type(error).__qualname__ if error is not None else None
        self.finish_kind = finish_kind(response.finish_reasons, error_type)

    def span_attributes(self) -> dict[str, Any]:
        """What the span learns when the call ends."""
        response, error_type = self.response, self.error_type
        attributes: dict[str, Any] = {}
        if response.model:
            attributes[sc.GEN_AI_RESPONSE_MODEL] = response.model
        if response.id:
            attributes[sc.GEN_AI_RESPONSE_ID] = response.id
        if response.finish_reasons:
            # a list, not the record's tuple: OTel checks every value against the Sequence
            # ABC, which caches a list's answer but asks again for a tuple (~0.1 µs more)
            attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] = list(response.finish_reasons)
        usage = self.usage
        if usage is not None:
            attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] = usage.input_tokens
            attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] = usage.output_tokens
            if usage.cache_read_tokens:
                attributes[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = usage.cache_read_tokens
            if usage.cache_write_tokens:
                attributes[sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = usage.cache_write_tokens
            if usage.reasoning_tokens:
                attributes[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = usage.reasoning_tokens
        cost = self.cost
        if not self.container:  # a container's cost is on its child calls
            attributes[sc.TOKENTRAIL_COST_STATUS] = cost.status
            if cost.amount_usd is not None:
                attributes[sc.GEN_AI_USAGE_COST] = float(cost.amount_usd)
                if cost.source:
                    attributes[sc.TOKENTRAIL_PRICING_SOURCE] = cost.source
        if error_type is not None:
            attributes[sc.ERROR_TYPE] = error_type
        if response.attributes:
            attributes.update(response.attributes)
        return attributes

    @property
    def trace_id(self) -> str | None:
        if self.span is None:
            return None
        ctx = self.span.get_span_context()
        return format(ctx.trace_id, "032x") if ctx.is_valid else None
