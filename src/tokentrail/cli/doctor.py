"""``tokentrail doctor``: what would tokentrail do in this environment, and what is wrong?

Checks, without touching the network: the installed SDKs against the supported ranges, other
instrumentations of the same SDKs (two instrumentations count each call twice), and the
``TOKENTRAIL_*`` configuration (files parse, values are valid)."""

from __future__ import annotations

import argparse
import os
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TextIO

from ..exceptions import TokenTrailError
from ..instrumentation.providers import PROVIDERS
from ..version import __version__


def register(subcommands: Any) -> None:
    subcommands.add_parser(
        "doctor",
        help="check this environment: SDK versions, other instrumentations, configuration",
        description="Check, without touching the network, the installed SDKs against the "
        "supported versions, other instrumentations of the same SDKs, and the TOKENTRAIL_* "
        "configuration. Exit status 1 when a problem is found.",
    )


def run(args: argparse.Namespace | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    problems = 0

    def say(ok: bool | None, text: str) -> None:
        nonlocal problems
        mark = {True: "ok  ", False: "FAIL", None: "warn"}[ok]
        problems += ok is False
        print(f"  [{mark}] {text}", file=out)

    print(f"tokentrail {__version__} on Python {sys.version.split()[0]}", file=out)
    print("\nSDKs", file=out)
    for provider in PROVIDERS:
        distribution = provider.distribution
        installed = _version(distribution)
        if installed is None:
            print(
                f"  [ -- ] {distribution}: not installed "
                f"(pip install -e '.[{provider.extra}]' in a clone of tokentrail)",
                file=out,
            )
            continue
        conflict = _conflict(provider.supported)
        if conflict:
            say(False, f"{distribution} {installed}: outside the supported range ({conflict})")
        else:
            say(True, f"{distribution} {installed}: supported; entry point {provider.entry_point}")
        for other in provider.others:
            other_version = _version(other)
            if other_version is not None:
                say(None, f"{other} {other_version} is installed too: if both instrument "
                          f"{distribution}, each call is reported twice")  # fmt: skip
        for note in provider.notes:
            say(None, note)

    print("\nConfiguration", file=out)
    disabled = os.environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "")
    if disabled:
        say(None, f"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS={disabled}")
    try:
        from ..runtime import Runtime

        runtime = Runtime()  # reads and validates every TOKENTRAIL_* variable, no network
        runtime.close()
        say(True, "TOKENTRAIL_* settings are valid")
        overrides = len(runtime.price_book.overrides)
        if overrides:
            say(True, f"{overrides} price override(s) from TOKENTRAIL_PRICES_FILE")
        if runtime.features is not None:
            patterns = len(runtime.features.rules)
            say(True, f"{patterns} route → feature pattern(s) from TOKENTRAIL_FEATURES_FILE")
        if runtime.capture_content:
            say(None, "TOKENTRAIL_CAPTURE_CONTENT is on: prompts and completions go on spans")
    except TokenTrailError as exc:
        say(False, str(exc))

    print("\nPrices", file=out)
    say(True, f"genai-prices {_version('genai-prices')} (bundled data, no network)")
    print(f"\n{'no problems found' if not problems else f'{problems} problem(s)'}", file=out)
    return 1 if problems else 0


def _version(distribution: str) -> str | None:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def _conflict(requirements: tuple[str, ...]) -> str | None:
    from opentelemetry.instrumentation.dependencies import get_dependency_conflicts

    conflict = get_dependency_conflicts(requirements)
    return str(conflict) if conflict else None
