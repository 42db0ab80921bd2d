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


def pixels(picture):
    """The picture as an (n, 3) array of RGB values."""
    numpy = pytest.importorskip("numpy")
    return numpy.asarray(picture.convert("RGB"), dtype=numpy.int16).reshape(-1, 3)


def distinct(rgb) -> int:
    return len({tuple(p) for p in rgb[:: max(1, len(rgb) // 200_000)]})


def near(rgb, colour: tuple[int, int, int], tolerance: int = 40) -> int:
    """How many pixels are within ``tolerance`` of ``colour`` on every channel."""
    return int((abs(rgb - colour) <= tolerance).all(axis=1).sum())


@pytest.fixture(scope="module")
def rendered(history_prometheus: HistoryServer, tmp_path_factory: pytest.TempPathFactory):
    """One report run: the HTML file and the PNG charts of the synthetic week, with spans."""
    work = tmp_path_factory.mktemp("html")
    html, charts = work / "report.html", work / "charts"
    result = tokentrail(
        "report", "--prometheus", history_prometheus.url,
        "--spans", str(spans_of_the_week(work / "spans.jsonl")),
        "--from", "2026-03-11", "--to", "2026-03-18", "--monthly-budget", "3000",
        "--format", "html", "--output", str(html), "--png", str(charts),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return html, charts


def test_html_renders_offline_with_charts(rendered, tmp_path: Path):
    image = pytest.importorskip("PIL.Image")
    chromium = require_binary("chromium", "apt-get install chromium")
    html, _ = rendered
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
    rgb = pixels(image.open(shot))
    assert distinct(rgb) > 500, "the page looks blank"
    accent, alert = near(rgb, ACCENT), near(rgb, ALERT)
    assert accent > 2000, f"the trend charts did not render ({accent} blue pixels)"
    assert alert > 20, f"no anomaly marker ({alert} red pixels)"
    if os.environ.get("TOKENTRAIL_UPDATE_SCREENSHOT"):
        shutil.copy(shot, REPO / "docs" / "img" / "report.png")


def test_png_charts(rendered):
    image = pytest.importorskip("PIL.Image")
    _, charts = rendered
    names = sorted(p.name for p in charts.iterdir())
    assert names == ["cost-by-feature.png", "cost-trend.png", "efficiency.png", "projection.png"]
    for name in names:
        picture = image.open(charts / name)
        assert picture.size[0] >= 1000
        assert distinct(pixels(picture)) > 100, f"{name} is blank"
