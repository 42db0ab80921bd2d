"""Take the README's pictures again: start the local stack (the same one as `tokentrail stack
up`, on free ports of its own), run `tokentrail demo --forever` into it until Prometheus's
budget-burn alert fires (its `for:` is 5 minutes, so this takes about 6), then let headless
Chromium photograph Prometheus's graph of spend by feature, Alertmanager with the firing
alert and, given jaeger-ui assets, Jaeger's trace search. Everything is stopped afterwards.

    .venv/bin/python docs/img/screenshots.py [--jaeger-ui DIR] [--out docs/img]

Needs what the stack needs (collector/build.sh, collector/install-jaeger.sh, Debian's
prometheus and prometheus-alertmanager), collector/install-alertmanager-ui.sh for
Alertmanager's page, and Debian's chromium. Jaeger's UI is not built here (see the README);
with --jaeger-ui (or TOKENTRAIL_JAEGER_UI) pointing at built jaeger-ui assets, its page is
taken too.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tokentrail.stack import Ports, Repository, Stack, free_ports, wait_until

HERE = Path(__file__).resolve().parent
SERVICE = "tokentrail-demo"
#: the first of the shipped alerts the demo sets off: its small cx-daily budget burns
ALERT = "TokentrailBudgetBurn"
#: USD per hour by feature, as the overview dashboard's "Spend by feature" panel shows it
SPEND_BY_FEATURE = "sum by (tokentrail_feature) (rate(tokentrail_cost_usd_total[1m])) * 3600"
#: as the project's machines run headless Chromium (no background traffic, throwaway profile)
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--virtual-time-budget=10000",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jaeger-ui", type=Path, default=os.environ.get("TOKENTRAIL_JAEGER_UI"))
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for the alert")
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("screenshots.py: no chromium on PATH: apt-get install chromium")

    ports = Ports()
    for name, port in zip(Ports.names(), free_ports(len(Ports.names())), strict=True):
        ports = ports.replace(name, port)
    with tempfile.TemporaryDirectory(prefix="tokentrail-screenshots-") as tmp:
        work = Path(tmp)
        stack = Stack(Repository.find(), work / "stack", ports, jaeger_ui=args.jaeger_ui)
        state = stack.start(on_ready=lambda s: print(f"{s.name} serves {s.url}", flush=True))
        urls = {s.name: s.url for s in state.services}
        try:
            (alertmanager,) = [s for s in state.services if s.name == "alertmanager"]
            if alertmanager.note:  # no web UI to photograph
                sys.exit(f"screenshots.py: Alertmanager: {alertmanager.note}")
            with demo(state.otlp_http_url, work / "demo.log"):
                print(f"demo running; waiting for {ALERT} to fire (about 6 minutes)", flush=True)
                started = time.monotonic()
                wait_until(
                    lambda: firing(urls["alertmanager"]), timeout=args.timeout, what=f"{ALERT}"
                )
                elapsed = time.monotonic() - started
                print(f"{ALERT} fired after {elapsed:.0f} s", flush=True)
                shoot(
                    chromium,
                    work,
                    args.out,
                    urls,
                    minutes=int(elapsed // 60) + 2,
                    with_jaeger=args.jaeger_ui is not None,
                )
        finally:
            stack.stop()
    return 0


@contextlib.contextmanager
def demo(otlp_url: str, log: Path) -> Iterator[None]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TOKENTRAIL_"))}
    environ.update(OTEL_EXPORTER_OTLP_ENDPOINT=otlp_url, OTEL_SERVICE_NAME=SERVICE)
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tokentrail.cli", "demo", "--forever", "--quiet",
             "--latency", "0.1"],
            env=environ, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)


def get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def firing(alertmanager: str) -> bool:
    alerts = get_json(f"{alertmanager}/api/v2/alerts?filter=alertname%3D%22{ALERT}%22")
    assert isinstance(alerts, list)
    return any(a["status"]["state"] == "active" for a in alerts)


def shoot(
    chromium: str, work: Path, out: Path, urls: dict[str, str], *, minutes: int, with_jaeger: bool
) -> None:
    """Photograph each page (file name -> (URL, window height))."""
    graph = urllib.parse.urlencode(
        {"g0.expr": SPEND_BY_FEATURE, "g0.tab": "0", "g0.range_input": f"{minutes}m"}
    )
    # one group per alert name: a single group shows expanded, with each alert's labels
    alerts = urllib.parse.urlencode({"customGrouping": "true", "group": "alertname"})
    pages = {
        "prometheus-spend-by-feature.png": (f"{urls['prometheus']}/graph?{graph}", 1100),
        "alertmanager-budget-burn.png": (f"{urls['alertmanager']}/#/alerts?{alerts}", 650),
    }
    if with_jaeger:
        search = urllib.parse.urlencode({"service": SERVICE, "limit": "20", "lookback": "1h"})
        pages["jaeger-traces.png"] = (f"{urls['jaeger']}/search?{search}", 900)
    out.mkdir(parents=True, exist_ok=True)
    for name, (url, height) in pages.items():
        subprocess.run(
            [chromium, *CHROMIUM_FLAGS, f"--window-size=1400,{height}",
             f"--user-data-dir={work / 'chromium'}", f"--screenshot={out / name}", url],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        print(f"{out / name}  <- {url}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
