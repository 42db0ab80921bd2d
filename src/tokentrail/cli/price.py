"""``tokentrail price MODEL``: what a usage of a model costs, from tokentrail's price list."""

from __future__ import annotations

import argparse
from typing import Any

from . import CommandError

HELP = "price a usage with tokentrail's price list"


def register(subcommands: Any) -> None:
    parser = subcommands.add_parser(
        "price",
        help=HELP,
        description="Price one call's usage with tokentrail's price list (genai-prices and "
        "TOKENTRAIL_PRICES_FILE). Without --provider, the provider is found from the model name.",
    )
    parser.add_argument("model")
    parser.add_argument("--provider", help="gen_ai.provider.name (default: found from the model)")
    parser.add_argument("--input", type=_tokens, default=0, help="input tokens (cache included)")
    parser.add_argument(
        "--output", type=_tokens, default=0, help="output tokens (reasoning included)"
    )
    parser.add_argument("--cache-read", type=_tokens, default=0, help="part of --input")
    parser.add_argument("--cache-write", type=_tokens, default=0, help="part of --input")
    parser.add_argument("--reasoning", type=_tokens, default=0, help="part of --output")


def _tokens(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of tokens, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"a number of tokens is >= 0, got {value}")
    return value


def run(args: argparse.Namespace) -> int:
    from ..pricing import ANY_PROVIDER
    from ..runtime import calc_cost, state
    from ..usage import Usage

    if args.cache_read + args.cache_write > args.input:
        raise CommandError(
            f"--cache-read ({args.cache_read}) and --cache-write ({args.cache_write}) are part "
            f"of --input ({args.input}), so together they cannot exceed it",
            status=2,
        )
    if args.reasoning > args.output:
        raise CommandError(
            f"--reasoning ({args.reasoning}) is part of --output ({args.output}), so it cannot "
            "exceed it",
            status=2,
        )
    provider = args.provider or state().price_book.find_provider(args.model)
    if provider is None:
        raise CommandError(
            f"no price known for model {args.model!r} at any provider (pass --provider, or add "
            "it to TOKENTRAIL_PRICES_FILE)"
        )
    usage = Usage(
        input_tokens=args.input,
        output_tokens=args.output,
        cache_read_tokens=args.cache_read,
        cache_write_tokens=args.cache_write,
        reasoning_tokens=args.reasoning,
    )
    cost = calc_cost(usage, args.model, provider)
    name = args.model if provider == ANY_PROVIDER else f"{provider}/{args.model}"
    if cost.amount_usd is None:
        raise CommandError(f"{name}: no price known (unpriced)")
    print(f"{name}: ${cost.amount_usd:.9f} ({cost.source})")
    return 0
