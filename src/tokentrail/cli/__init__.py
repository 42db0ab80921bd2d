"""The ``tokentrail`` command: ``demo``, ``price``, ``doctor``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..version import __version__

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tokentrail",
        description="See, attribute and control what your LLM calls cost, with OpenTelemetry.",
    )
    parser.add_argument("--version", action="version", version=f"tokentrail {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="run a realistic workload against built-in fake providers (no key, no network)",
        description="Run a realistic LLM workload against built-in fake providers: several "
        "features, teams and models, streams, cached prompts, reasoning, one unknown model and "
        "one failing call. Exports over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set.",
    )
    demo.add_argument("--rounds", type=int, default=3, help="rounds of the workload (default 3)")
    demo.add_argument("--forever", action="store_true", help="repeat until interrupted")
    demo.add_argument("--metrics-port", type=int, help="serve Prometheus /metrics on this port")
    demo.add_argument(
        "--metrics-host", default="127.0.0.1", help="address for /metrics (default 127.0.0.1)"
    )
    demo.add_argument(
        "--linger",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="keep serving /metrics this long after the workload ends",
    )
    demo.add_argument("--latency", type=float, default=0.02, help="fake provider latency (s)")
    demo.add_argument("--seed", type=int, default=7, help="random seed of the workload")
    demo.add_argument("--json", metavar="PATH", help="also write the summary as JSON here")
    demo.add_argument("--quiet", action="store_true", help="no progress, only the summary")

    price = commands.add_parser("price", help="price a usage with tokentrail's price list")
    price.add_argument("model")
    price.add_argument("--provider", default="openai", help="gen_ai.provider.name (default openai)")
    price.add_argument("--input", type=int, default=0, help="input tokens (cache included)")
    price.add_argument("--output", type=int, default=0, help="output tokens (reasoning included)")
    price.add_argument("--cache-read", type=int, default=0)
    price.add_argument("--cache-write", type=int, default=0)
    price.add_argument("--reasoning", type=int, default=0)

    commands.add_parser(
        "doctor",
        help="check this environment: SDK versions, other instrumentations, configuration",
    )

    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import run

        return run(args)
    if args.command == "price":
        return _price(args)
    if args.command == "doctor":
        from .doctor import run as doctor

        return doctor()
    parser.print_help()
    return 0


def _price(args: argparse.Namespace) -> int:
    from ..pricing import calc_cost
    from ..usage import Usage

    usage = Usage(
        input_tokens=args.input,
        output_tokens=args.output,
        cache_read_tokens=args.cache_read,
        cache_write_tokens=args.cache_write,
        reasoning_tokens=args.reasoning,
    )
    cost = calc_cost(usage, args.model, args.provider)
    if cost.amount_usd is None:
        print(f"{args.provider}/{args.model}: no price known (unpriced)", file=sys.stderr)
        return 1
    print(f"{args.provider}/{args.model}: ${cost.amount_usd} ({cost.source})")
    return 0
