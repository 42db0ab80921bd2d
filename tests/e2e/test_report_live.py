"""``tokentrail report`` on live telemetry: ``tokentrail demo`` exports over OTLP to the built
Collector with the span-files overlay (Prometheus exporter and file exporter out), Prometheus
scrapes the Collector, and the report over Prometheus and the span files agrees with the
demo's own total, call count and trace ids."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.demo_process import run_demo_exporting

from .harness import (
    COLLECTOR_DIR,
    Collector,
    Process,
    Prometheus,
    free_port,
    http_ok,
    require_binary,
    running,
    wait_until,
    write_yaml,
)

pytestmark = pytest.mark.e2e

SPAN_FILES = COLLECTOR_DIR / "examples" / "span-files.yaml"


@pytest.fixture(scope="module")
def span_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("span-files")


@pytest.fixture
def live(
    collector_factory: Callable[..., Collector],
    span_dir: Path,
    tmp_path: Path,
) -> Iterator[tuple[Prometheus, Collector]]:
    """A collector with the span-files overlay, and a Prometheus of this test scraping it."""
    collector = collector_factory(
        SPAN_FILES, env={"TOKENTRAIL_SPANS_FILE": str(span_dir / "spans.jsonl")}
    )
    binary = require_binary("prometheus", "apt-get install prometheus")
    prom = Prometheus(f"127.0.0.1:{free_port()}", tmp_path)
    config = {
        "global": {"scrape_interval": "1s"},
        "scrape_configs": [
            {
                "job_name": "otelcol",
                "honor_labels": True,
                "static_configs": [{"targets": [collector.endpoints.prometheus_exporter]}],
            }
        ],
    }
    argv = [
        binary,
        f"--config.file={write_yaml(tmp_path / 'prometheus.yml', config)}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address={prom.address}",
        "--log.level=warn",
    ]
    process = Process("prometheus (report)", argv, tmp_path / "prometheus.log")
    with running(process, lambda: http_ok(f"{prom.url}/-/ready")):
        yield prom, collector


def run_demo(collector: Collector, service: str, summary: Path) -> dict:
    result = run_demo_exporting(collector.endpoints.otlp_http_url, service, summary)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tokentrail report --prometheus" in result.stdout
    return json.loads(summary.read_text())


def report(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tokentrail.cli", "report", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_report_of_a_demo_run_equals_the_demo(live, span_dir: Path, tmp_path: Path):
    prometheus, collector = live
    service = f"tokentrail-demo-{uuid.uuid4().hex[:8]}"
    demo = run_demo(collector, service, tmp_path / "summary.json")
    total = Decimal(demo["total_cost_usd"])
    assert total > 0
    prometheus.wait_for_value(f'sum(tokentrail_cost_usd_total{{job="{service}"}})', float(total))
    # the file exporter flushes every second
    wait_until(
        lambda: (
            sum(p.read_text().count('"tokentrail.cost.status"') for p in span_dir.glob("*"))
            >= demo["calls"]
        ),
        timeout=30,
        what=f"{demo['calls']} tokentrail spans in {span_dir}",
    )

    html, png_dir = tmp_path / "report.html", tmp_path / "charts"
    sources = ["--prometheus", prometheus.url, "--match", f'job="{service}"',
               "--spans", str(span_dir), "--since", "15m"]  # fmt: skip
    result = report(*sources, "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    sections = data["sections"]
    totals = sections["totals"]
    assert totals["cost_usd"] == pytest.approx(float(total), rel=1e-9)
    assert totals["requests"] == demo["calls"]
    by_feature = {r["name"]: r["cost_usd"] for r in totals["by"]["feature"]}
    for feature in {line["feature"] for line in demo["lines"]}:
        expected = sum(Decimal(x["cost_usd"]) for x in demo["lines"] if x["feature"] == feature)
        name = "" if feature == "-" else feature
        assert by_feature[name] == pytest.approx(float(expected), rel=1e-9, abs=1e-12)
    # the spans: every call, the same total, real trace ids
    users = sections["top_users"]
    assert users["calls"] == demo["calls"]
    assert users["cost_usd"] == pytest.approx(float(total), rel=1e-9)
    top_call = sections["top_calls"]["calls"][0]
    assert len(top_call["trace_id"]) == 32
    assert top_call["cost_usd"] == max(c["cost_usd"] for c in sections["top_calls"]["calls"])
    # the truncation rate, from tokentrail_finish_reason on tokentrail_requests_total
    labelled = prometheus.query(
        f'sum by (tokentrail_finish_reason) (tokentrail_requests_total{{job="{service}"}})'
    )
    finished = {
        s["metric"].get("tokentrail_finish_reason", ""): float(s["value"][1]) for s in labelled
    }
    assert set(finished) - {""}, "the demo's requests carry no finish reason"
    efficiency = sections["efficiency"]
    expected = finished.get("length", 0.0) / sum(n for r, n in finished.items() if r)
    assert efficiency["overall"]["truncation_rate"] == pytest.approx(expected)
    assert "truncation_rate" not in efficiency["omitted"]
    # a few minutes of history: no baseline for anomalies, said in one line
    assert sections["anomalies"]["status"] == "omitted"

    result = report(*sources, "--format", "html", "--output", str(html), "--png", str(png_dir))
    assert result.returncode == 0, result.stderr
    assert "<svg" in html.read_text()
    assert {p.name for p in png_dir.glob("*.png")} >= {"cost-trend.png", "cost-by-feature.png"}
