"""Instructions per call, counted by valgrind: what tokentrail and the floor add to an SDK
call, in a figure that does not move with the machine's load.

    python bench/instructions.py                           # every scenario, bare/floor/tokentrail
    python bench/instructions.py gemini-generate openai-chat-stream

Time on a shared 2-core machine moves by ±30 % between runs; instruction counts from
``valgrind --tool=callgrind`` are the same to a fraction of a percent whatever else runs, so
this is the yardstick for work on the hot path (the peer benchmark, ``peers/run.py``,
measures CPU time against the other instrumentations). Each (scenario, mode) runs in a child
under callgrind twice, with ``WARMUP + N`` and ``WARMUP + 2N`` calls; the difference divided by
N is the cost of one call, without start-up and warm-up. Valgrind is slow (~50x): the whole
table takes a few minutes.

Modes: ``bare`` (the SDK alone), ``floor`` (a wrapper that emits the same span and
histograms as tokentrail with constant values: what the telemetry itself costs),
``tokentrail`` (``tokentrail.instrument()``, budgets off).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
WARMUP = 30
N = 50
MODES = ("bare", "floor", "tokentrail")
SCENARIOS = (
    "openai-chat",
    "openai-chat-stream",
    "openai-chat-stream-no-usage",
    "anthropic-messages",
    "anthropic-stream",
    "gemini-generate",
    "gemini-stream",
)


def child(scenario: str, mode: str, calls: int) -> None:
    """Run ``calls`` calls of ``scenario`` in ``mode`` (inside callgrind)."""
    sys.path.insert(0, str(HERE / "peers"))
    sys.path.insert(0, str(HERE))
    import worker  # the peer benchmark's scenarios and OTel set-up
    from floor import instrument_floor

    telemetry = worker.Telemetry()
    call = worker.SCENARIOS[scenario].build(False)
    provider = worker.SCENARIOS[scenario].provider
    if mode == "tokentrail":
        import tokentrail

        names = {"openai": "openai", "anthropic": "anthropic", "gemini": "google_genai"}
        tokentrail.instrument(
            tracer_provider=telemetry.tracer_provider,
            meter_provider=telemetry.meter_provider,
            providers=[names[provider]],
        )
    elif mode == "floor":
        instrument_floor(provider, telemetry.tracer_provider, telemetry.meter_provider)
    for i in range(calls):
        call()
        if i % 50 == 49:
            telemetry.exporter.clear()


def count(scenario: str, mode: str, calls: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
             sys.executable, __file__, "--child", scenario, mode, str(calls)],
            check=True,
            capture_output=True,
        )  # fmt: skip
        summary = re.search(rb"^summary:\s+(\d+)", out.read_bytes(), re.MULTILINE)
        assert summary, "no summary in callgrind's output"
        return int(summary.group(1))


def per_call(scenario: str, mode: str) -> float:
    return (count(scenario, mode, WARMUP + 2 * N) - count(scenario, mode, WARMUP + N)) / N


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="*", default=list(SCENARIOS))
    parser.add_argument("--modes", default=",".join(MODES))
    options = parser.parse_args()
    modes = options.modes.split(",")
    print("| scenario | " + " | ".join(f"{m} (k instr/call)" for m in modes) + " | "
          "tokentrail - floor | floor - bare |")  # fmt: skip
    print("|---" * (len(modes) + 3) + "|")
    for scenario in options.scenarios:
        figures = {mode: per_call(scenario, mode) for mode in modes}
        cells = [f"{figures[m] / 1000:.0f}" for m in modes]
        extra = []
        if {"bare", "floor", "tokentrail"} <= set(figures):
            extra = [
                f"{(figures['tokentrail'] - figures['floor']) / 1000:+.0f}",
                f"{(figures['floor'] - figures['bare']) / 1000:+.0f}",
            ]
        print(f"| {scenario} | " + " | ".join(cells + extra) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
