"""Fixtures of the report tests: the synthetic five-week history (synthetic.py) backfilled
into a real Prometheus with promtool, and running the command as a user does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.processes import Process, free_port, http_ok, require_binary, running

from . import synthetic

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "dashboards" / "prometheus" / "tokentrail-rules.yml"


@dataclass(frozen=True)
class HistoryServer:
    url: str
    history: synthetic.History
    #: the limit of the backfilled company-monthly budget
    budget_limit: float


@pytest.fixture(scope="session")
def history() -> synthetic.History:
    return synthetic.generate()


def budget_limit_for(history: synthetic.History) -> float:
    """1.6 times the month-to-date spend: the month at its current pace runs it out."""
    return round(1.6 * history.cost(synthetic.MONTH_START, synthetic.END), 2)


@pytest.fixture(scope="session")
def history_prometheus(
    tmp_path_factory: pytest.TempPathFactory, history: synthetic.History
) -> Iterator[HistoryServer]:
    promtool = require_binary("promtool", "apt-get install prometheus")
    binary = require_binary("prometheus", "apt-get install prometheus")
    work = tmp_path_factory.mktemp("history-prometheus")
    limit = budget_limit_for(history)
    files = []
    for i, text in enumerate(synthetic.openmetrics(history, limit)):
        path = work / f"day-{i:02d}.om"
        path.write_text(text)
        files.append(path)
    data = work / "data"

    def backfill(path: Path) -> None:
        subprocess.run(
            [promtool, "tsdb", "create-blocks-from", "openmetrics", "-q", str(path), str(data)],
            check=True,
            capture_output=True,
            timeout=120,
        )

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(backfill, files))
    # the dashboards' recording rules are loaded: the report must give the same answers with
    # them as without (it reads only raw series)
    config = work / "prometheus.yml"
    config.write_text(yaml.safe_dump({"rule_files": [str(RULES)]}))
    address = f"127.0.0.1:{free_port()}"
    argv = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={data}",
        "--storage.tsdb.retention.time=100y",
        f"--web.listen-address={address}",
        "--log.level=warn",
    ]
    process = Process("prometheus (history)", argv, work / "prometheus.log")
    with running(process, lambda: http_ok(f"http://{address}/-/ready")):
        yield HistoryServer(f"http://{address}", history, limit)


def tokentrail(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``tokentrail ARGS`` in a subprocess, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "tokentrail.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200"},
    )


def report_json(*args: str) -> dict[str, Any]:
    result = tokentrail("report", "--format", "json", *args)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return json.loads(result.stdout)
