"""The ``tokentrail`` command. Each subcommand is a module of this package with
``register(subcommands)``, which adds its parser, and ``run(args) -> int``; ``COMMANDS`` lists
them in the order ``--help`` shows.

Errors are one line on stderr, never a traceback: a wrong argument exits with status 2 (as
argparse does, without the usage dump), a failure while running (``CommandError``, a
``TokenTrailError``, an unreadable file) with status 1, Ctrl-C with 130.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from ..exceptions import TokenTrailError
from ..version import __version__

#: subcommand name -> module (relative to this package)
COMMANDS = {
    "demo": ".demo",
    "price": ".price",
    "doctor": ".doctor",
    "report": ".report",
    "stack": ".stack",
}

#: exit statuses
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CommandError(Exception):
    """A failure a command reports as one line (exit status 1, or ``status``)."""

    def __init__(self, message: str, status: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.status = status


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: ``tokentrail price: error: ...``."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> Parser:
    parser = Parser(
        prog="tokentrail",
        description="See, attribute and control what your LLM calls cost, with OpenTelemetry.",
    )
    parser.add_argument("--version", action="version", version=f"tokentrail {__version__}")
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for module in COMMANDS.values():
        importlib.import_module(module, __name__).register(subcommands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    run = importlib.import_module(COMMANDS[args.command], __name__).run
    prog = f"tokentrail {args.command}"
    try:
        return run(args)
    except CommandError as exc:
        return _fail(prog, str(exc), exc.status)
    except TokenTrailError as exc:
        return _fail(prog, str(exc), EXIT_FAILURE)
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        return _fail(prog, f"{where}{exc.strerror or exc}", EXIT_FAILURE)
    except KeyboardInterrupt:
        return _fail(prog, "interrupted", EXIT_INTERRUPTED)


def entry() -> NoReturn:
    """The ``tokentrail`` command: ``main()``, then exit. The process ends here, so what it
    loaded is frozen first: the interpreter's final garbage collections over every SDK the
    demo imported take seconds (LiteLLM's objects alone ~2 s), which a Ctrl-C would wait for."""
    status = main()
    sys.stdout.flush()
    gc.freeze()
    sys.exit(status)


def _fail(prog: str, message: str, status: int) -> int:
    print(f"{prog}: error: {message}", file=sys.stderr)
    return status
