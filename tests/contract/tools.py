"""Run promtool / amtool from tests, failing with the tool's own output."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest


def run(*cmd: str | Path, context: str = "") -> str:
    """Run a command; fail the test with its output (and context) unless it exits 0.
    Returns stdout."""
    if shutil.which(str(cmd[0])) is None:
        pytest.fail(f"{cmd[0]} is missing: apt-get install prometheus prometheus-alertmanager")
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, cmd))} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
            f"{context}",
            pytrace=False,
        )
    return proc.stdout


def check_promql(exprs: list[tuple[str, str]]) -> None:
    """Parse (name, PromQL) pairs with `promtool check rules`, as recording rules."""
    rules = {
        "groups": [
            {
                "name": "parse-check",
                "rules": [{"record": f"check:q{i}", "expr": e} for i, (_, e) in enumerate(exprs)],
            }
        ]
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "exprs.yml"
        path.write_text(json.dumps(rules))  # JSON is YAML
        index = "\n".join(f"check:q{i} = {name}: {e}" for i, (name, e) in enumerate(exprs))
        run("promtool", "check", "rules", path, context=f"\nqueries:\n{index}")
