"""Zero-code use with Gemini: ``opentelemetry-instrument`` finds the ``tokentrail_google_genai``
entry point, and ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`` turns it off."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

INSTRUMENT = shutil.which("opentelemetry-instrument", path=str(Path(sys.executable).parent))
APP = """
from tokentrail.fakes.google_genai import FakeGemini

client = FakeGemini().client()
client.models.generate_content(model="gemini-2.5-flash", contents="Hello from zero-code")
"""


def _run(tmp_path: Path, **env: str) -> str:
    if INSTRUMENT is None:
        pytest.fail("opentelemetry-instrument is missing: install the dev extra")
    app = tmp_path / "app.py"
    app.write_text(APP)
    environ = {
        **os.environ,
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_SERVICE_NAME": "zero-code-gemini",
        **env,
    }
    environ.pop("TOKENTRAIL_STRICT", None)
    result = subprocess.run(
        [INSTRUMENT, sys.executable, str(app)],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_entry_point_instruments_gemini(tmp_path):
    out = _run(tmp_path)
    assert '"name": "generate_content gemini-2.5-flash"' in out
    assert '"gen_ai.provider.name": "gcp.gemini"' in out
    assert '"gen_ai.usage.cost"' in out


def test_disabled_by_the_otel_variable(tmp_path):
    out = _run(tmp_path, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="tokentrail_google_genai")
    assert "generate_content gemini-2.5-flash" not in out
