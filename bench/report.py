"""How long ``tokentrail report`` takes on a month of telemetry: Prometheus with 30 days of
50 label sets at 5-minute resolution, and span files with 1,000,000 spans.

    .venv/bin/python bench/report.py              # ~3 minutes, ~2.6 GB of temporary files
    .venv/bin/python bench/report.py --skip-spans

Needs promtool and prometheus (Debian's prometheus package) and the report extra. The data is
written to a temporary directory, removed at the end; the timings are of the command as a user
runs it (a subprocess, Python start-up included), best of ``--runs``.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.report.spanfiles import Call, write  # noqa: E402

DAY = 86400
END = 1_773_792_000  # 2026-03-18T00:00:00Z
DAYS = 30
STEP = 300
FEATURES = [f"feature-{i}" for i in range(10)]
MODELS = ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4", "gemini-2.5-flash", "o3-mini"]


def openmetrics_days(directory: Path) -> list[Path]:
    """50 label sets x (cost, requests, input and output tokens), one sample every 5 minutes,
    one file per day (promtool reads its whole input once per 2-hour block)."""
    combos = list(itertools.product(FEATURES, MODELS))
    start = END - DAYS * DAY
    files = []
    totals = {c: [0.0, 0, 0, 0] for c in combos}
    for day in range(DAYS + 1):
        lines: dict[str, list[str]] = {"cost": [], "requests": [], "tokens": []}
        for t in range(start + day * DAY, min(start + (day + 1) * DAY, END + 1), STEP):
            for k, (feature, model) in enumerate(combos):
                acc = totals[(feature, model)]
                if t > start:
                    n = 5 + (k + t // STEP) % 7
                    acc[0] += n * 0.001 * (1 + k % 5)
                    acc[1] += n
                    acc[2] += n * 900
                    acc[3] += n * 150
                labels = (f'job="bench",gen_ai_provider_name="p",gen_ai_request_model="{model}",'
                          f'tokentrail_feature="{feature}",tokentrail_team="t{k % 4}"')  # fmt: skip
                lines["cost"].append(f"tokentrail_cost_usd_total{{{labels}}} {acc[0]:.6f} {t}")
                lines["requests"].append(
                    f'tokentrail_requests_total{{{labels},tokentrail_cost_status="priced"}} '
                    f"{acc[1]} {t}"
                )
                for kind, value in (("input", acc[2]), ("output", acc[3])):
                    series = f'tokentrail_tokens_total{{{labels},gen_ai_token_type="{kind}"}}'
                    lines["tokens"].append(f"{series} {value} {t}")
        path = directory / f"day-{day:02d}.om"
        text = []
        for family, samples in (("tokentrail_cost_usd", lines["cost"]),
                                ("tokentrail_requests", lines["requests"]),
                                ("tokentrail_tokens", lines["tokens"])):  # fmt: skip
            text += [f"# TYPE {family} counter", *samples]
        path.write_text("\n".join([*text, "# EOF"]) + "\n")
        files.append(path)
    return files


def timed(argv: list[str], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        result = subprocess.run(argv, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed:\n{result.stderr}")
        best = min(best, elapsed)
    return best


def bench_prometheus(work: Path, runs: int) -> list[tuple[str, float]]:
    promtool, prometheus = shutil.which("promtool"), shutil.which("prometheus")
    if not promtool or not prometheus:
        raise SystemExit("needs promtool and prometheus: apt-get install prometheus")
    started = time.perf_counter()
    files = openmetrics_days(work)
    data = work / "tsdb"
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda f: subprocess.run(
            [promtool, "tsdb", "create-blocks-from", "openmetrics", "-q", str(f), str(data)],
            check=True), files))  # fmt: skip
    print(f"backfilled 30 days x 200 series at 5 min in {time.perf_counter() - started:.0f} s")
    port = 19000 + int(time.time()) % 1000
    server = subprocess.Popen(
        [prometheus, "--config.file=/dev/null", f"--storage.tsdb.path={data}",
         "--storage.tsdb.retention.time=100y", f"--web.listen-address=127.0.0.1:{port}",
         "--log.level=error"],
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(f"{url}/-/ready", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        report = [sys.executable, "-m", "tokentrail.cli", "report", "--prometheus", url,
                  "--from", str(END - DAYS * DAY), "--to", str(END)]  # fmt: skip
        return [
            ("30 days, 50 label sets, auto step (1 h), text", timed(report, runs)),
            ("the same, --step 5m", timed([*report, "--step", "5m"], runs)),
            ("the same, --format html (4 charts)", timed([*report, "--format", "html"], runs)),
        ]
    finally:
        server.terminate()
        server.wait()


def bench_spans(work: Path, runs: int) -> list[tuple[str, float]]:
    results = []
    for per_line in (100, 1):
        path = work / f"spans-{per_line}.jsonl"
        started = time.perf_counter()
        calls = (
            Call(END - DAYS * DAY + i * 2.5, 0.0001 * (i % 97), f"u-{i % 5000}",
                 feature=FEATURES[i % 10], model=MODELS[i % 5])
            for i in range(1_000_000)
        )  # fmt: skip
        write(path, calls, per_line=per_line)
        size = path.stat().st_size / 1e9
        print(f"wrote 1,000,000 spans, {per_line} per line ({size:.2f} GB) in "
              f"{time.perf_counter() - started:.0f} s")  # fmt: skip
        report = [sys.executable, "-m", "tokentrail.cli", "report", "--spans", str(path),
                  "--from", str(END - DAYS * DAY), "--to", str(END)]  # fmt: skip
        results.append((f"--spans, 1,000,000 spans, {per_line} per line", timed(report, runs)))
        path.unlink()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-prometheus", action="store_true")
    parser.add_argument("--skip-spans", action="store_true")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="tokentrail-bench-") as tmp:
        if not args.skip_prometheus:
            results += bench_prometheus(Path(tmp), args.runs)
        if not args.skip_spans:
            results += bench_spans(Path(tmp), max(1, args.runs - 1))
    print("\n| report | seconds |\n|---|---:|")
    for label, seconds in results:
        print(f"| {label} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
