"""Zero-code use: ``opentelemetry-instrument python app.py`` finds tokentrail through its entry
point, and ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`` turns it off."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).parents[2] / "examples" / "zero-code" / "main.py"
INSTRUMENT = shutil.which("opentelemetry-instrument", path=str(Path(sys.executable).parent))


def _run(**env):
    if INSTRUMENT is None:
        pytest.fail("opentelemetry-instrument is missing: install the dev extra")
    environ = {
        **os.environ,
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_SERVICE_NAME": "zero-code-test",
        "OPENAI_API_KEY": "",
        **env,
    }
    environ.pop("TOKENTRAIL_STRICT", None)
    result = subprocess.run(
        [INSTRUMENT, sys.executable, str(EXAMPLE)],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_entry_point_instruments_the_app():
    out = _run()
    assert '"name": "chat gpt-4o-mini"' in out
    assert '"gen_ai.usage.cost"' in out
    assert '"tokentrail.feature": "release-notes"' in out


def test_disabled_by_otel_variable():
    out = _run(OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="tokentrail_openai")
    assert "gen_ai.usage.cost" not in out
    assert "chat gpt-4o-mini" not in out
