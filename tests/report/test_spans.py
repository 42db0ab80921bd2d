"""Top users and the most expensive calls, read from span files (plain, rotated, gzip'd) in
place with DuckDB: no server, so these run in the quick suite."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tokentrail.cli import main

from .spanfiles import Call, write

pytest.importorskip("duckdb")

T0 = 1_773_000_000.0  # 2026-03-08T20:00:00Z


def run_json(capsys, *args: str) -> dict:
    status = main(["report", "--format", "json", *args])
    out, err = capsys.readouterr()
    assert status == 0, err
    return json.loads(out)


@pytest.fixture
def span_dir(tmp_path: Path) -> Path:
    """Three files as a rotated exporter leaves them: the live file, an older rotated one and
    a gzip'd rotated one; plus an unrelated file that a directory listing must skip."""
    directory = tmp_path / "spans"
    directory.mkdir()
    calls = []
    for i in range(300):
        user = f"u-{i % 7}" if i % 10 else None
        calls.append(Call(T0 + i * 60, round(0.001 * (i % 7 + 1), 6), user))
    calls.append(Call(T0 + 10, 0.75, "u-whale", feature="legal", model="claude-sonnet-4",
                      input_tokens=120_000, trace_id="ab" * 16))  # fmt: skip
    calls.append(Call(T0 + 20, None, "u-1", model="ft:gpt-4o-mini:acme"))
    write(directory / "spans-2026-03-08T20-00-00.000.jsonl.gz", calls[:100], per_line=7)
    write(directory / "spans-2026-03-08T21-40-00.000.jsonl", calls[100:200], first_index=100)
    write(directory / "spans.jsonl", calls[200:], first_index=200)
    (directory / "README.txt").write_text("not spans")
    return directory


def test_top_users_and_calls_from_rotated_and_compressed_files(capsys, span_dir: Path):
    report = run_json(
        capsys, "--spans", str(span_dir), "--from", str(T0 - 60), "--to", str(T0 + 6 * 3600)
    )
    users = report["sections"]["top_users"]
    assert users["status"] == "ok"
    assert users["calls"] == 302
    assert users["unpriced_calls"] == 1
    top = users["top"]
    assert top[0]["user_id"] == "u-whale"
    assert top[0]["cost_usd"] == 0.75
    assert top[0]["top_feature"] == "legal"
    expected = {}
    for i in range(300):
        if i % 10:
            expected[f"u-{i % 7}"] = expected.get(f"u-{i % 7}", 0) + round(0.001 * (i % 7 + 1), 6)
    assert {u["user_id"]: u["cost_usd"] for u in top[1:]} == pytest.approx(expected)
    calls = report["sections"]["top_calls"]["calls"]
    assert calls[0]["trace_id"] == "ab" * 16
    assert calls[0]["input_tokens"] == 120_000
    assert [c["cost_usd"] for c in calls] == sorted((c["cost_usd"] for c in calls), reverse=True)
    assert len(calls) == 10
    assert report["sources"]["spans"]["calls"] == 302
    assert len(report["sources"]["spans"]["files"]) == 3
    # without Prometheus, the aggregate sections say why they are missing
    assert report["sections"]["totals"]["status"] == "omitted"
    assert "--prometheus" in report["sections"]["totals"]["reason"]


def test_the_range_applies_to_spans(capsys, span_dir: Path):
    report = run_json(
        capsys, "--spans", str(span_dir / "spans.jsonl"), "--from", str(T0 + 250 * 60),
        "--to", str(T0 + 260 * 60), "--top", "3",
    )  # fmt: skip
    assert report["sections"]["top_users"]["calls"] == 11  # minutes 250..260, both ends
    assert len(report["sections"]["top_calls"]["calls"]) == 3


def test_globs_pick_files(capsys, span_dir: Path):
    report = run_json(
        capsys, "--spans", str(span_dir / "*.gz"), "--from", str(T0 - 60), "--to", str(T0 + 7200)
    )
    assert report["sources"]["spans"]["calls"] == 100


def test_zstd_compressed_files(capsys, tmp_path: Path):
    zstd = shutil.which("zstd")
    if zstd is None:
        pytest.skip("no zstd command to compress the file with")
    plain = write(tmp_path / "spans.jsonl", [Call(T0 + i, 0.01, f"u-{i % 3}") for i in range(30)])
    subprocess.run([zstd, "-q", "--rm", str(plain)], check=True)
    report = run_json(
        capsys, "--spans", str(tmp_path / "spans.jsonl.zst"), "--from", str(T0 - 1),
        "--to", str(T0 + 60),
    )  # fmt: skip
    assert report["sections"]["top_users"]["calls"] == 30
