"""An application for the interrupt test, run as ``python -m tests.reliability.interrupted``.

It imports the SDKs, makes one call of each provider to load everything, then forks one
child per line read on stdin (``<seed> <path>``): a fresh process in a second, where starting
Python and importing three SDKs takes seconds. Each child instruments, prints
``ready <pid>`` and calls the fake providers (with a few milliseconds of latency) until it is
interrupted — plain calls, streams read to the end, streams closed part-way, chosen by
``seed`` — the way an application does: nothing catches the KeyboardInterrupt, so it ends the
child as it ends any Python program (a traceback, death by SIGINT, atexit handlers run).
The child's stderr goes to ``<path>.err``; every span start and end to ``<path>.spans``
(one unbuffered write each, so nothing is lost however the process ends); every call it
begins, every stream it has read (before closing it) and every call it finishes to
``<path>.calls``. The parent prints ``exited <pid> <status>
<monotonic time>`` when the child is gone.
"""

from __future__ import annotations

import gc
import json
import os
import random
import sys
import time
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider

import tokentrail
from tests.reliability.cases import provider_cases

CASES = provider_cases()
LATENCY = 0.004


class Journal(SpanProcessor):
    """Each span's start and end, one line each, written at once."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        write(self.fd, {"start": span.context.span_id})

    def on_end(self, span: ReadableSpan) -> None:
        error = span.attributes.get("error.type") if span.attributes else None
        write(self.fd, {"end": span.context.span_id, "error": error})


def write(fd: int, record: dict[str, Any]) -> None:
    os.write(fd, (json.dumps(record) + "\n").encode())


def workload(seed: int, path: str, clients: list[tuple[Any, Any]]) -> None:
    """Call until interrupted (never returns)."""
    errors = os.open(f"{path}.err", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(errors, 2)
    calls = os.open(f"{path}.calls", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    provider = TracerProvider()
    provider.add_span_processor(Journal(f"{path}.spans"))
    tokentrail.instrument(tracer_provider=provider)
    rng = random.Random(seed)
    print(f"ready {os.getpid()}", flush=True)
    for n in range(1_000_000):
        cases, client = rng.choice(clients)
        how = rng.choice(("call", "stream", "close"))
        write(calls, {"call": n, "how": how})
        if how == "call":
            cases.call(client)
        else:
            stream = cases.call(client, stream=True)
            try:
                for i, _ in enumerate(stream):
                    if how == "close" and i == 1:
                        break
                write(calls, {"read": n})
            finally:
                stream.close()
        write(calls, {"done": n})


def main() -> None:
    # load everything a call needs (SDK modules, prices) once, before forking
    tokentrail.instrument(tracer_provider=TracerProvider())
    for cases in CASES.values():
        cases.call(cases.client(cases.fake(), None))
        list(cases.call(cases.client(cases.fake(), None), stream=True))
    tokentrail.uninstrument()
    clients = [(cases, cases.client(cases.fake(latency=LATENCY), None)) for cases in CASES.values()]
    # as pre-forking servers do: the collector leaves the parent's objects alone, so that a
    # child does not copy the parent's memory page by page when it collects and ends
    gc.collect()
    gc.freeze()
    print("warm", flush=True)
    for line in sys.stdin:
        seed, path = line.split()
        pid = os.fork()
        if pid == 0:
            workload(int(seed), path, clients)  # ends with the KeyboardInterrupt, as apps do
        _, status = os.waitpid(pid, 0)
        print(f"exited {pid} {status} {time.monotonic()}", flush=True)


if __name__ == "__main__":
    main()
