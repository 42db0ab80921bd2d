"""Ctrl-C and cancellation reach the application at once, and every call still ends exactly once
(docs/reliability.md, "Interrupts").

SIGINT is sent to real processes at random moments (seeded) while they make plain calls, read
streams and close them (tests/reliability/interrupted.py): each one ends within a short bound
with the KeyboardInterrupt traceback and death by SIGINT, as any Python program does, no
"Exception ignored" on its stderr, and every span it started ended exactly once — with
``error.type`` KeyboardInterrupt where the interrupt hit a call. An asyncio task cancelled in
the middle of a call or of a stream likewise gets its CancelledError, and the call ends once,
``estimated``. And ``tokentrail demo --forever`` stops on the first Ctrl-C with its summary.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tokentrail
from tests.demo_process import demo_command
from tests.processes import wait_until

from .cases import close_loop, provider_cases

ROOT = Path(__file__).resolve().parents[2]
RUNS = int(os.environ.get("TOKENTRAIL_INTERRUPT_RUNS", "50"))
SEED = int(os.environ.get("TOKENTRAIL_INTERRUPT_SEED", "20261"))
#: from the signal to the process being gone: every run (on a loaded machine) and the median
#: run (the exit hook has nothing to wait for; the rest is the interpreter's own teardown)
BOUND_S = 5.0
MEDIAN_BOUND_S = 0.6
CASES = provider_cases()
#: the providers with an async client, whose tasks can be cancelled
ASYNC = sorted(name for name, cases in CASES.items() if cases.asynchronous)
#: the last frames of a traceback whose interrupt landed in the SDK's ending of a span (or in
#: the test's span processor, which it calls)
IN_SDK_START = re.compile(
    r'opentelemetry/sdk/trace/__init__.py", line \d+, in (start_span|start|on_start)\n'
    r"(.*\n)*?KeyboardInterrupt\s*$"
)
IN_SDK_END = re.compile(
    r'opentelemetry/sdk/trace/__init__.py", line \d+, in (end|on_end|_readable_span)\n'
    r"(.*\n)*?KeyboardInterrupt\s*$"
)


class Interrupted:
    """The interrupted application's parent process (it forks one child per run)."""

    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("TOKENTRAIL_STRICT", None)  # an application, as in production
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.interrupted"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
        assert self.readline() == "warm"

    def readline(self) -> str:
        line = self.process.stdout.readline().strip()  # type: ignore[union-attr]
        assert line, "the interrupted application's parent died"
        return line

    def start(self, seed: int, path: Path) -> int:
        self.process.stdin.write(f"{seed} {path}\n")  # type: ignore[union-attr]
        self.process.stdin.flush()  # type: ignore[union-attr]
        word, pid = self.readline().split()
        assert word == "ready"
        return int(pid)

    def ended(self) -> tuple[int, float]:
        """(wait status, monotonic time) of the child that just ended."""
        word, _, status, when = self.readline().split()
        assert word == "exited"
        return int(status), float(when)

    def close(self) -> None:
        self.process.stdin.close()  # type: ignore[union-attr]
        self.process.wait(timeout=30)


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_sigint_at_random_moments_ends_the_process_at_once_and_every_call_once(tmp_path):
    rng = random.Random(SEED)
    parent = Interrupted()
    hit_calls = sdk_ends = 0
    took: list[float] = []
    try:
        for run in range(RUNS):
            path = tmp_path / f"run{run}"
            pid = parent.start(rng.randrange(2**32), path)
            time.sleep(rng.uniform(0.0, 0.08))  # the random moment: what the run is about
            sent = time.monotonic()
            os.kill(pid, signal.SIGINT)
            status, gone = parent.ended()
            where = f"run {run} (pid {pid})"

            took.append(gone - sent)
            assert gone - sent < BOUND_S, f"{where}: ended {gone - sent:.2f} s after SIGINT"
            assert os.WIFSIGNALED(status), f"{where}: wait status {status}"
            assert os.WTERMSIG(status) == signal.SIGINT, f"{where}: wait status {status}"
            stderr = Path(f"{path}.err").read_text()
            assert "Exception ignored" not in stderr, f"{where}:\n{stderr}"
            # the traceback ends with the KeyboardInterrupt; one that lands in a codec (the idna
            # encoding of urllib3's host name) is re-raised by CPython with a message:
            # "KeyboardInterrupt: encoding with 'idna' codec failed (KeyboardInterrupt: )"
            last = stderr.rstrip().rsplit("\n", 1)[-1]
            assert last == "KeyboardInterrupt" or last.startswith("KeyboardInterrupt: "), (
                f"{where}:\n{stderr}"
            )
            assert "tests/reliability/interrupted.py" in stderr, f"{where}:\n{stderr}"

            journal = records(Path(f"{path}.spans"))
            started = [r["start"] for r in journal if "start" in r]
            ended = [r["end"] for r in journal if "end" in r]
            assert len(set(started)) == len(started)
            if IN_SDK_START.search(stderr) and len(ended) < len(started):
                # the interrupt landed inside the OpenTelemetry SDK's start_span(), after its
                # processors saw the span and before it was returned to tokentrail
                started = started[:-1]
                sdk_ends += 1
            elif IN_SDK_END.search(stderr):
                # the interrupt landed inside the OpenTelemetry SDK's span.end(), which marks
                # the span ended before its processors see it (tokentrail ended it once)
                started = started[:-1] if len(ended) < len(started) else started
                sdk_ends += 1
            assert sorted(ended) == sorted(started), f"{where}: a span not ended exactly once"
            errors = [r["error"] for r in journal if r.get("error")]
            assert set(errors) <= {"KeyboardInterrupt"}, f"{where}: {errors}"
            calls = records(Path(f"{path}.calls"))
            in_flight = bool(calls) and "call" in calls[-1]  # sent, or its stream being read
            ending = "tokentrail/telemetry/emitter.py" in stderr and ", in finish" in stderr
            if in_flight and len(started) > sum(1 for c in calls if "done" in c):
                # the interrupted call had begun its span: it ended with the interrupt, unless
                # the interrupt came as tokentrail was recording a call that was over
                hit_calls += 1
                error = journal[-1].get("error")
                assert error == "KeyboardInterrupt" or ending, f"{where}: {journal[-3:]}"
    finally:
        parent.close()
    assert hit_calls > RUNS // 3, f"only {hit_calls} of {RUNS} interrupts hit a call"
    assert statistics.median(took) < MEDIAN_BOUND_S, f"median exit {statistics.median(took)} s"
    assert sdk_ends <= max(2, RUNS // 20), f"{sdk_ends} interrupts inside the SDK's spans"


# -- asyncio cancellation ------------------------------------------------------------------------


def slow(fake, delay: float) -> list:
    """Answers that take ``delay`` s to start, awaited (a cancelled task stops waiting); the
    list fills with the requests as they arrive."""
    handle, arrived = fake.handler, []

    async def handler(request):
        arrived.append(request)
        await asyncio.sleep(delay)
        return handle(request)

    fake.handler = handler
    return arrived


@pytest.mark.parametrize("provider", ASYNC)
def test_a_task_cancelled_mid_call_gets_cancelled_and_the_call_ends_once(provider, instrumented):
    cases = CASES[provider]
    fake = cases.fake()
    arrived = slow(fake, 30)

    took = []

    async def app():
        task = asyncio.ensure_future(cases.call(cases.client(fake, loop)))
        while not arrived:  # the request is out, its answer awaited
            await asyncio.sleep(0.005)
        task.cancel()
        cancelled = time.monotonic()
        try:
            await task
        finally:
            took.append(time.monotonic() - cancelled)

    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(asyncio.CancelledError):
            loop.run_until_complete(app())
    finally:
        close_loop(loop)
    assert took[0] < 1
    span = instrumented.span()
    assert span.attributes["error.type"] == "CancelledError"
    assert span.attributes["tokentrail.cost.status"] == "estimated"
    assert span.attributes["gen_ai.usage.input_tokens"] > 0


@pytest.mark.parametrize("provider", ASYNC)
def test_a_task_cancelled_mid_stream_gets_cancelled_and_the_call_ends_once(provider, instrumented):
    cases = CASES[provider]
    fake = cases.fake()
    read = asyncio.Event()

    async def app():
        stream = await cases.call(cases.client(fake, loop), stream=True)
        async for _ in stream:
            read.set()
            await asyncio.sleep(30)  # the app works on a chunk; meanwhile it is cancelled

    async def cancel():
        task = asyncio.ensure_future(app())
        await read.wait()
        task.cancel()
        await task

    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(asyncio.CancelledError):
            loop.run_until_complete(cancel())
    finally:
        close_loop(loop)
    tokentrail.flush(timeout=5)  # a stream dropped unread ends on the finaliser thread
    spans = instrumented.spans()
    assert len(spans) == 1
    assert spans[0].attributes["tokentrail.cost.status"] == "estimated"


# -- the demo --------------------------------------------------------------------------------------


def test_demo_forever_stops_on_the_first_ctrl_c_and_prints_its_summary(tmp_path):
    log = tmp_path / "demo.log"
    with open(log, "w") as out:
        demo = subprocess.Popen(
            demo_command("--forever", "--latency", "0.005"),
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": ""},
        )
    try:
        wait_until(lambda: " steps " in log.read_text(), timeout=60, what="the demo's calls")
        sent = time.monotonic()
        demo.send_signal(signal.SIGINT)
        code = demo.wait(timeout=20)
        took = time.monotonic() - sent
    finally:
        if demo.poll() is None:
            demo.kill()
    text = log.read_text()
    assert code == 0, text
    assert took < 10, f"the demo took {took:.1f} s to stop"
    assert "interrupted: finishing the call in progress" in text
    assert "TOTAL" in text  # the summary
    assert "Traceback" not in text
    assert "Exception ignored" not in text
