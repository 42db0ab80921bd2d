"""The HTML report is one self-contained file that a browser renders with its charts: opened
from disk in headless Chromium, with the network off, its screenshot shows the charts' colours
(not a blank page). ``TOKENTRAIL_UPDATE_SCREENSHOT=1`` also copies the screenshot to
docs/img/report.png (the README's picture)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.processes import require_binary

from . import synthetic as s
from .conftest import REPO, HistoryServer, tokentrail
from .spanfiles import Call, write

pytestmark = pytest.mark.e2e

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
]
ACCENT = (0x25, 0x63, 0xEB)  # the trend line (render/charts.py)
ALERT = (0xDC, 0x26, 0x26)  # anomaly markers


def spans_of_the_week(path: Path) -> Path:
    users = [f"user-{i:03d}" for i in range(40)]
    calls = [
        Call(
            s.END - s.WEEK + i * 300,
            round(0.002 + 0.0004 * (i % 17) + (0.9 if i % 997 == 0 else 0), 6),
            users[(i * 13 + i // 5) % len(users)],
            feature=("search", "chat", "summarize", "agents", "legal")[i % 5],
            model=("gpt-4o-mini", "gpt-4o", "gpt-4o-mini", "gpt-4o", "claude-sonnet-4")[i % 5],
            trace_id=f"{(i + 1) * 7919:032x}",
        )
        for i in range(2016)
    ]
    return write(path, calls)


def rgb_pixels(picture) -> list[tuple[int, ...]]:
    data = picture.convert("RGB").tobytes()
    return [tuple(data[i : i + 3]) for i in range(0, len(data), 3)]


def near(pixel: tuple[int, ...], colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


def test_html_renders_offline_with_charts(history_prometheus: HistoryServer, tmp_path: Path):
    image = pytest.importorskip("PIL.Image")
    chromium = require_binary("chromium", "apt-get install chromium")
    html = tmp_path / "report.html"
    result = tokentrail(
        "report", "--prometheus", history_prometheus.url,
        "--spans", str(spans_of_the_week(tmp_path / "spans.jsonl")),
        "--from", "2026-03-11", "--to", "2026-03-18", "--monthly-budget", "3000",
        "--format", "html", "--output", str(html),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    text = html.read_text()
    # self-contained: nothing to fetch, nothing to run
    for needle in ("<script", "<link", "@import"):
        assert needle not in text
    assert not re.search(r"url\((?!#)", text), "a url() that is not a reference inside the page"
    references = re.findall(r'(?:src|href)="([^"]*)"', text)
    assert all(ref.startswith(("#", "data:")) for ref in references), references
    assert text.count("<svg") == 4

    shot = tmp_path / "report.png"
    subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium'}",
         "--window-size=1280,2600", f"--screenshot={shot}", html.as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    pixels = rgb_pixels(image.open(shot))
    assert len(set(pixels)) > 500, "the page looks blank"
    accent = sum(near(p, ACCENT) for p in pixels)
    alert = sum(near(p, ALERT) for p in pixels)
    assert accent > 2000, f"the trend charts did not render ({accent} blue pixels)"
    assert alert > 20, f"no anomaly marker ({alert} red pixels)"
    if os.environ.get("TOKENTRAIL_UPDATE_SCREENSHOT"):
        shutil.copy(shot, REPO / "docs" / "img" / "report.png")


def test_png_charts(history_prometheus: HistoryServer, tmp_path: Path):
    image = pytest.importorskip("PIL.Image")
    result = tokentrail(
        "report", "--prometheus", history_prometheus.url, "--from", "2026-03-11",
        "--to", "2026-03-18", "--png", str(tmp_path / "charts"), "--format", "markdown",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# tokentrail cost report")
    names = sorted(p.name for p in (tmp_path / "charts").iterdir())
    assert names == ["cost-by-feature.png", "cost-trend.png", "efficiency.png", "projection.png"]
    for name in names:
        picture = image.open(tmp_path / "charts" / name)
        assert picture.size[0] >= 1000
        assert len(set(rgb_pixels(picture))) > 100, f"{name} is blank"
