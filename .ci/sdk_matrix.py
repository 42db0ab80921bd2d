"""Run each instrumented SDK's tests at the oldest version tokentrail supports.

The default test run (``.venv``, ``pip install -e ".[dev]"``) has the newest release of every
SDK. This covers the other end of each supported range: one plain venv per row of ``OLDEST``,
with tokentrail, the ``test`` extra and that SDK pinned, and nothing else: no other SDK, so a
provider's tests also show that tokentrail works with that SDK alone. Plain venvs rather than
nox, made with uv when it is installed (as ``.ci/run`` does: seconds instead of a minute per
venv), else with ``python -m venv`` and pip. The venvs are kept in ``.venvs/`` and reused while
their pin is unchanged.

    python3 .ci/sdk_matrix.py                      # every row
    python3 .ci/sdk_matrix.py anthropic            # one SDK at its oldest version
    python3 .ci/sdk_matrix.py anthropic==1.13.0    # any version (e.g. to find a new oldest)
    python3 .ci/sdk_matrix.py openai -- -x -k stream    # arguments after -- go to pytest

A new SDK is one row: its distribution, its extra, the oldest version (the same as the extra,
the instrumentor's ``_instruments`` and the README), and its tests.
"""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
VENVS = ROOT / ".venvs"


class Cell(NamedTuple):
    distribution: str
    extra: str
    oldest: str
    #: pytest arguments: paths and node ids of the tests that exercise this SDK
    tests: tuple[str, ...]


def provider_tests(package: str, module: str) -> tuple[str, ...]:
    """The provider's instrumentation tests, the span and metric contract (which runs for the
    providers installed) and its cases of the per-provider unit tests."""
    return (
        f"tests/instrumentation/{package}",
        "tests/contract/test_span_contract.py",
        "tests/contract/test_metrics_contract.py",
        f"tests/unit/test_zero_code.py::test_the_entry_point_instruments_the_app[{package}]",
        f"tests/unit/test_zero_code.py::test_disabled_by_the_otel_variable[{package}]",
        f"tests/unit/test_deferred_patching.py::test_instrument_imports_nothing_heavy[{module}]",
    )


OLDEST = [
    Cell("openai", "openai", "1.66.0", (
        *provider_tests("openai", "openai"),
        "tests/unit/budgets/test_blocking.py",  # blocking budgets, through the openai SDK
    )),
    Cell("anthropic", "anthropic", "1.0.0", provider_tests("anthropic", "anthropic")),
    Cell("google-genai", "gemini", "1.50.0", provider_tests("google_genai", "google.genai")),
    Cell("boto3", "bedrock", "1.37.24", provider_tests("bedrock", "boto3")),
    Cell("mistralai", "mistralai", "1.1.0", provider_tests("mistralai", "mistralai")),
    Cell("litellm", "litellm", "1.100.0", (
        *provider_tests("litellm", "litellm"),
        # its comparison with LiteLLM's own prices reads the newest LiteLLM's cost map
        "--ignore=tests/instrumentation/litellm/test_response_cost.py",
    )),
]  # fmt: skip


def select(names: list[str]) -> list[tuple[Cell, str]]:
    """(cell, version) for each name (``openai`` or ``openai==1.92.0``); every cell if none."""
    if not names:
        return [(cell, cell.oldest) for cell in OLDEST]
    chosen = []
    for name in names:
        distribution, _, version = name.partition("==")
        cell = next((c for c in OLDEST if c.distribution == distribution), None)
        if cell is None:
            sys.exit(f"sdk_matrix: no row for {distribution!r} (known: "
                     f"{', '.join(c.distribution for c in OLDEST)})")  # fmt: skip
        chosen.append((cell, version or cell.oldest))
    return chosen


def _has_uv() -> bool:
    return importlib.util.find_spec("uv") is not None


def environment(cell: Cell, version: str) -> Path:
    """A venv with tokentrail[extra,test] and the SDK at ``version``, made once."""
    venv = VENVS / f"{cell.distribution}-{version}"
    python = venv / "bin" / "python"
    stamp = venv / "tokentrail-pin.txt"
    pin = f"{cell.distribution}=={version}"
    # a changed pyproject (extras, entry points) makes the venv anew
    key = f"{pin} {hashlib.sha256((ROOT / 'pyproject.toml').read_bytes()).hexdigest()}"
    if stamp.exists() and stamp.read_text() == key:
        return python
    packages = ["-e", f"{ROOT}[{cell.extra},test]", pin]
    if _has_uv():
        uv = [sys.executable, "-m", "uv"]
        subprocess.run([*uv, "venv", "-q", "--clear", "--python", sys.executable, str(venv)],
                       check=True)  # fmt: skip
        subprocess.run([*uv, "pip", "install", "-q", "--python", str(python), *packages],
                       check=True)  # fmt: skip
    else:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *packages],
            check=True,
        )
    stamp.write_text(key)
    return python


def main(argv: list[str]) -> int:
    names, pytest_args = argv, []
    if "--" in argv:
        at = argv.index("--")
        names, pytest_args = argv[:at], argv[at + 1 :]
    results = []
    for cell, version in select(names):
        print(f"\n== {cell.distribution}=={version}", flush=True)
        started = time.monotonic()
        python = environment(cell, version)
        installed = time.monotonic()
        tests = subprocess.run(
            [str(python), "-m", "pytest", "-p", "no:cacheprovider", *cell.tests, *pytest_args],
            cwd=ROOT,
        )
        done = time.monotonic()
        results.append((cell.distribution, version, tests.returncode, installed - started,
                        done - installed))  # fmt: skip
    print("\nsdk matrix (environment s / tests s):")
    for distribution, version, code, setup, run in results:
        verdict = "ok" if code == 0 else f"FAILED ({code})"
        print(f"  {distribution}=={version}: {verdict}  {setup:.0f} / {run:.0f}")
    return 0 if all(code == 0 for _, _, code, _, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
