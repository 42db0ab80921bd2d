"""``tokentrail stack up|status|down``: a local stack to look at the telemetry, without Docker
-- the Collector built from ``collector/``, Jaeger, Prometheus with tokentrail's alert rules,
and Alertmanager, on loopback ports. It runs from a clone of the repository (see
:mod:`tokentrail.stack`); its configs, data, logs and pids go to ``.stack/`` there."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..stack import Ports, Repository, Service, Stack, State, recorded, stop_all
from . import CommandError, Parser


def register(subcommands: Any) -> None:
    stack = subcommands.add_parser(
        "stack",
        help="start, check or stop a local Collector, Jaeger, Prometheus and Alertmanager",
        description="A local stack to look at tokentrail's telemetry, without Docker: the "
        "Collector built by collector/build.sh, Jaeger v2 (collector/install-jaeger.sh), "
        "Prometheus with tokentrail's alert rules, and Alertmanager, on 127.0.0.1. Runs from a "
        "clone of the tokentrail repository.",
    )
    actions = stack.add_subparsers(
        dest="action", metavar="ACTION", parser_class=Parser, required=True
    )
    up = actions.add_parser(
        "up",
        help="start everything, print the URLs; Ctrl-C stops it",
        description="Start the servers, wait until each serves, print their URLs, and stay "
        "in the foreground until Ctrl-C (or `tokentrail stack down`), which stops them all.",
    )
    up.add_argument(
        "--detach",
        action="store_true",
        help="return once everything serves; stop it with `tokentrail stack down`",
    )
    up.add_argument(
        "--port",
        action="append",
        default=[],
        type=_port_setting,
        metavar="NAME=PORT",
        help=f"use another port (repeatable); names: {', '.join(Ports.names())}",
    )
    up.add_argument(
        "--jaeger-ui",
        type=Path,
        metavar="DIR",
        default=os.environ.get("TOKENTRAIL_JAEGER_UI") or None,
        help="built jaeger-ui assets for Jaeger to serve (default $TOKENTRAIL_JAEGER_UI); "
        "without them Jaeger serves its API only",
    )
    up.add_argument("--alert-webhook", metavar="URL", help="also send every alert here")
    status = actions.add_parser(
        "status", help="what runs and whether it is healthy (exit status 1 if not)"
    )
    down = actions.add_parser("down", help="stop every server the stack started")
    for parser in (up, status, down):
        parser.add_argument(
            "--dir",
            type=Path,
            help="the stack's directory for configs, data, logs and pids (default: .stack in "
            "the clone)",
        )
        parser.add_argument(
            "--repo", type=Path, help="the clone (default: found from the current directory)"
        )


def _port_setting(text: str) -> tuple[str, int]:
    name, _, port = text.partition("=")
    if name not in Ports.names():
        raise argparse.ArgumentTypeError(
            f"unknown port name {name!r} (one of {', '.join(Ports.names())})"
        )
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r}: a port is between 1 and 65535")
    return name, int(port)


def run(args: argparse.Namespace) -> int:
    return {"up": _up, "status": _status, "down": _down}[args.action](args)


def _directory(args: argparse.Namespace) -> Path:
    if args.dir is not None:
        return args.dir.resolve()
    return Repository.find(args.repo).root / ".stack"


def _up(args: argparse.Namespace) -> int:
    repo = Repository.find(args.repo)
    directory = args.dir.resolve() if args.dir else repo.root / ".stack"
    ports = Ports()
    for name, port in args.port:
        ports = ports.replace(name, port)
    stack = Stack(
        repo, directory, ports, jaeger_ui=args.jaeger_ui, alert_webhook=args.alert_webhook
    )
    binaries = stack.preflight()

    def starting() -> None:
        print(f"starting the local stack (configs, data and logs: {directory})", flush=True)

    def ready(service: Service) -> None:
        print(f"  {service.name:<13} ready", flush=True)

    if args.detach:
        starting()
        state = stack.start(binaries, on_ready=ready)
        with recorded(state, directory, supervised=False):
            _print_guide(state, detached=True)
        return 0
    # From here on Ctrl-C, SIGTERM (`stack down`) and SIGHUP only ask to stop, so that no
    # moment is left where one would leave servers running.
    with _stop_requests() as stop:
        starting()
        try:
            state = stack.start(binaries, on_ready=ready)
            with recorded(state, directory, supervised=True):
                _print_guide(state, detached=False)
                _supervise(stack, stop)
        finally:
            stack.stop()
    print("stopped", flush=True)
    return 0


#: the order the guide lists the servers in: where telemetry goes in first
_SHOWN = ("collector", "jaeger", "prometheus", "alertmanager")


def _print_guide(state: State, *, detached: bool) -> None:
    print("\nThe stack is up:")
    for service in sorted(state.services, key=lambda s: _SHOWN.index(s.name)):
        note = f"   ({service.note})" if service.note else ""
        print(f"  {service.name:<13} {service.url}{note}")
    stop = "tokentrail stack down" if detached else "Ctrl-C (or tokentrail stack down)"
    print(f"\nTry it:  OTEL_EXPORTER_OTLP_ENDPOINT={state.otlp_http_url} tokentrail demo --forever")
    print(f"Stop it: {stop}", flush=True)


@contextlib.contextmanager
def _stop_requests() -> Iterator[threading.Event]:
    """An event that SIGINT (Ctrl-C), SIGTERM and SIGHUP set, for the duration."""
    stop = threading.Event()
    handlers = {
        sig: signal.signal(sig, lambda signum, frame: stop.set())
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    }
    try:
        yield stop
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def _supervise(stack: Stack, stop: threading.Event) -> None:
    """Return when asked to stop; raise as soon as one server exits by itself."""
    while not stop.wait(0.5):
        gone = stack.exited()
        if gone is not None:
            raise CommandError(
                f"{gone.name} exited with status {gone.exit_code()}, so the stack stopped "
                f"(log: {gone.log_path})"
            )
    print("\nstopping ...", flush=True)


def _status(args: argparse.Namespace) -> int:
    directory = _directory(args)
    state = State.load(directory)
    if state is None or not (state.running() or state.supervisor_running()):
        print(f"no stack is running from {directory}")
        return 1
    healthy = True
    for service in state.services:
        condition = _condition(service)
        healthy &= condition == "healthy"
        print(f"{service.name:<13} {condition:<10} pid {service.pid:<8} {service.url}")
    return 0 if healthy else 1


def _condition(service: Service) -> str:
    if not service.running():
        return "exited"
    return "healthy" if service.healthy() else "unhealthy"


def _down(args: argparse.Namespace) -> int:
    directory = _directory(args)
    stopped = stop_all(directory)
    if stopped:
        print("stopped " + ", ".join(f"{s.name} (pid {s.pid})" for s in stopped))
    else:
        print(f"no stack is running from {directory}")
    return 0
