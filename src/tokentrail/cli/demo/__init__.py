"""``tokentrail demo``: a realistic workload against built-in fake providers, instrumented the
way a user would instrument their app, with a live progress line and a closing table."""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import logging
import os
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, TextIO

import tokentrail

from .budgets import MAX_REQUEST_COST_USD, AlertLog, budgets
from .workload import Runner, Step

if TYPE_CHECKING:
    from .ledger import Ledger


def register(subcommands: Any) -> None:
    demo = subcommands.add_parser(
        "demo",
        help="run a realistic workload against built-in fake providers (no key, no network)",
        description="Run a realistic LLM workload against built-in fake providers: several "
        "features, teams and models, streams, cached prompts, reasoning, one unknown model and "
        "one failing call. Exports over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set.",
    )
    demo.add_argument(
        "--rounds", type=_positive_int, default=3, help="rounds of the workload (default 3)"
    )
    demo.add_argument("--forever", action="store_true", help="repeat until interrupted")
    demo.add_argument("--metrics-port", type=_port, help="serve Prometheus /metrics on this port")
    demo.add_argument(
        "--metrics-host", default="127.0.0.1", help="address for /metrics (default 127.0.0.1)"
    )
    demo.add_argument(
        "--linger",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="keep serving /metrics this long after the workload ends",
    )
    demo.add_argument(
        "--latency", type=_seconds, default=0.02, help="fake provider latency (s, default 0.02)"
    )
    demo.add_argument("--seed", type=int, default=7, help="random seed of the workload")
    demo.add_argument("--json", metavar="PATH", help="also write the summary as JSON here")
    demo.add_argument("--quiet", action="store_true", help="no progress, only the summary")


def _number(text: str, kind: type, what: str) -> Any:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None


def _positive_int(text: str) -> int:
    value = _number(text, int, "a whole number")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


def _port(text: str) -> int:
    value = _number(text, int, "a port number")
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"a port is between 1 and 65535, got {value}")
    return value


def _seconds(text: str) -> float:
    value = _number(text, float, "a number of seconds")
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0, got {text!r}")
    return value


def _traffic(latency: float, servers: contextlib.ExitStack) -> list[Step]:
    """The workload; ``servers`` closes the fakes that run a server (Bedrock's, the ones
    LiteLLM reaches) at the end."""
    from ...fakes.openai import FakeOpenAI
    from . import traffic_openai

    steps = traffic_openai.steps(FakeOpenAI(latency=latency))
    if _installed("google.genai"):
        from ...fakes.google_genai import FakeGemini
        from . import traffic_gemini

        steps += traffic_gemini.steps(FakeGemini(latency=latency))
    if _installed("anthropic"):
        from ...fakes.anthropic import FakeAnthropic
        from . import traffic_anthropic

        steps += traffic_anthropic.steps(FakeAnthropic(latency=latency))
    if _installed("boto3"):
        from ...fakes.bedrock import FakeBedrock
        from . import traffic_bedrock

        steps += traffic_bedrock.steps(servers.enter_context(FakeBedrock(latency=latency)))
    if _installed("mistralai"):
        from ...fakes.mistral import FakeMistral
        from . import traffic_mistral

        steps += traffic_mistral.steps(FakeMistral(latency=latency))
    if _installed("litellm"):
        from ...fakes.litellm import FakeProviders
        from . import traffic_litellm

        steps += traffic_litellm.steps(servers.enter_context(FakeProviders(latency=latency)))
    return steps


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package is missing
        return False


_NO_EXPORT = "in-process only (set OTEL_EXPORTER_OTLP_ENDPOINT or --metrics-port to export)"


class Progress:
    def __init__(self, out: TextIO, total: int | None, quiet: bool) -> None:
        self.out = out
        self.total = total
        self.quiet = quiet
        self.tty = out.isatty()
        self.done = 0
        self._last_print = 0.0

    def update(self, ledger: Ledger, label: str) -> None:
        self.done += 1
        if self.quiet:
            return
        errors = sum(ledger.errors.values())
        unpriced = sum(ledger.unpriced_models.values())
        status = (
            f"{ledger.calls} model calls  ${ledger.total_cost:.4f}  {errors} error(s)  "
            f"{unpriced} unpriced"
        )
        of = f"/{self.total}" if self.total else ""
        if self.tty:
            if self.total:
                filled = 24 * self.done // self.total
                bar = "█" * filled + "░" * (24 - filled)
                line = f"\r[{bar}] {self.done}{of} steps  {status}  {label[:32]:<32}"
            else:
                line = f"\r{self.done} steps  {status}  {label[:32]:<32}"
            self.out.write(line)
            self.out.flush()
        elif time.monotonic() - self._last_print > 1.0 or self.done == self.total:
            self._last_print = time.monotonic()
            print(f"  {self.done}{of} steps  {status}", file=self.out, flush=True)

    def finish(self) -> None:
        if self.tty and not self.quiet:
            self.out.write("\n")


class _Notes(logging.Handler):
    """Keeps what tokentrail logs during the demo, to show it after the table."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message not in self.messages:
            self.messages.append(message)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    notes = _Notes()
    logger = logging.getLogger("tokentrail")
    logger.addHandler(notes)
    logger.propagate = False
    try:
        return _run(args, out, notes)
    finally:
        logger.removeHandler(notes)
        logger.propagate = True


def _run(args: argparse.Namespace, out: TextIO, notes: _Notes) -> int:
    from .ledger import Ledger
    from .otel_setup import setup

    ledger = Ledger()
    alerts = AlertLog()
    telemetry = setup(ledger, metrics_port=args.metrics_port, metrics_host=args.metrics_host)
    tokentrail.instrument(
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        budgets=budgets(),
        alert_sinks=alerts.sinks(),
        max_request_cost_usd=MAX_REQUEST_COST_USD,
    )
    servers = contextlib.ExitStack()
    steps = _traffic(args.latency, servers)
    runner = Runner(args.seed)
    per_round = sum(step.weight for step in steps)
    progress = Progress(out, None if args.forever else per_round * args.rounds, args.quiet)
    if not args.quiet:
        print("tokentrail demo — built-in fake providers: no API key, no network", file=out)
        targets = telemetry.exporting_to or [_NO_EXPORT]
        for target in targets:
            print(f"  telemetry: {target}", file=out)
    with StopOnInterrupt(out) as stop:
        try:
            rounds = 0
            while (args.forever or rounds < args.rounds) and not stop.requested:
                for step in runner.round(steps):
                    if stop.requested:
                        break
                    runner.run(step)
                    progress.update(ledger, step.label)
                rounds += 1
        finally:
            progress.finish()
            runner.close()
            servers.close()
    # every span has ended by now (the ledger sees them as they end): report, then linger
    tokentrail.flush(timeout=5)
    _report(ledger, out)
    if alerts.alerts:
        print("\nalerts fired (sinks: LogSink, WebhookSink, SlackSink, PagerDutySink):", file=out)
        for line in alerts.lines():
            print(f"  {line}", file=out)
    for message in notes.messages:
        print(f"tokentrail: {message}", file=out)
    if args.json:
        summary = ledger.summary() | {"alerts": alerts.summary()}
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=2)
    _report_hint(bool(telemetry.exporting_to), out)
    if args.linger > 0 and not stop.requested:
        print(f"serving /metrics for {args.linger:g} s more", file=out, flush=True)
        with StopOnInterrupt(out) as stop:
            stop.wait(args.linger)
    tokentrail.uninstrument()
    telemetry.shutdown()
    return 0


class StopOnInterrupt:
    """Ctrl-C asks the demo to stop: the step in progress finishes (a KeyboardInterrupt raised
    wherever the signal lands — inside an SDK, a finaliser, an import — could be swallowed or
    turn into an unrelated traceback), then the summary is printed. A second Ctrl-C stops at
    once. Only the main thread can install a handler; elsewhere Ctrl-C keeps its default."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._event = threading.Event()
        self._previous: Any = None

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> None:
        self._event.wait(seconds)

    def _handle(self, signum: int, frame: Any) -> None:
        if self._event.is_set():
            raise KeyboardInterrupt
        self._event.set()
        print("\ninterrupted: finishing the call in progress, then the summary "
              "(Ctrl-C again to stop now)", file=self.out, flush=True)  # fmt: skip

    def __enter__(self) -> StopOnInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def _report_hint(exported: bool, out: TextIO) -> None:
    """How to get the weekly cost review of what this run did."""
    service = os.environ.get("OTEL_SERVICE_NAME", "tokentrail-demo")
    command = (
        f"tokentrail report --prometheus http://<prometheus>:9090 --match 'job=\"{service}\"' "
        "--since 1h"
    )
    print("\nThe cost review of this run (trend, projection, anomalies, efficiency):", file=out)
    if not exported:
        print(
            "  export it first: OTEL_EXPORTER_OTLP_ENDPOINT=<Collector> (collector/otelcol.yaml, "
            "scraped by Prometheus), then",
            file=out,
        )
    print(f"  {command}", file=out)
    print(
        "  add --spans <dir> (collector/examples/span-files.yaml) for top users and calls, "
        "--format html -o report.html for charts",
        file=out,
    )


def _report(ledger: Ledger, out: TextIO) -> None:
    print("\nCalls, tokens and cost by feature, team and model (from the spans):\n", file=out)
    print(ledger.table(), file=out)
    if ledger.unpriced_models:
        models = ", ".join(f"{m} ({n})" for m, n in ledger.unpriced_models.items())
        print(
            f"\nunpriced: {models} — counted as tokentrail_requests_total"
            '{tokentrail_cost_status="unpriced"}, never as $0; add a price with '
            "TOKENTRAIL_PRICES_FILE",
            file=out,
        )
    if ledger.errors:
        errors = ", ".join(f"{name} x{n}" for name, n in ledger.errors.items())
        print(f"failed calls: {errors} (span status ERROR, error.type set)", file=out)
