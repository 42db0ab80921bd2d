"""``tokentrail report``: the weekly cost review (totals, trend, projection, anomalies,
efficiency, top users and calls) from Prometheus and span files."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from . import CommandError

HELP = "the weekly cost review from Prometheus and span files"
EPILOG = """examples:
  tokentrail report --prometheus http://prometheus:9090 --since 7d
  tokentrail report --prometheus URL --spans /var/lib/otelcol/spans/ --format html -o week.html
  tokentrail report --prometheus URL --match 'job="checkout"' --monthly-budget 5000 --format json

Figures, thresholds and the JSON format: docs/report.md."""


def register(subcommands: Any) -> None:
    parser = subcommands.add_parser(
        "report",
        help=HELP,
        description="Where the money went, whether it is growing, when the budget runs out at "
        "this rate, which hours were abnormal, how efficient the prompts are, who the heaviest "
        "users and the most expensive calls are: from Prometheus (aggregates) and span files "
        "written by the Collector's file exporter (users, calls).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_argument_group("sources")
    source.add_argument(
        "--prometheus", metavar="URL", help="Prometheus HTTP API (Prometheus, Thanos, Mimir, ...)"
    )
    source.add_argument(
        "--spans",
        nargs="+",
        default=[],
        metavar="PATH",
        help="span files (OTLP JSON lines; .gz/.zst; directories and globs for rotated files)",
    )
    source.add_argument(
        "--match",
        default="",
        metavar="MATCHERS",
        help='label matchers added to every query, e.g. \'job="checkout",tokentrail_team="core"\'',
    )
    auth = parser.add_argument_group("Prometheus connection")
    auth.add_argument(
        "--bearer-token-file", metavar="FILE", help="send 'Authorization: Bearer <file content>'"
    )
    auth.add_argument(
        "--basic-auth", metavar="USER:PASSWORD", help="HTTP basic auth (or env PROMETHEUS_PASSWORD "
        "with USER alone)"
    )  # fmt: skip
    auth.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="NAME:VALUE",
        help="extra HTTP header, repeatable (e.g. X-Scope-OrgID:team-a)",
    )
    auth.add_argument("--ca-file", metavar="FILE", help="CA bundle to verify https:// with")
    auth.add_argument(
        "--insecure", action="store_true", help="do not verify the server's TLS certificate"
    )
    auth.add_argument(
        "--timeout", type=_positive, default=30.0, metavar="SECONDS", help="per query (default 30)"
    )
    when = parser.add_argument_group("range")
    when.add_argument("--since", metavar="DURATION", help="e.g. 24h, 7d, 4w (default 7d)")
    when.add_argument("--from", dest="start", metavar="TIME", help="ISO 8601 time or Unix seconds")
    when.add_argument("--to", dest="end", metavar="TIME", help="default: now")
    when.add_argument("--step", metavar="DURATION", help="resolution (default: from the range)")
    analysis = parser.add_argument_group("analysis")
    analysis.add_argument(
        "--z", type=_positive, default=3.0, help="anomaly threshold in standard deviations (3)"
    )
    analysis.add_argument(
        "--monthly-budget", type=_positive, metavar="USD", help="project against this budget"
    )
    analysis.add_argument(
        "--top", type=int, default=10, metavar="N", help="top users and calls to list (10)"
    )
    output = parser.add_argument_group("output")
    output.add_argument(
        "--format",
        choices=("text", "markdown", "json", "csv", "html"),
        default="text",
        help="default text",
    )
    output.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    output.add_argument("--png", metavar="DIR", help="also write the charts as PNG images here")


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


class _Progress:
    """What is being queried, on one rewritten line of stderr (only on a terminal)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.started = time.monotonic()
        self.shown = False

    def __call__(self, what: str) -> None:
        if self.tty:
            elapsed = time.monotonic() - self.started
            sys.stderr.write(f"\r\033[2Ktokentrail report: {what}… ({elapsed:.1f} s)")
            sys.stderr.flush()
            self.shown = True

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\r\033[2K")
            sys.stderr.flush()


def _client(args: argparse.Namespace) -> Any:
    from ..report.sources.prometheus import PrometheusClient

    token = None
    if args.bearer_token_file:
        token = Path(args.bearer_token_file).read_text().strip()
    basic = None
    if args.basic_auth:
        user, sep, password = args.basic_auth.partition(":")
        basic = (user, password if sep else os.environ.get("PROMETHEUS_PASSWORD", ""))
    headers = {}
    for header in args.header:
        key, sep, value = header.partition(":")
        if not sep or not key.strip():
            raise CommandError(f"--header {header!r}: expected NAME:VALUE", status=2)
        headers[key.strip()] = value.strip()
    return PrometheusClient(
        args.prometheus,
        bearer_token=token,
        basic_auth=basic,
        headers=headers,
        ca_file=args.ca_file,
        insecure=args.insecure,
        timeout=args.timeout,
    )


def run(args: argparse.Namespace) -> int:
    if not args.prometheus and not args.spans:
        raise CommandError("give a source: --prometheus URL and/or --spans PATH...", status=2)
    if args.top < 1:
        raise CommandError(f"--top {args.top}: expected at least 1", status=2)
    from ..report.build import Options, build
    from ..report.render import csvfmt, html, jsonfmt, markdown, text
    from ..report.render.charts import ChartsUnavailable, write_pngs
    from ..report.sources import SourceError
    from ..report.timerange import RangeError, TimeRange

    if args.format == "html" or args.png:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise CommandError(
                'charts (--format html, --png) need matplotlib: pip install "tokentrail[report]"'
            ) from None
    try:
        time_range = TimeRange.resolve(
            since=args.since, start=args.start, end=args.end, step=args.step, now=time.time()
        )
    except RangeError as exc:
        raise CommandError(str(exc), status=2) from None
    progress = _Progress()
    try:
        client = _client(args) if args.prometheus else None
        options = Options(
            time_range=time_range,
            prometheus=client,
            spans=args.spans,
            matchers=args.match,
            z=args.z,
            monthly_budget=args.monthly_budget,
            top=args.top,
        )
        report = build(options, progress)
    except SourceError as exc:
        raise CommandError(str(exc)) from None
    finally:
        progress.done()
    renderer = {
        "text": text.render,
        "markdown": markdown.render,
        "json": jsonfmt.render,
        "csv": csvfmt.render,
        "html": html.render,
    }[args.format]
    try:
        output = renderer(report)
        if args.png:
            written = write_pngs(report, Path(args.png))
            if not written:
                report.errors.append("no chart to draw: no sections with data over time")
    except ChartsUnavailable as exc:
        raise CommandError(str(exc)) from None
    if args.output:
        Path(args.output).write_text(output, encoding="utf-8")
    else:
        sys.stdout.write(output)
        sys.stdout.flush()
    if report.errors:
        more = f" (and {len(report.errors) - 1} more)" if len(report.errors) > 1 else ""
        raise CommandError(
            f"{report.errors[0]}{more}; the report shows what the other sources answered"
        )
    return 0
